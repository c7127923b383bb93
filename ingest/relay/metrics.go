package relay

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	if m.sent, err = registerShared(reg, m.sent); err != nil {
		return nil, err
	}
	if m.failures, err = registerShared(reg, m.failures); err != nil {
		return nil, err
	}
	if m.dropped, err = registerShared(reg, m.dropped); err != nil {
		return nil, err
	}
	return m, nil
}

// registerShared registers c, or returns the collector of the same kind
// that another Relay already registered.
func registerShared[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("registering relay metrics: %w", err)
}

// logLimiter lets through one log line per interval and counts the rest.
type logLimiter struct {
	every      time.Duration
	next       atomic.Int64 // unix nanoseconds before which lines are suppressed
	suppressed atomic.Int64
}

func newLogLimiter(every time.Duration) *logLimiter { return &logLimiter{every: every} }

// allow reports whether a line may be logged now, and how many were
// suppressed since the last one. Callers check it before building the log
// arguments, which would allocate on every suppressed call.
func (l *logLimiter) allow() (bool, int64) {
	now := time.Now().UnixNano()
	next := l.next.Load()
	if now < next || !l.next.CompareAndSwap(next, now+int64(l.every)) {
		l.suppressed.Add(1)
		return false, 0
	}
	return true, l.suppressed.Swap(0)
}
