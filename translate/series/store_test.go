package series

import (
	"bytes"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
)

func reason(err error) string {
	var re *RejectError
	if errors.As(err, &re) {
		return re.Reason
	}
	return ""
}

func TestCollisionsAreRefusedForTheNewcomerOnly(t *testing.T) {
	cases := []struct {
		name         string
		first, then  Spec
		wantRejected string
	}{
		{"histogram then counter on _count", Spec{Name: "api", Kind: KindHistogram, Buckets: []float64{1}}, Spec{Name: "api_count", Kind: KindCounter}, ReasonNameCollision},
		{"counter on _sum then summary", Spec{Name: "api_sum", Kind: KindCounter}, Spec{Name: "api", Kind: KindSummary}, ReasonNameCollision},
		{"gauge on _bucket then histogram", Spec{Name: "lat_bucket", Kind: KindGauge}, Spec{Name: "lat", Kind: KindHistogram}, ReasonNameCollision},
		{"counter then gauge _total (OpenMetrics)", Spec{Name: "hits", Kind: KindCounter}, Spec{Name: "hits_total", Kind: KindGauge}, ReasonNameCollision},
		{"counter then gauge same name", Spec{Name: "x", Kind: KindCounter}, Spec{Name: "x", Kind: KindGauge}, ReasonTypeConflict},
		{"different label sets, same name", Spec{Name: "x", Kind: KindCounter, Labels: labels.FromStrings("a", "1")}, Spec{Name: "x", Kind: KindCounter, Labels: labels.FromStrings("b", "2", "c", "3")}, ""},
		{"summary then gauge quantile-free name", Spec{Name: "s", Kind: KindSummary}, Spec{Name: "s_other", Kind: KindGauge}, ""},
		{"reserved prefix", Spec{Name: "ok", Kind: KindGauge}, Spec{Name: "copenhagen_x", Kind: KindGauge}, ReasonReservedName},
		{"le label on histogram", Spec{Name: "ok", Kind: KindGauge}, Spec{Name: "h", Kind: KindHistogram, Labels: labels.FromStrings("le", "1")}, ReasonInvalidLabel},
		{"invalid utf8 label value", Spec{Name: "ok", Kind: KindGauge}, Spec{Name: "g", Kind: KindGauge, Labels: labels.FromStrings("a", "\xff")}, ReasonInvalidLabel},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := New(Options{}, nil)
			first := c.first
			a, err := s.Get(&first)
			if err != nil {
				t.Fatalf("first: %v", err)
			}
			a.Add(1)
			then := c.then
			_, err = s.Get(&then)
			if got := reason(err); got != c.wantRejected {
				t.Fatalf("reason = %q (%v), want %q", got, err, c.wantRejected)
			}
			// The page stays valid whatever was refused.
			parser := expfmt.NewTextParser(model.LegacyValidation)
			var buf bytes.Buffer
			if err := s.WriteTo(&buf, FormatText); err != nil {
				t.Fatal(err)
			}
			if _, err := parser.TextToMetricFamilies(&buf); err != nil {
				t.Fatalf("exposition no longer parses: %v\n%s", err, buf.String())
			}
		})
	}
}

func TestMaxSeriesRefusesNewSeriesAndKeepsOld(t *testing.T) {
	s := New(Options{MaxSeries: 2}, nil)
	for i, n := range []string{"a", "b"} {
		if _, err := s.Get(&Spec{Name: n, Kind: KindCounter}); err != nil {
			t.Fatalf("%d: %v", i, err)
		}
	}
	if _, err := s.Get(&Spec{Name: "c", Kind: KindCounter}); reason(err) != ReasonLimit {
		t.Fatalf("third series: %v, want %s", err, ReasonLimit)
	}
	if _, err := s.Get(&Spec{Name: "a", Kind: KindCounter}); err != nil {
		t.Fatalf("existing series refused: %v", err)
	}
}

func TestTTLExpiresIdleSeriesAndCountsThem(t *testing.T) {
	now := time.Unix(1000, 0)
	reg := prometheus.NewRegistry()
	s := New(Options{Now: func() time.Time { return now }}, reg)
	s.Tick(now)
	idle, _ := s.Get(&Spec{Name: "idle", Kind: KindGauge, TTL: time.Minute})
	busy, _ := s.Get(&Spec{Name: "busy", Kind: KindGauge, TTL: time.Minute})
	forever, _ := s.Get(&Spec{Name: "forever", Kind: KindGauge})
	now = now.Add(50 * time.Second)
	s.Tick(now)
	busy.Set(1)
	busy.touch(s.clock.Load())
	now = now.Add(20 * time.Second)
	s.Flush(now)
	if !idle.Dead() || busy.Dead() || forever.Dead() {
		t.Fatalf("dead: idle %v busy %v forever %v", idle.Dead(), busy.Dead(), forever.Dead())
	}
	if got := testutil.ToFloat64(s.metrics.Expired); got != 1 {
		t.Fatalf("expired counter = %v", got)
	}
	if s.Len() != 2 {
		t.Fatalf("len = %d", s.Len())
	}
	// The name can come back.
	again, err := s.Get(&Spec{Name: "idle", Kind: KindGauge, TTL: time.Minute})
	if err != nil || again == idle {
		t.Fatalf("recreate: %v same=%v", err, again == idle)
	}
}

func TestSetCountsDistinctMembersPerWindow(t *testing.T) {
	s := New(Options{MaxSetSize: 3}, nil)
	set, _ := s.Get(&Spec{Name: "users", Kind: KindSet})
	for _, m := range []uint64{1, 2, 2, 3} {
		set.AddMember(m)
	}
	if set.AddMember(4) {
		t.Fatal("a full set accepted a new member")
	}
	if !set.AddMember(1) {
		t.Fatal("a full set refused a member it holds")
	}
	s.Flush(time.Now())
	if v := set.Value(); v != 3 {
		t.Fatalf("after first window = %v, want 3", v)
	}
	set.AddMember(9)
	s.Flush(time.Now())
	if v := set.Value(); v != 1 {
		t.Fatalf("after second window = %v, want 1", v)
	}
}

// TestExpositionMatchesClientGolang checks that the hand-written encoder
// gives the bytes client_golang gives for the same metrics, in both formats.
func TestExpositionMatchesClientGolang(t *testing.T) {
	s := New(Options{}, nil)
	reg := prometheus.NewRegistry()

	c, _ := s.Get(&Spec{Name: "requests", Kind: KindCounter, Help: "Requests.", Labels: labels.FromStrings("code", "200", "path", `/a"b\c`)})
	c.Add(1234567)
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests", Help: "Requests."}, []string{"code", "path"})
	cv.WithLabelValues("200", `/a"b\c`).Add(1234567)

	ct, _ := s.Get(&Spec{Name: "jobs_total", Kind: KindCounter, Help: "Jobs."})
	ct.Add(3)
	ctc := prometheus.NewCounter(prometheus.CounterOpts{Name: "jobs_total", Help: "Jobs."})
	ctc.Add(3)

	g, _ := s.Get(&Spec{Name: "temp", Kind: KindGauge, Help: "Temp\nwith newline."})
	g.Set(-0.25)
	gc := prometheus.NewGauge(prometheus.GaugeOpts{Name: "temp", Help: "Temp\nwith newline."})
	gc.Set(-0.25)

	buckets := []float64{0.005, 0.1, 1, 2.5, 1e6}
	h, _ := s.Get(&Spec{Name: "latency", Kind: KindHistogram, Help: "Latency.", Buckets: buckets, Labels: labels.FromStrings("route", "x")})
	hv := prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "latency", Help: "Latency.", Buckets: buckets}, []string{"route"})
	for _, v := range []float64{0.001, 0.05, 0.5, 3, 7, 2e6} {
		h.Observe(v, 2)
		hv.WithLabelValues("x").Observe(v)
		hv.WithLabelValues("x").Observe(v)
	}
	reg.MustRegister(cv, ctc, gc, hv)
	// In OpenMetrics the counter "requests" is exposed as client_golang
	// exposes "requests_total" (family requests, type counter, samples
	// requests_total), not as an "unknown" family.
	omReg := prometheus.NewRegistry()
	cvt := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "requests_total", Help: "Requests."}, []string{"code", "path"})
	cvt.WithLabelValues("200", `/a"b\c`).Add(1234567)
	omReg.MustRegister(cvt, ctc, gc, hv)

	for _, f := range []struct {
		format Format
		ct     expfmt.Format
		reg    *prometheus.Registry
	}{{FormatText, expfmt.NewFormat(expfmt.TypeTextPlain), reg}, {FormatOpenMetrics, expfmt.NewFormat(expfmt.TypeOpenMetrics), omReg}} {
		var got, want bytes.Buffer
		if err := s.WriteTo(&got, f.format); err != nil {
			t.Fatal(err)
		}
		mfs, err := f.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		enc := expfmt.NewEncoder(&want, f.ct)
		for _, mf := range mfs {
			if err := enc.Encode(mf); err != nil {
				t.Fatal(err)
			}
		}
		if got.String() != want.String() {
			t.Errorf("format %v differs\n--- got\n%s--- client_golang\n%s", f.format, got.String(), want.String())
		}
	}
}

func TestHandlerServesOpenMetricsWhenAsked(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(Options{}, reg)
	c, _ := s.Get(&Spec{Name: "hits", Kind: KindCounter})
	c.Add(2)
	for _, c := range []struct{ accept, wantType, wantLine string }{
		{"", "text/plain", "hits 2\n"},
		{"application/openmetrics-text;version=1.0.0", "application/openmetrics-text", "# TYPE hits counter\nhits_total 2.0\n"},
	} {
		rec := serve(t, Handler(reg, s), c.accept)
		body := rec.Body.String()
		if !strings.HasPrefix(rec.Header().Get("Content-Type"), c.wantType) || !strings.Contains(body, c.wantLine) {
			t.Errorf("Accept %q: content type %q, body:\n%s", c.accept, rec.Header().Get("Content-Type"), body)
		}
		if !strings.Contains(body, "copenhagen_series_active") {
			t.Errorf("self-metrics missing:\n%s", body)
		}
		if c.wantType == "application/openmetrics-text" && !strings.HasSuffix(body, "# EOF\n") {
			t.Errorf("OpenMetrics body does not end with # EOF")
		}
	}
}

// BenchmarkWriteText measures a /metrics page of 100 000 counter series.
func BenchmarkWriteText(b *testing.B) {
	s := New(Options{}, nil)
	for i := 0; i < 100_000; i++ {
		ser, err := s.Get(&Spec{Name: "requests_total", Kind: KindCounter, Labels: labels.FromStrings("instance", strconv.Itoa(i), "path", "/api/v1/items")})
		if err != nil {
			b.Fatal(err)
		}
		ser.Add(float64(i))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := s.WriteTo(io.Discard, FormatText); err != nil {
			b.Fatal(err)
		}
	}
}
