package statsd

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// Values of the type label of the line and sample counters, indexed by
// lineTypeIndex.
var lineTypeLabels = [...]string{"c", "g", "ms", "h", "d", "s", "event", "service_check"}

const (
	numLineTypes     = len(lineTypeLabels)
	idxEvent         = 6
	idxServiceCheck  = 7
	tagDropNoValue   = "no_value"
	metricTypesCount = 6 // c..s, the types that carry samples
)

// lineTypeIndex maps a metric Type to its label index.
func lineTypeIndex(t Type) int { return int(t) - 1 }

// Metrics are the StatsD parser's self-metrics. One Metrics is shared by
// all Processors; each Processor counts locally and adds its counts here in
// FlushStats, so the hot path never touches a shared cache line.
type Metrics struct {
	// LinesReceived counts accepted lines by type (c, g, ms, h, d, s,
	// event, service_check). Lines seen = received + rejected.
	LinesReceived *prometheus.CounterVec
	// LinesRejected counts rejected lines by ParseError.Reason.
	LinesRejected *prometheus.CounterVec
	// SamplesReceived counts values on the wire by type: a packed
	// "name:1:2:3|ms" line is three samples. It is not scaled by the sample
	// rate.
	SamplesReceived *prometheus.CounterVec
	// TagsDropped counts tags of accepted lines that yield no label
	// (reason no_value: "|#flag", "k:", "k="), which statsd_exporter
	// counted as tag errors.
	TagsDropped *prometheus.CounterVec
	// LinesDiscarded counts accepted lines that yield no series, by reason:
	// DogStatsD events (dogstatsd_event) and service checks
	// (dogstatsd_service_check) are parsed, relayed and counted here, but
	// Copenhagen translates metrics only.
	LinesDiscarded *prometheus.CounterVec
}

// Reasons of LinesDiscarded.
const (
	DiscardEvent        = "dogstatsd_event"
	DiscardServiceCheck = "dogstatsd_service_check"
)

// NewMetrics creates the self-metrics and registers them with reg (nil:
// not registered, for tests). Every label value is created up front, so the
// series exist at zero and rate() sees the first rejected line.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		LinesReceived: f.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_statsd_lines_received_total",
			Help: "StatsD lines parsed successfully, by type (c, g, ms, h, d, s, event, service_check).",
		}, []string{"type"}),
		LinesRejected: f.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_statsd_lines_rejected_total",
			Help: "StatsD lines rejected as malformed, by reason. Lines around a rejected one are unaffected.",
		}, []string{"reason"}),
		SamplesReceived: f.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_statsd_samples_received_total",
			Help: "Values in accepted StatsD metric lines, by type; each packed value counts (name:1:2:3|ms is 3).",
		}, []string{"type"}),
		TagsDropped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_statsd_tags_dropped_total",
			Help: "Tags of accepted StatsD lines that yield no label, by reason (no_value: |#flag, k:, k=).",
		}, []string{"reason"}),
		LinesDiscarded: f.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_statsd_lines_discarded_total",
			Help: "Accepted StatsD lines that yield no series, by reason (dogstatsd_event, dogstatsd_service_check: only metrics are translated; the relay still forwards them).",
		}, []string{"reason"}),
	}
	m.LinesDiscarded.WithLabelValues(DiscardEvent)
	m.LinesDiscarded.WithLabelValues(DiscardServiceCheck)
	for i, t := range lineTypeLabels {
		m.LinesReceived.WithLabelValues(t)
		if i < metricTypesCount {
			m.SamplesReceived.WithLabelValues(t)
		}
	}
	for _, r := range reasons.All() {
		m.LinesRejected.WithLabelValues(r.Reason)
	}
	m.TagsDropped.WithLabelValues(tagDropNoValue)
	return m
}
