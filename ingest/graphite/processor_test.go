package graphite

import (
	"bytes"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

type collectSink struct{ got []string }

func (s *collectSink) Point(p *Point) { s.got = append(s.got, describe(p)) }

func newTestProcessor(reg prometheus.Registerer, opts ProcessorOptions) (*Processor, *collectSink, *Metrics) {
	s := &collectSink{}
	m := NewMetrics(reg)
	if opts.Now == nil {
		opts.Now = func() time.Time { return time.UnixMilli(testNow) }
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
	}
	return NewProcessor(s, m, opts), s, m
}

func TestProcessorKeepsGoodLinesAroundBadOnes(t *testing.T) {
	p, s, m := newTestProcessor(nil, ProcessorOptions{MaxLineLength: 64})
	p.Process([]byte("a.b 1 1700000000\r\n\n   \ngarbage\nc.d nan 1700000000\n" +
		strings.Repeat("x", 65) + " 1 1\ne.f 2 1700000001\nlast 3"))
	p.FlushStats()
	want := []string{"a.b||1|1700000000000", "e.f||2|1700000001000", "last||3|NOW"}
	if strings.Join(s.got, " ") != strings.Join(want, " ") {
		t.Fatalf("got %v, want %v", s.got, want)
	}
	for reason, n := range map[string]float64{"missing_value": 1, "nan_value": 1, "line_too_long": 1, "bad_value": 0} {
		if got := testutil.ToFloat64(m.PointsRejected.WithLabelValues(reason)); got != n {
			t.Errorf("rejected{%s} = %v, want %v", reason, got, n)
		}
	}
	if got := testutil.ToFloat64(m.PointsReceived.WithLabelValues(FormatPlaintext)); got != 3 {
		t.Errorf("received = %v", got)
	}
}

func TestProcessorCountsOnlyAtFlush(t *testing.T) {
	p, _, m := newTestProcessor(nil, ProcessorOptions{})
	p.Process([]byte("a 1 1\nb x 1\n"))
	if testutil.ToFloat64(m.PointsReceived.WithLabelValues(FormatPlaintext)) != 0 {
		t.Fatal("counted before FlushStats")
	}
	p.FlushStats()
	p.FlushStats() // idempotent
	if testutil.ToFloat64(m.PointsReceived.WithLabelValues(FormatPlaintext)) != 1 ||
		testutil.ToFloat64(m.PointsRejected.WithLabelValues("bad_value")) != 1 {
		t.Fatal("counts not published")
	}
}

func TestProcessorPickle(t *testing.T) {
	p, s, m := newTestProcessor(nil, ProcessorOptions{})
	for _, f := range []string{"bad_items.p2.pickle", "evil.p2.pickle", "types.p0.pickle"} {
		b, err := os.ReadFile("testdata/pickle/" + f)
		if err != nil {
			t.Fatal(err)
		}
		p.ProcessPickle(b)
	}
	p.FlushStats()
	want := []string{
		"ok.first||1|1700000000000", "list||2|1000", "ok.last||2|1700000001000", // bad_items
		"big.int||1.099511627776e+12|1700000000000", "neg.int||-70000|1700000000000",
		"small.ints||255|1700000000000", "mid.ints||65535|1700000000000", "str.value||3.25|1700000000000",
		"café.中文||0.1|1700000000000", "bool.value||1|1700000000000",
	}
	if strings.Join(s.got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(s.got, "\n"), strings.Join(want, "\n"))
	}
	for reason, n := range map[string]float64{"bad_pickle_item": 3, "bad_pickle": 1, "bad_value": 2} {
		if got := testutil.ToFloat64(m.PointsRejected.WithLabelValues(reason)); got != n {
			t.Errorf("rejected{%s} = %v, want %v", reason, got, n)
		}
	}
	if got := testutil.ToFloat64(m.PointsReceived.WithLabelValues(FormatPickle)); got != float64(len(want)) {
		t.Errorf("received pickle = %v", got)
	}
}

func TestProcessorWarnsRateLimited(t *testing.T) {
	var logs bytes.Buffer
	now := time.UnixMilli(testNow)
	p, _, _ := newTestProcessor(nil, ProcessorOptions{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)), WarnInterval: time.Minute,
		Now: func() time.Time { return now },
	})
	p.Process([]byte("bad\n"))
	p.FlushStats()
	p.Process([]byte("bad2\n"))
	p.FlushStats()
	if n := strings.Count(logs.String(), "rejected carbon points"); n != 1 {
		t.Fatalf("%d warnings within the interval:\n%s", n, logs.String())
	}
	if !strings.Contains(logs.String(), "example_reason=missing_value") {
		t.Fatalf("warning lacks the reason: %s", logs.String())
	}
	now = now.Add(2 * time.Minute)
	p.FlushStats()
	if n := strings.Count(logs.String(), "rejected carbon points"); n != 2 {
		t.Fatalf("%d warnings after the interval", n)
	}
}

func TestMetricsRegisterEveryReason(t *testing.T) {
	reg := prometheus.NewRegistry()
	NewMetrics(reg)
	if n := testutil.CollectAndCount(reg, "copenhagen_graphite_points_rejected_total"); n != len(Reasons()) {
		t.Fatalf("%d rejected series, want %d", n, len(Reasons()))
	}
}
