package graphite

import (
	"bytes"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/copenhagen-obs/copenhagen/ingest/reason"
)

// Sink consumes the points a Processor accepts.
type Sink interface {
	// Point is called once per accepted point. p, and every slice it
	// holds, is only valid during the call: the bytes alias the reader's
	// buffer. A Sink that keeps anything must copy it. Calls come from the
	// Processor's single goroutine.
	Point(p *Point)
}

// ProcessorOptions configure a Processor. The zero value is usable.
type ProcessorOptions struct {
	// MaxLineLength rejects longer lines as line_too_long; 0 means no
	// limit (the TCP listener enforces its own).
	MaxLineLength int
	// Logger receives the rate-limited warning about rejections; nil
	// means slog.Default().
	Logger *slog.Logger
	// WarnInterval is the least time between two warnings; 0 means 5s.
	WarnInterval time.Duration
	// Now replaces time.Now, for tests: it stamps points sent without a
	// timestamp or with -1.
	Now func() time.Time
	// MaxFuture rejects points stamped further ahead of Now as
	// too_far_in_future (graphite.max_future); 0 means no bound.
	MaxFuture time.Duration
}

const maxLoggedLine = 256

// Processor splits blocks of plaintext lines (a datagram or complete lines
// from a TCP stream) or takes pickle payloads, parses them and hands the
// points to a Sink.
//
// A Processor belongs to one reader goroutine or connection and is not
// safe for concurrent use; in exchange it counts in plain fields and
// publishes to the shared Metrics only in FlushStats. Bad input never
// stops it: every rejection is counted by reason and the next line or
// element is parsed as if nothing happened.
type Processor struct {
	point  Point
	pickle PickleDecoder
	sink   Sink

	pickleElemFn func(*PickleItem) // p.pickleElem, bound once
	pickleNow    int64

	maxLineLength int
	maxFuture     int64 // milliseconds, 0: no bound
	logger        *slog.Logger
	now           func() time.Time

	received  [2]uint64 // plaintext, pickle
	receivedC [2]prometheus.Counter

	rejections *reason.Counter // by reason, with the rate-limited warning
}

// NewProcessor returns a Processor that feeds sink and counts into m (nil:
// unregistered metrics, for tests).
func NewProcessor(sink Sink, m *Metrics, opts ProcessorOptions) *Processor {
	if m == nil {
		m = NewMetrics(nil)
	}
	p := &Processor{
		sink:          sink,
		maxLineLength: opts.MaxLineLength,
		maxFuture:     opts.MaxFuture.Milliseconds(),
		logger:        opts.Logger,
		now:           opts.Now,
	}
	p.pickleElemFn = p.pickleElem
	if p.logger == nil {
		p.logger = slog.Default()
	}
	every := opts.WarnInterval
	if every <= 0 {
		every = 5 * time.Second
	}
	p.rejections = reason.NewCounter(&reasons, m.PointsRejected, every)
	if p.now == nil {
		p.now = time.Now
	}
	p.receivedC[0] = m.PointsReceived.WithLabelValues(FormatPlaintext)
	p.receivedC[1] = m.PointsReceived.WithLabelValues(FormatPickle)
	return p
}

// Process handles a block of plaintext lines: it splits b on '\n', skips
// blank lines and "\r" line ends, and parses every line on its own. b is
// not retained. Points without a timestamp get the time of the call.
func (p *Processor) Process(b []byte) {
	now := p.now().UnixMilli()
	for len(b) > 0 {
		var ln []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			ln, b = b[:i], b[i+1:]
		} else {
			ln, b = b, nil
		}
		p.processLine(ln, now)
	}
}

// Handle is Process, for the listen package's Handler interface.
func (p *Processor) Handle(b []byte) { p.Process(b) }

// Flush is FlushStats, for the listen package's Flusher interface.
func (p *Processor) Flush() { p.FlushStats() }

func (p *Processor) processLine(ln []byte, now int64) {
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
	if err := p.point.ParseLine(ln, now); err != nil {
		if err == ErrMissingValue {
			if f, _ := nextField(ln); len(f) == 0 {
				return // whitespace only: a blank line
			}
		}
		p.reject(err.(*ParseError), ln)
		return
	}
	if p.tooFarAhead(p.point.Timestamp, now) {
		p.reject(ErrTooFarInFuture, ln)
		return
	}
	p.received[0]++
	p.sink.Point(&p.point)
}

// ProcessPickle handles one pickle payload, without its 4-byte length
// prefix. A payload that is not a carbon list is rejected as a whole
// (bad_pickle); in a good list, each bad element is rejected on its own.
func (p *Processor) ProcessPickle(payload []byte) {
	p.pickleNow = p.now().UnixMilli()
	if err := p.pickle.DecodeFunc(payload, p.pickleElemFn); err != nil {
		p.reject(err.(*ParseError), payload)
	}
}

// pickleElem handles one element of a decoded pickle list.
func (p *Processor) pickleElem(it *PickleItem) {
	if err := p.pickleItem(it, p.pickleNow); err != nil {
		p.reject(err, it.Path)
		return
	}
	p.received[1]++
	p.sink.Point(&p.point)
}

func (p *Processor) pickleItem(it *PickleItem, now int64) *ParseError {
	if it.Err != nil {
		return it.Err
	}
	if err := p.point.ParsePath(it.Path); err != nil {
		return err.(*ParseError)
	}
	if !it.ValueOK {
		return ErrBadValue
	}
	if it.Value != it.Value {
		return ErrNaNValue
	}
	ts, ok := floatTimestamp(it.Timestamp, it.TimestampOK, now)
	if !ok {
		return ErrBadTimestamp
	}
	if p.tooFarAhead(ts, now) {
		return ErrTooFarInFuture
	}
	p.point.Value = it.Value
	p.point.Timestamp = ts
	return nil
}

func (p *Processor) reject(pe *ParseError, ln []byte) {
	p.rejections.Add(pe, ln)
}

// FlushStats publishes the counts gathered since the last call and logs
// the warning about rejections if one is due. Readers call it after every
// batch of reads: one atomic add per non-zero counter per batch.
func (p *Processor) FlushStats() {
	for i, n := range p.received {
		if n != 0 {
			p.receivedC[i].Add(float64(n))
			p.received[i] = 0
		}
	}
	p.rejections.Flush(p.logger, p.now(), "rejected carbon points; counts by reason in copenhagen_graphite_points_rejected_total", "input")
}
