package statsd

import (
	"bytes"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
	"github.com/copenhagen-obs/copenhagen/ingest/reason"
)

// Sink consumes the metric lines a Processor accepts.
type Sink interface {
	// Metric is called once per accepted metric line (never for events,
	// service checks or rejected lines). l, and every slice it holds, is
	// only valid during the call: the Processor parses the next line into
	// the same Line, and the bytes alias the reader's buffer. A Sink that
	// keeps anything must copy it. Calls come from the Processor's single
	// goroutine.
	Metric(l *Line)
}

// ProcessorOptions configure a Processor. The zero value is usable.
type ProcessorOptions struct {
	// MaxLineLength rejects longer lines as line_too_long; 0 means no
	// limit. A UDP datagram bounds a line at 64 KiB and the TCP listener
	// enforces its own limit, so this is for callers that want a tighter
	// bound (e.g. the 8 KiB of the DogStatsD agent's default buffer).
	MaxLineLength int
	// Logger receives the rate-limited warning about rejected lines;
	// nil means slog.Default().
	Logger *slog.Logger
	// WarnInterval is the least time between two warnings; 0 means
	// DefaultWarnInterval.
	WarnInterval time.Duration
	// Now replaces time.Now, for tests.
	Now func() time.Time
}

// DefaultWarnInterval is the least time between two warnings about
// rejected lines from one Processor. Bad lines come in floods (one broken
// deploy sends thousands per second); the counter has the numbers, the log
// only needs an example.
const DefaultWarnInterval = 5 * time.Second

// Processor splits datagrams (or blocks of complete lines from a TCP
// stream) into lines, parses them and hands the metric lines to a Sink.
//
// A Processor belongs to one reader goroutine and is not safe for
// concurrent use; in exchange it needs no locks and counts in plain
// fields, publishing to the shared Metrics only in FlushStats. It
// implements the listen package's Handler and Flusher (Handle, Flush).
type Processor struct {
	line Line
	sink Sink

	maxLineLength int
	logger        *slog.Logger
	now           func() time.Time

	// Local counts since the last FlushStats.
	received    [numLineTypes]uint64
	samples     [metricTypesCount]uint64
	tagsDropped uint64
	discarded   [2]uint64 // events, service checks

	// The shared counters, resolved once so FlushStats does no label lookup.
	receivedC    [numLineTypes]prometheus.Counter
	samplesC     [metricTypesCount]prometheus.Counter
	tagsDroppedC prometheus.Counter
	discardedC   [2]prometheus.Counter

	// Rejections by reason, and the rate-limited warning with the first
	// line rejected since the last one.
	rejections *reason.Counter
	// The rate-limited warning for events and service checks, which are
	// valid but discarded (counted in discarded).
	discards ratelog.Rejections
}

// NewProcessor returns a Processor that feeds sink and counts into m
// (nil: unregistered metrics, for tests).
func NewProcessor(sink Sink, m *Metrics, opts ProcessorOptions) *Processor {
	if m == nil {
		m = NewMetrics(nil)
	}
	p := &Processor{
		sink:          sink,
		maxLineLength: opts.MaxLineLength,
		logger:        opts.Logger,
		now:           opts.Now,
		tagsDroppedC:  m.TagsDropped.WithLabelValues(tagDropNoValue),
		discardedC:    [2]prometheus.Counter{m.LinesDiscarded.WithLabelValues(DiscardEvent), m.LinesDiscarded.WithLabelValues(DiscardServiceCheck)},
	}
	if p.logger == nil {
		p.logger = slog.Default()
	}
	every := opts.WarnInterval
	if every <= 0 {
		every = DefaultWarnInterval
	}
	p.rejections = reason.NewCounter(&reasons, m.LinesRejected, every)
	p.discards.Every = every
	if p.now == nil {
		p.now = time.Now
	}
	for i, t := range lineTypeLabels {
		p.receivedC[i] = m.LinesReceived.WithLabelValues(t)
		if i < metricTypesCount {
			p.samplesC[i] = m.SamplesReceived.WithLabelValues(t)
		}
	}
	return p
}

// Process handles one datagram, or a block of complete lines: it splits b
// on '\n', skips empty lines (a trailing newline, "\r\n" line ends, blank
// lines between metrics), and parses every line on its own, so a bad line
// is counted and costs nothing but itself. b is not retained.
func (p *Processor) Process(b []byte) {
	for len(b) > 0 {
		var ln []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			ln, b = b[:i], b[i+1:]
		} else {
			ln, b = b, nil
		}
		p.processLine(ln)
	}
}

// Handle is Process, for the listen package's Handler interface.
func (p *Processor) Handle(b []byte) { p.Process(b) }

// Flush is FlushStats, for the listen package's Flusher interface.
func (p *Processor) Flush() { p.FlushStats() }

func (p *Processor) processLine(ln []byte) {
	if n := len(ln); n > 0 && ln[n-1] == '\r' {
		ln = ln[:n-1]
	}
	if len(ln) == 0 {
		return
	}
	if p.maxLineLength > 0 && len(ln) > p.maxLineLength {
		p.reject(ErrLineTooLong, ln)
		return
	}
	l := &p.line
	if err := l.Parse(ln); err != nil {
		p.reject(err, ln)
		return
	}
	switch l.Kind {
	case KindEvent:
		p.received[idxEvent]++
		p.discarded[0]++
		p.discards.Add(DiscardEvent, ln)
	case KindServiceCheck:
		p.received[idxServiceCheck]++
		p.discarded[1]++
		p.discards.Add(DiscardServiceCheck, ln)
	default:
		t := lineTypeIndex(l.Type)
		p.received[t]++
		if l.Type == TypeSet {
			p.samples[t] += uint64(len(l.Members))
		} else {
			p.samples[t] += uint64(len(l.Values))
		}
		p.tagsDropped += uint64(l.DroppedTags)
		p.sink.Metric(l)
	}
}

func (p *Processor) reject(err error, ln []byte) {
	pe, ok := err.(*ParseError)
	if !ok { // cannot happen: Parse only returns *ParseError
		pe = ErrBadSection
	}
	p.rejections.Add(pe, ln)
}

// FlushStats publishes the counts gathered since the last call to the
// shared Metrics, and logs the warning about rejected lines if one is due.
// The reader calls it after every batch of reads: one atomic add per
// non-zero counter per batch instead of one per line.
func (p *Processor) FlushStats() {
	for i, n := range p.received {
		if n != 0 {
			p.receivedC[i].Add(float64(n))
			p.received[i] = 0
		}
	}
	for i, n := range p.samples {
		if n != 0 {
			p.samplesC[i].Add(float64(n))
			p.samples[i] = 0
		}
	}
	if p.tagsDropped != 0 {
		p.tagsDroppedC.Add(float64(p.tagsDropped))
		p.tagsDropped = 0
	}
	for i, n := range p.discarded {
		if n != 0 {
			p.discardedC[i].Add(float64(n))
			p.discarded[i] = 0
		}
	}
	if p.discards.Pending() > 0 {
		p.discards.Warn(p.logger, p.now(), "discarded DogStatsD events and service checks: only metrics become series (the relay still forwards them); counts by reason in copenhagen_statsd_lines_discarded_total", "line")
	}
	p.rejections.Flush(p.logger, p.now(), "rejected malformed StatsD lines; counts by reason in copenhagen_statsd_lines_rejected_total", "line")
}
