package series

import (
	"bytes"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/copenhagen-obs/copenhagen/ingest/statsd"
	"github.com/copenhagen-obs/copenhagen/translate/names"
)

func feed(t testing.TB, w *Worker, lines ...string) {
	t.Helper()
	var l statsd.Line
	for _, text := range lines {
		if err := l.Parse([]byte(text)); err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		w.Metric(&l)
	}
	w.Flush()
}

func exposition(t testing.TB, s *Store) string {
	t.Helper()
	var buf bytes.Buffer
	if err := s.WriteTo(&buf, FormatText); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func mustMapper(t testing.TB, yml string) *names.Mapper {
	t.Helper()
	m, err := names.Parse([]byte(yml), "test.yml")
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestSetsCountDistinctMembersPerFlushWindow(t *testing.T) {
	s := New(Options{}, nil)
	w := NewTranslator(s, names.Empty(), nil, nil).NewWorker()
	feed(t, w, "users.online:alice|s", "users.online:bob|s", "users.online:alice|s", "users.online:carol|s|#region:eu")
	s.Flush(time.Now())
	out := exposition(t, s)
	for _, want := range []string{"# TYPE users_online gauge\n", "users_online 2\n", `users_online{region="eu"} 1` + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	feed(t, w, "users.online:dave|s")
	s.Flush(time.Now())
	if out := exposition(t, s); !strings.Contains(out, "users_online 1\n") || !strings.Contains(out, `users_online{region="eu"} 0`) {
		t.Errorf("second window:\n%s", out)
	}
}

func TestNegativeCounterIsCountedNotApplied(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(Options{}, reg)
	w := NewTranslator(s, names.Empty(), reg, nil).NewWorker()
	feed(t, w, "hits:5|c", "hits:-2|c", "hits:1|c")
	if out := exposition(t, s); !strings.Contains(out, "hits 6\n") {
		t.Errorf("got\n%s", out)
	}
	if n := testutil.ToFloat64(s.metrics.Rejected.WithLabelValues(ReasonNegativeCount)); n != 1 {
		t.Errorf("negative counter rejections = %v", n)
	}
}

func TestSeriesLimitRefusesAndRecoversAfterExpiry(t *testing.T) {
	reg := prometheus.NewRegistry()
	now := time.Unix(0, 0)
	s := New(Options{MaxSeries: 2, Now: func() time.Time { return now }}, reg)
	s.Tick(now)
	m := mustMapper(t, "defaults:\n  ttl: 1m\nmappings: []\n")
	w := NewTranslator(s, m, reg, nil).NewWorker()
	feed(t, w, "a:1|c", "b:1|c", "c:1|c", "c:1|c")
	if n := testutil.ToFloat64(s.metrics.Rejected.WithLabelValues(ReasonLimit)); n != 2 {
		t.Fatalf("limit rejections = %v, want 2", n)
	}
	now = now.Add(2 * time.Minute)
	s.Tick(now)
	feed(t, w, "a:1|c") // a stays alive
	s.Flush(now.Add(30 * time.Second))
	feed(t, w, "c:1|c")
	out := exposition(t, s)
	if !strings.Contains(out, "c 1\n") || !strings.Contains(out, "a 2\n") || strings.Contains(out, "\nb ") {
		t.Errorf("after expiry of b, c should have been admitted:\n%s", out)
	}
}

func TestExpiredSeriesIsRecreatedForCachedNames(t *testing.T) {
	now := time.Unix(0, 0)
	s := New(Options{Now: func() time.Time { return now }}, nil)
	s.Tick(now)
	w := NewTranslator(s, mustMapper(t, "defaults:\n  ttl: 10s\nmappings: []\n"), nil, nil).NewWorker()
	feed(t, w, "g:5|g")
	s.Flush(now.Add(time.Minute))
	if out := exposition(t, s); strings.Contains(out, "g 5") {
		t.Fatalf("not expired:\n%s", out)
	}
	feed(t, w, "g:7|g")
	if out := exposition(t, s); !strings.Contains(out, "g 7\n") {
		t.Fatalf("the cached name did not come back:\n%s", out)
	}
}

func TestMappingReloadAppliesToCachedNames(t *testing.T) {
	s := New(Options{}, nil)
	tr := NewTranslator(s, names.Empty(), nil, nil)
	w := tr.NewWorker()
	feed(t, w, "api.home.hits:1|c")
	tr.SetMapper(mustMapper(t, "mappings:\n- match: api.*.hits\n  name: api_hits_total\n  labels:\n    page: $1\n"))
	feed(t, w, "api.home.hits:1|c")
	out := exposition(t, s)
	if !strings.Contains(out, `api_hits_total{page="home"} 1`) {
		t.Errorf("new rule not applied:\n%s", out)
	}
}

func TestTagLabelsAndRuleLabels(t *testing.T) {
	s := New(Options{}, nil)
	m := mustMapper(t, `mappings:
- match: shop.orders
  name: orders_total
  labels: {env: prod}
- match: shop.refunds
  name: refunds_total
  honor_labels: true
  labels: {env: prod}
`)
	w := NewTranslator(s, m, nil, nil).NewWorker()
	feed(t, w, "shop.orders:1|c|#env:dev,team:a", "shop.refunds:1|c|#env:dev", "shop.refunds:1|c")
	out := exposition(t, s)
	for _, want := range []string{`orders_total{env="prod",team="a"} 1`, `refunds_total{env="dev"} 1`, `refunds_total{env="prod"} 1`} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in\n%s", want, out)
		}
	}
}

func TestConcurrentWorkersLoseNothing(t *testing.T) {
	s := New(Options{}, nil)
	tr := NewTranslator(s, names.Empty(), nil, nil)
	const workers, perWorker = 4, 20000
	done := make(chan struct{})
	for i := 0; i < workers; i++ {
		go func() {
			defer func() { done <- struct{}{} }()
			w := tr.NewWorker()
			var l statsd.Line
			for j := 0; j < perWorker; j++ {
				_ = l.Parse([]byte(fmt.Sprintf("shared.c%d:1|c", j%10)))
				w.Metric(&l)
				_ = l.Parse([]byte("shared.h:250|ms"))
				w.Metric(&l)
			}
			w.Flush()
		}()
	}
	for i := 0; i < workers; i++ {
		<-done
	}
	out := exposition(t, s)
	for j := 0; j < 10; j++ {
		if want := fmt.Sprintf("shared_c%d %d\n", j, workers*perWorker/10); !strings.Contains(out, want) {
			t.Errorf("missing %q", want)
		}
	}
	if want := fmt.Sprintf("shared_h_count %d\n", workers*perWorker); !strings.Contains(out, want) {
		t.Errorf("missing %q", want)
	}
}

// BenchmarkWorkerSeenNames measures the hot path for names already seen:
// parse a line and update its series. It must not allocate.
func BenchmarkWorkerSeenNames(b *testing.B) {
	for _, bc := range []struct{ name, format string }{
		{"counter", "app.requests.n%d:1|c"},
		{"dogstatsd_tags", "app.requests.n%d:1|c|#route:home,code:200"},
		{"timer_histogram", "api.svc.n%d.response_time:12|ms"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := New(Options{}, nil)
			m := mustMapper(b, "defaults:\n  observer_type: histogram\nmappings:\n- match: api.*.*.response_time\n  name: api_response_time_seconds\n  labels: {svc: $1, route: $2}\n")
			w := NewTranslator(s, m, nil, nil).NewWorker()
			lines := make([][]byte, 1000)
			for i := range lines {
				lines[i] = []byte(fmt.Sprintf(bc.format, i))
			}
			var l statsd.Line
			for _, ln := range lines {
				_ = l.Parse(ln)
				w.Metric(&l)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := l.Parse(lines[i%len(lines)]); err != nil {
					b.Fatal(err)
				}
				w.Metric(&l)
			}
		})
	}
}

// BenchmarkMemoryPerSeries reports the heap held per active counter series
// (store plus one reader's cache) at 1 M series. Run with -benchtime=1x.
func BenchmarkMemoryPerSeries(b *testing.B) {
	const n = 1_000_000
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		s := New(Options{}, nil)
		w := NewTranslator(s, names.Empty(), nil, nil).NewWorker()
		var l statsd.Line
		buf := make([]byte, 0, 64)
		for j := 0; j < n; j++ {
			buf = fmt.Appendf(buf[:0], "app.service%d.requests.n%d:1|c", j%100, j)
			_ = l.Parse(buf)
			w.Metric(&l)
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		if s.Len() != n {
			b.Fatalf("%d series", s.Len())
		}
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-bytes/series")
		runtime.KeepAlive(w)
		runtime.KeepAlive(s)
	}
}

// countingSummary records how many observations reach a summary's quantile
// stream.
type countingSummary struct {
	prometheus.Summary
	n int
}

func (c *countingSummary) Observe(v float64) { c.n++; c.Summary.Observe(v) }

// TestTinySampleRateIsBoundedWork: "@1e-9" stands for a billion
// observations; the count and sum say so exactly, but the quantile stream
// is fed a bounded number of times (statsd_exporter loops a billion times).
func TestTinySampleRateIsBoundedWork(t *testing.T) {
	s := New(Options{}, nil)
	w := NewTranslator(s, names.Empty(), nil, nil).NewWorker()
	feed(t, w, "slow.timer:100|ms")
	ser, err := s.Get(&Spec{Name: "slow_timer", Kind: KindSummary})
	if err != nil {
		t.Fatal(err)
	}
	counting := &countingSummary{Summary: ser.sum}
	ser.sum = counting
	feed(t, w, "slow.timer:100|ms|@0.000000001", "slow.hist:1|h|@0.000000001")
	if counting.n != maxSummaryWeight {
		t.Fatalf("quantile stream got %d observations, want %d", counting.n, maxSummaryWeight)
	}
	out := exposition(t, s)
	rate := 0.000000001
	n := uint64(1 / rate) // statsd_exporter's int(1/rate), computed at run time
	want := []string{
		fmt.Sprintf("slow_timer_count %g\n", float64(n+1)),
		fmt.Sprintf("slow_timer_sum %g\n", 0.1*float64(n)+0.1),
		fmt.Sprintf("slow_hist_count %g\n", float64(n)),
	}
	for _, want := range want {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
}
