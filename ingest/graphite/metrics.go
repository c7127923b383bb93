package graphite

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Values of the format label.
const (
	FormatPlaintext = "plaintext"
	FormatPickle    = "pickle"
)

// Metrics are the carbon parser's self-metrics, shared by all Processors;
// each Processor counts locally and adds here in FlushStats.
type Metrics struct {
	// PointsReceived counts accepted points by format (plaintext,
	// pickle). Points seen = received + rejected.
	PointsReceived *prometheus.CounterVec
	// PointsRejected counts rejected lines, pickle elements and whole
	// pickle frames by ParseError.Reason.
	PointsRejected *prometheus.CounterVec
}

// NewMetrics creates the self-metrics and registers them with reg (nil:
// not registered, for tests). Every label value exists from the start, so
// rate() sees the first rejection.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		PointsReceived: f.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_graphite_points_received_total",
			Help: "Carbon points parsed successfully, by format (plaintext, pickle).",
		}, []string{"format"}),
		PointsRejected: f.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_graphite_points_rejected_total",
			Help: "Carbon lines, pickle elements or pickle frames rejected, by reason. Points around a rejected one are unaffected.",
		}, []string{"reason"}),
	}
	m.PointsReceived.WithLabelValues(FormatPlaintext)
	m.PointsReceived.WithLabelValues(FormatPickle)
	for _, r := range reasons.All() {
		m.PointsRejected.WithLabelValues(r.Reason)
	}
	return m
}
