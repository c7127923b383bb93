package relay

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/copenhagen-obs/copenhagen/ingest/sharedmetric"
)

// metrics are shared by every Relay on a Registerer (the StatsD and the
// Graphite relays), told apart by the target label.
type metrics struct {
	sent, failures *prometheus.CounterVec
	dropped        *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		sent: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_relay_lines_sent_total",
			Help: "Lines relayed to a legacy daemon (handed to the kernel).",
		}, []string{"target"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_relay_send_failures_total",
			Help: "Failed send calls or connection attempts to a legacy daemon; the lines lost are in copenhagen_relay_dropped_total{reason=\"send_error\"}.",
		}, []string{"target"}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_relay_dropped_total",
			Help: "Lines not relayed to a legacy daemon, by reason.",
		}, []string{"target", "reason"}),
	}
	if reg == nil {
		return m, nil
	}
	var err error
	if m.sent, err = sharedmetric.Register(reg, m.sent); err != nil {
		return nil, err
	}
	if m.failures, err = sharedmetric.Register(reg, m.failures); err != nil {
		return nil, err
	}
	if m.dropped, err = sharedmetric.Register(reg, m.dropped); err != nil {
		return nil, err
	}
	return m, nil
}
