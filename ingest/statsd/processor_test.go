package statsd

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
)

// seen is a copy of what a Sink received, safe to keep after the call.
type seen struct {
	name   string
	ns     string
	typ    Type
	values string
	tags   string
}

func snapshot(l *Line) seen {
	tags, _ := l.Tags(nil)
	var tb strings.Builder
	for _, t := range tags {
		fmt.Fprintf(&tb, "%s=%s;", t.Key, t.Value)
	}
	var vb strings.Builder
	for _, v := range l.Values {
		fmt.Fprintf(&vb, "%v;", v)
	}
	for _, m := range l.Members {
		fmt.Fprintf(&vb, "%q;", m)
	}
	fmt.Fprintf(&vb, "@%v rel=%v", l.SampleRate, l.Relative)
	return seen{string(l.Name), string(l.NameSection), l.Type, vb.String(), tb.String()}
}

type recordingSink struct{ got []seen }

func (s *recordingSink) Metric(l *Line) { s.got = append(s.got, snapshot(l)) }

type countingSink struct{ n int }

func (s *countingSink) Metric(l *Line) { s.n++ }

// expectation computes, line by line with Parse, what a Processor must
// report for a datagram.
type expectation struct {
	metrics  []seen
	received map[string]float64
	samples  map[string]float64
	rejected map[string]float64
	dropped  float64
}

func expect(t *testing.T, lines [][]byte) expectation {
	t.Helper()
	e := expectation{received: map[string]float64{}, samples: map[string]float64{}, rejected: map[string]float64{}}
	var l Line
	for _, ln := range lines {
		ln = bytes.TrimSuffix(ln, []byte("\r"))
		if len(ln) == 0 {
			continue
		}
		if err := l.Parse(ln); err != nil {
			e.rejected[err.(*ParseError).Reason]++
			continue
		}
		switch l.Kind {
		case KindEvent:
			e.received["event"]++
		case KindServiceCheck:
			e.received["service_check"]++
		default:
			e.received[l.Type.String()]++
			e.samples[l.Type.String()] += float64(len(l.Values) + len(l.Members))
			e.dropped += float64(l.DroppedTags)
			e.metrics = append(e.metrics, snapshot(&l))
		}
	}
	return e
}

func checkMetrics(t *testing.T, m *Metrics, e expectation) {
	t.Helper()
	for _, typ := range lineTypeLabels {
		if got := testutil.ToFloat64(m.LinesReceived.WithLabelValues(typ)); got != e.received[typ] {
			t.Errorf("lines_received_total{type=%q} = %v, want %v", typ, got, e.received[typ])
		}
	}
	for _, typ := range lineTypeLabels[:metricTypesCount] {
		if got := testutil.ToFloat64(m.SamplesReceived.WithLabelValues(typ)); got != e.samples[typ] {
			t.Errorf("samples_received_total{type=%q} = %v, want %v", typ, got, e.samples[typ])
		}
	}
	for _, r := range Reasons() {
		if got := testutil.ToFloat64(m.LinesRejected.WithLabelValues(r)); got != e.rejected[r] {
			t.Errorf("lines_rejected_total{reason=%q} = %v, want %v", r, got, e.rejected[r])
		}
	}
	if got := testutil.ToFloat64(m.TagsDropped.WithLabelValues(tagDropNoValue)); got != e.dropped {
		t.Errorf("tags_dropped_total = %v, want %v", got, e.dropped)
	}
	for reason, typ := range map[string]string{DiscardEvent: "event", DiscardServiceCheck: "service_check"} {
		if got := testutil.ToFloat64(m.LinesDiscarded.WithLabelValues(reason)); got != e.received[typ] {
			t.Errorf("lines_discarded_total{reason=%q} = %v, want %v", reason, got, e.received[typ])
		}
	}
}

func checkSeen(t *testing.T, got, want []seen) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("sink got %d metric lines, want %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("metric %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
}

// TestProcessorBadLinesCostNothingElse puts every table case, good and bad,
// into one datagram in alternation with good lines: every good line must
// reach the sink, in order, and every bad one must be counted by reason.
func TestProcessorBadLinesCostNothingElse(t *testing.T) {
	var lines [][]byte
	for i, c := range loadCases(t) {
		lines = append(lines, c.line, []byte(fmt.Sprintf("good.%d:%d|c|#i:%d", i, i, i)))
	}
	for _, variant := range []struct {
		name string
		sep  string
		tail string
	}{
		{"lf", "\n", ""},
		{"trailing lf", "\n", "\n"},
		{"crlf", "\r\n", "\r\n"},
		{"blank lines", "\n\n\r\n", "\n\n"},
	} {
		t.Run(variant.name, func(t *testing.T) {
			d := append(bytes.Join(lines, []byte(variant.sep)), variant.tail...)
			// What Parse says of each line on its own.
			e := expect(t, bytes.Split(d, []byte("\n")))
			if len(e.rejected) < 10 || len(e.metrics) < 200 {
				t.Fatalf("expectation too small: %d reasons, %d metrics", len(e.rejected), len(e.metrics))
			}
			m := NewMetrics(prometheus.NewRegistry())
			sink := &recordingSink{}
			p := NewProcessor(sink, m, ProcessorOptions{Logger: slog.New(slog.DiscardHandler)})
			p.Process(d)
			p.FlushStats()
			checkSeen(t, sink.got, e.metrics)
			checkMetrics(t, m, e)
			// And independently of Parse: every good line arrived, in order.
			next := 0
			for _, s := range sink.got {
				if s.name == fmt.Sprintf("good.%d", next) {
					next++
				}
			}
			if next != len(lines)/2 {
				t.Errorf("%d of %d good lines reached the sink in order", next, len(lines)/2)
			}
		})
	}
}

// TestProcessorDatagramBoundaries feeds the same lines one datagram per
// line and as one block: the results must not depend on how lines are
// batched.
func TestProcessorDatagramBoundaries(t *testing.T) {
	lines := [][]byte{
		[]byte("a:1|c"), []byte("b:NaN|g"), []byte("c:1:2|ms|#x:y"), []byte(""), []byte("_e{1,1}:a|b"),
		[]byte("d,k=v:5|g"), []byte("e:x|s"), []byte("_sc|x|0"), []byte("f:1|c|#flag"),
	}
	e := expect(t, lines)
	m := NewMetrics(nil)
	sink := &recordingSink{}
	p := NewProcessor(sink, m, ProcessorOptions{Logger: slog.New(slog.DiscardHandler)})
	for _, ln := range lines {
		p.Process(ln)
	}
	p.FlushStats()
	checkSeen(t, sink.got, e.metrics)
	checkMetrics(t, m, e)
	if e.received["event"] != 1 || e.received["service_check"] != 1 || e.samples["ms"] != 2 || e.dropped != 1 {
		t.Fatalf("expectation not as the test assumes: %+v", e)
	}
}

func TestProcessorMaxLineLength(t *testing.T) {
	m := NewMetrics(nil)
	sink := &recordingSink{}
	p := NewProcessor(sink, m, ProcessorOptions{MaxLineLength: 10, Logger: slog.New(slog.DiscardHandler)})
	p.Process([]byte("short:1|c\nmuch.too.long:1|c\nexactly10:|c\r\nok:2|g"))
	p.FlushStats()
	if got := testutil.ToFloat64(m.LinesRejected.WithLabelValues("line_too_long")); got != 2 {
		t.Errorf("line_too_long = %v, want 2", got)
	}
	// "exactly10:|c" is 12 bytes: too long, and counted as that, not as
	// its missing value; the '\r' does not count.
	if got := testutil.ToFloat64(m.LinesRejected.WithLabelValues("missing_value")); got != 0 {
		t.Errorf("missing_value = %v, want 0", got)
	}
	if len(sink.got) != 2 || sink.got[0].name != "short" || sink.got[1].name != "ok" {
		t.Errorf("sink got %+v", sink.got)
	}
}

// TestProcessorCountsOnFlush checks that counts reach the shared counters
// only in FlushStats, exactly once, and that Processors sharing Metrics add
// up.
func TestProcessorCountsOnFlush(t *testing.T) {
	m := NewMetrics(nil)
	p1 := NewProcessor(&countingSink{}, m, ProcessorOptions{Logger: slog.New(slog.DiscardHandler)})
	p2 := NewProcessor(&countingSink{}, m, ProcessorOptions{Logger: slog.New(slog.DiscardHandler)})
	p1.Process([]byte("a:1|c\nb:1:2:3|ms\nbad"))
	p2.Handle([]byte("a:1|c"))
	received := m.LinesReceived.WithLabelValues("c")
	if got := testutil.ToFloat64(received); got != 0 {
		t.Fatalf("counted before FlushStats: %v", got)
	}
	p1.FlushStats()
	p1.FlushStats()
	p2.Flush()
	if got := testutil.ToFloat64(received); got != 2 {
		t.Errorf("lines_received_total{c} = %v, want 2", got)
	}
	if got := testutil.ToFloat64(m.SamplesReceived.WithLabelValues("ms")); got != 3 {
		t.Errorf("samples_received_total{ms} = %v, want 3", got)
	}
	if got := testutil.ToFloat64(m.LinesRejected.WithLabelValues("missing_value")); got != 1 {
		t.Errorf("lines_rejected_total{missing_value} = %v, want 1", got)
	}
}

func TestMetricsRegistered(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	n, err := testutil.GatherAndCount(reg,
		"copenhagen_statsd_lines_received_total", "copenhagen_statsd_lines_rejected_total",
		"copenhagen_statsd_samples_received_total", "copenhagen_statsd_tags_dropped_total")
	if err != nil {
		t.Fatal(err)
	}
	// Every label value exists at zero from the start.
	if want := numLineTypes + len(Reasons()) + metricTypesCount + 1; n != want {
		t.Errorf("%d series registered, want %d", n, want)
	}
}

// logRecorder keeps the records a slog.Logger emits.
type logRecorder struct {
	mu      sync.Mutex
	records []slog.Record
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.records = append(r.records, rec.Clone())
	return nil
}
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return r }
func (r *logRecorder) WithGroup(string) slog.Handler      { return r }

func (r *logRecorder) attrs(i int) map[string]string {
	out := map[string]string{}
	r.records[i].Attrs(func(a slog.Attr) bool {
		out[a.Key] = a.Value.String()
		return true
	})
	return out
}

func TestProcessorWarningIsRateLimited(t *testing.T) {
	rec := &logRecorder{}
	now := time.Unix(1000, 0)
	p := NewProcessor(&countingSink{}, nil, ProcessorOptions{
		Logger:       slog.New(rec),
		WarnInterval: 5 * time.Second,
		Now:          func() time.Time { return now },
	})

	// A clean batch logs nothing.
	p.Process([]byte("a:1|c"))
	p.FlushStats()
	if len(rec.records) != 0 {
		t.Fatalf("warning without rejected lines: %v", rec.records)
	}

	// A flood of bad lines over many batches within the interval logs once.
	evil := "evil\x1b[31m\xff\"quoted\"\t:1|c"
	for i := 0; i < 100; i++ {
		p.Process([]byte(evil + "\nok:1|c\nfoo:NaN|g"))
		p.FlushStats()
		now = now.Add(10 * time.Millisecond)
	}
	if len(rec.records) != 1 {
		t.Fatalf("%d warnings within the interval, want 1", len(rec.records))
	}
	a := rec.attrs(0)
	if rec.records[0].Level != slog.LevelWarn || a["example_reason"] != "invalid_utf8" || a["rejected"] != "2" {
		t.Errorf("first warning: level %v, attrs %v", rec.records[0].Level, a)
	}
	if want := `"evil\x1b[31m\xff\"quoted\"\t:1|c"`; a["example_line"] != want {
		t.Errorf("example_line = %s, want %s (quoted, control bytes escaped)", a["example_line"], want)
	}

	// After the interval, the next flush reports what was rejected since.
	now = now.Add(5 * time.Second)
	long := "x" + strings.Repeat("é", 300) + ":1|c|@7"
	p.Process([]byte(long))
	p.FlushStats()
	if len(rec.records) != 2 {
		t.Fatalf("%d warnings after the interval, want 2", len(rec.records))
	}
	a = rec.attrs(1)
	// 198 lines rejected during the quiet period, plus this one.
	if a["rejected"] != "199" || a["example_reason"] != "invalid_utf8" {
		t.Errorf("second warning attrs %v", a)
	}

	now = now.Add(5 * time.Second)
	p.Process([]byte(long))
	p.FlushStats()
	a = rec.attrs(2)
	if a["example_reason"] != "bad_sample_rate" || a["example_line_bytes"] != fmt.Sprint(len(long)) {
		t.Errorf("third warning attrs %v", a)
	}
	ex := a["example_line"]
	if !strings.HasSuffix(ex, `"...`) || strings.Contains(ex, `\x`) || len(ex) > ratelog.MaxExample+10 {
		t.Errorf("long line not truncated on a character boundary: %s", ex)
	}
}

// TestProcessorAllocs: a datagram of good lines, and one with bad lines
// whose warning is not due, cost no allocation, flushing included.
func TestProcessorAllocs(t *testing.T) {
	now := time.Unix(0, 0)
	p := NewProcessor(&countingSink{}, nil, ProcessorOptions{
		Logger: slog.New(slog.DiscardHandler),
		Now:    func() time.Time { return now },
	})
	good := benchDatagram()
	bad := []byte("a:1|c\nfoo:NaN|g\nb:1|c|#x:y\nfoo,bar:1|c\n:1|c\n")
	p.Process(bad)
	p.FlushStats() // the first warning
	for name, d := range map[string][]byte{"good": good, "bad": bad} {
		n := testing.AllocsPerRun(50, func() {
			p.Process(d)
			p.FlushStats()
		})
		if n != 0 {
			t.Errorf("%s datagram: %.1f allocations per datagram", name, n)
		}
	}
}

// TestProcessorCountsDiscardedEvents: DogStatsD events and service checks
// are valid lines that become no series; each is counted by reason and the
// log says so once per interval, with an example.
func TestProcessorCountsDiscardedEvents(t *testing.T) {
	rec := &logRecorder{}
	now := time.Unix(1000, 0)
	m := NewMetrics(nil)
	sink := &countingSink{}
	p := NewProcessor(sink, m, ProcessorOptions{Logger: slog.New(rec), WarnInterval: 5 * time.Second, Now: func() time.Time { return now }})
	for range 3 {
		p.Process([]byte("_e{5,4}:title|text|#env:prod\napi.hits:1|c\n_sc|db.up|2|m:down\n_sc|web.up|0"))
		p.FlushStats()
	}
	if got := testutil.ToFloat64(m.LinesDiscarded.WithLabelValues(DiscardEvent)); got != 3 {
		t.Errorf("lines_discarded_total{reason=%q} = %v, want 3", DiscardEvent, got)
	}
	if got := testutil.ToFloat64(m.LinesDiscarded.WithLabelValues(DiscardServiceCheck)); got != 6 {
		t.Errorf("lines_discarded_total{reason=%q} = %v, want 6", DiscardServiceCheck, got)
	}
	if sink.n != 3 {
		t.Errorf("sink got %d metric lines, want the 3 counters", sink.n)
	}
	if len(rec.records) != 1 {
		t.Fatalf("%d warnings within one interval, want 1", len(rec.records))
	}
	a := rec.attrs(0)
	if a["rejected"] != "3" || a["example_reason"] != DiscardEvent || a["example_line"] != `"_e{5,4}:title|text|#env:prod"` {
		t.Errorf("warning attrs %v", a)
	}
}
