package shadow

import "github.com/prometheus/client_golang/prometheus"

// metrics are the shadow's self-metrics, per check at most.
type metrics struct {
	evaluations   *prometheus.CounterVec
	disagreements *prometheus.CounterVec
	state         *prometheus.GaugeVec
	requests      *prometheus.CounterVec
	duration      prometheus.Histogram

	seyrenRequests    *prometheus.CounterVec
	seyrenComparisons *prometheus.CounterVec
	seyrenTruncated   prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		evaluations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_shadow_evaluations_total",
			Help: "Shadow evaluations of imported Seyren checks, by check and result (agree, disagree, not_comparable).",
		}, []string{"check_id", "result"}),
		disagreements: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_shadow_disagreements_total",
			Help: "Shadow disagreements between Seyren's verdict over graphite-web and Copenhagen's, by check and reason.",
		}, []string{"check_id", "reason"}),
		state: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "copenhagen_shadow_state",
			Help: "Last compared state of each check per side (Seyren's AlertType ordinal: 0 UNKNOWN, 1 OK, 2 WARN, 3 ERROR).",
		}, []string{"check_id", "side"}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_shadow_graphite_requests_total",
			Help: "Renders asked of graphite-web by the shadow, by outcome (ok, timeout, http_error, network_error, bad_json, too_large, cancelled, skipped_busy).",
		}, []string{"outcome"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "copenhagen_shadow_graphite_request_duration_seconds",
			Help:    "Duration of the shadow's graphite-web renders.",
			Buckets: []float64{0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20},
		}),
	}
	for _, o := range []string{"ok", "timeout", "http_error", "network_error", "bad_json", "too_large", "cancelled", "skipped_busy"} {
		m.requests.WithLabelValues(o)
	}
	m.registerSeyren(reg)
	for _, c := range []prometheus.Collector{m.evaluations, m.disagreements, m.state, m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			if are, ok := err.(prometheus.AlreadyRegisteredError); ok {
				// A reload builds a new Shadow: keep counting on the same series.
				switch c.(type) {
				case *prometheus.CounterVec:
					if c == m.evaluations {
						m.evaluations = are.ExistingCollector.(*prometheus.CounterVec)
					} else if c == m.disagreements {
						m.disagreements = are.ExistingCollector.(*prometheus.CounterVec)
					} else {
						m.requests = are.ExistingCollector.(*prometheus.CounterVec)
					}
				case *prometheus.GaugeVec:
					m.state = are.ExistingCollector.(*prometheus.GaugeVec)
				case prometheus.Histogram:
					m.duration = are.ExistingCollector.(prometheus.Histogram)
				}
			}
		}
	}
	return m
}
