// Package statsd parses the StatsD wire format (etsy, DogStatsD, InfluxDB,
// Librato and SignalFX dialects) into Lines, without allocating for the
// common case so that a reader can keep up with millions of lines per second.
//
// A parser turns bytes into Lines and never touches the network or the clock.
//
// Line.Parse parses one line; Line.Tags, the slow path for a series seen for
// the first time, splits its tags. A Processor, one per reader goroutine,
// splits datagrams into lines, hands metric lines to a Sink and counts
// (copenhagen_statsd_lines_received_total{type},
// copenhagen_statsd_lines_rejected_total{reason},
// copenhagen_statsd_samples_received_total{type},
// copenhagen_statsd_tags_dropped_total{reason}) without a shared write per
// line. Parse's doc lists where it deliberately differs from
// statsd_exporter; testdata/lines.txt holds a case for each difference and
// the differential tests check them against the exporter's own parser.
package statsd

// Type is the StatsD metric type of a line, as given after the first '|'.
type Type uint8

// The StatsD metric types Copenhagen understands.
const (
	TypeUnknown      Type = iota
	TypeCounter           // c
	TypeGauge             // g
	TypeTimer             // ms
	TypeHistogram         // h
	TypeDistribution      // d
	TypeSet               // s
)

// String returns the wire spelling of the type ("c", "g", "ms", "h", "d", "s").
func (t Type) String() string {
	switch t {
	case TypeCounter:
		return "c"
	case TypeGauge:
		return "g"
	case TypeTimer:
		return "ms"
	case TypeHistogram:
		return "h"
	case TypeDistribution:
		return "d"
	case TypeSet:
		return "s"
	}
	return "unknown"
}

// Kind tells what a line carried: a metric sample, or one of the DogStatsD
// records that are accepted and counted but carry no series.
type Kind uint8

// Line kinds.
const (
	KindMetric       Kind = iota
	KindEvent             // DogStatsD event: _e{title_len,text_len}:title|text|...
	KindServiceCheck      // DogStatsD service check: _sc|name|status|...
)

// Tag is one label taken from any of the tag dialects. Key and Value alias
// the parsed line (or a parser-owned buffer) and are only valid until the
// next call to Parse on the same Line.
type Tag struct {
	Key, Value []byte
}

// Line is one parsed StatsD line. All byte slices alias the input passed to
// Parse (except Name in one SignalFX case, see nameBuf); the Values and
// Members slices are reused across calls, so a Line must not be retained
// after the next Parse into it. The zero value is ready to use.
type Line struct {
	// Kind is KindMetric for a metric line. Events and service checks are
	// recognised but not parsed further: the other fields carry nothing.
	Kind Kind
	// Name is the metric name with every dialect's tags removed
	// ("api.requests" for "api.requests,host=a:1|c").
	Name []byte
	// NameSection is everything before the first ':' as sent on the wire,
	// including InfluxDB, Librato or SignalFX tags. Together with Type and
	// DogTags it identifies the series a line feeds, so callers can cache
	// mapping results under it without parsing tags on every line. The
	// reverse does not hold: tags in another order, duplicates or dropped
	// tags give other bytes for the same series, so such a cache must map
	// keys to series, not treat each key as one.
	NameSection []byte
	Type        Type
	// Values holds one value per packed sample ("name:1:2:3|ms" gives three);
	// unused for sets.
	Values []float64
	// Members holds the raw set members for TypeSet.
	Members [][]byte
	// Relative is true for gauges whose value started with '+' or '-': the
	// value is then added to the gauge instead of replacing it.
	Relative bool
	// SampleRate is the value of "|@rate", in (0, 1]; 1 when absent. Parse
	// reports it and leaves applying it to the consumer, which knows the
	// type: a counter adds Values[i]/SampleRate; each timer, histogram or
	// distribution value stands for 1/SampleRate observations (statsd_exporter
	// emits int(1/rate) copies: 3 for @0.3, and a billion for @1e-9, so a
	// consumer should weight rather than copy); gauges and sets ignore it.
	SampleRate float64
	// DogTags is the raw DogStatsD tag section after "|#", without the '#'.
	// In the rare line with several "|#" sections (statsd_exporter merges
	// them) it runs from the first tag to the end of the last section and
	// so also contains the sections in between ("a:b|@0.5|#c:d"); Tags
	// skips those. Either way the same bytes always mean the same tags.
	DogTags []byte
	// DroppedTags counts the tags this line carried that yield no label
	// because they have no value: the DogStatsD value-less tag "|#flag", or
	// an empty value ("k:", "k="). Prometheus has no value-less labels and
	// treats an empty value as an absent label, so dropping them is what
	// statsd_exporter does too; the count feeds a self-metric.
	DroppedTags int

	// nameTags is the raw tag list of the name dialect ("k=v,k2=v2" of
	// "name,k=v,k2=v2", "name#k=v" or "name[k=v]"), for Tags.
	nameTags []byte
	// nameBuf holds Name when the SignalFX tags sat in the middle of the
	// name ("foo.[k=v]bar" names "foo.bar"), the one case where Name is
	// not a sub-slice of the input.
	nameBuf []byte
}
