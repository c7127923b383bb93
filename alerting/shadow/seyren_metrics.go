package shadow

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// registerSeyren adds the Seyren side's self-metrics, keeping the
// existing ones on a reload.
func (m *metrics) registerSeyren(reg prometheus.Registerer) {
	m.seyrenRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "copenhagen_shadow_seyren_requests_total",
		Help: "Requests to Seyren's API (shadow.seyren_url), by result (ok, http_error, not_found, network_error, timeout, bad_json, too_large, cancelled).",
	}, []string{"result"})
	m.seyrenComparisons = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "copenhagen_shadow_seyren_comparisons_total",
		Help: "Seyren's reported check state compared with another side (promql, emulator), by check and result.",
	}, []string{"check_id", "against", "result"})
	m.seyrenTruncated = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "copenhagen_shadow_seyren_history_truncated_total",
		Help: "Alert history reads from Seyren cut by the page or row bounds.",
	})
	register := func(c prometheus.Collector) prometheus.Collector {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				return are.ExistingCollector
			}
		}
		return c
	}
	m.seyrenRequests = register(m.seyrenRequests).(*prometheus.CounterVec)
	m.seyrenComparisons = register(m.seyrenComparisons).(*prometheus.CounterVec)
	m.seyrenTruncated = register(m.seyrenTruncated).(prometheus.Counter)
	for _, k := range seyrenKinds {
		m.seyrenRequests.WithLabelValues(k)
	}
}
