package series

import (
	"bytes"

	"errors"
	"io"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"
	"github.com/prometheus/prometheus/storage"
)

// recorder is a storage.Appender that keeps what it was given.
type recorder struct {
	storage.Appender // nil: only Append is used
	samples          map[string]float64
	ts               map[int64]int
	refuse           func(labels.Labels) error
	zeros            map[string]int64 // series -> start timestamp of its zero
}

func (r *recorder) AppendSTZeroSample(_ storage.SeriesRef, l labels.Labels, t, st int64) (storage.SeriesRef, error) {
	if st >= t {
		return 0, storage.ErrSTNewerThanSample
	}
	r.zeros[l.String()] = st
	return 0, nil
}

func (r *recorder) Append(_ storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	if r.refuse != nil {
		if err := r.refuse(l); err != nil {
			return 0, err
		}
	}
	r.samples[l.String()] = v
	r.ts[t]++
	return 0, nil
}

func newRecorder() *recorder {
	return &recorder{samples: map[string]float64{}, ts: map[int64]int{}, zeros: map[string]int64{}}
}

// exposed parses the store's /metrics text with Prometheus's own scrape
// parser, so the test checks that flushing stores what a Prometheus
// scraping /metrics would have stored.
func exposed(t *testing.T, s *Store) map[string]float64 {
	t.Helper()
	var buf bytes.Buffer
	if err := s.WriteTo(&buf, FormatText); err != nil {
		t.Fatal(err)
	}
	p := textparse.NewPromParser(buf.Bytes(), labels.NewSymbolTable(), false)
	out := map[string]float64{}
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parsing /metrics: %v\n%s", err, buf.String())
		}
		if e != textparse.EntrySeries {
			continue
		}
		var ls labels.Labels
		p.Labels(&ls)
		_, _, v := p.Series()
		out[ls.String()] = v
	}
	return out
}

func TestAppendToStoresWhatMetricsShows(t *testing.T) {
	s := New(Options{}, nil)
	get := func(spec Spec) *Series {
		t.Helper()
		ser, err := s.Get(&spec)
		if err != nil {
			t.Fatal(err)
		}
		return ser
	}
	get(Spec{Name: "hits", Kind: KindCounter, Labels: labels.FromStrings("job", "web", "path", `a"b\c`)}).Add(3)
	get(Spec{Name: "temp", Kind: KindGauge}).Set(-1.5)
	h := get(Spec{Name: "lat", Kind: KindHistogram, Buckets: []float64{0.1, 0.5, 2.5}, Labels: labels.FromStrings("route", "/x")})
	h.Observe(0.05, 2)
	h.Observe(0.3, 1)
	h.Observe(10, 1)
	sm := get(Spec{Name: "size", Kind: KindSummary, Objectives: map[float64]float64{0.5: 0.05, 0.99: 0.001}, MaxAge: time.Minute, AgeBuckets: 2, BufCap: 500})
	for i := range 100 {
		sm.Observe(float64(i), 1)
	}
	set := get(Spec{Name: "users", Kind: KindSet})
	set.AddMember(1)
	set.AddMember(2)
	s.Flush(time.Now())

	rec := newRecorder()
	n, err := s.AppendTo(rec, 1700000000000)
	if err != nil {
		t.Fatal(err)
	}
	want := exposed(t, s)
	if n != len(want) || len(rec.samples) != len(want) {
		t.Errorf("appended %d samples (%d distinct), /metrics shows %d", n, len(rec.samples), len(want))
	}
	for k, v := range want {
		got, ok := rec.samples[k]
		if !ok {
			t.Errorf("missing %s", k)
			continue
		}
		if got != v && !(math.IsNaN(got) && math.IsNaN(v)) {
			t.Errorf("%s = %v, /metrics shows %v", k, got, v)
		}
	}
	for k := range rec.samples {
		if _, ok := want[k]; !ok {
			t.Errorf("appended %s, which /metrics does not show", k)
		}
	}
	if len(rec.ts) != 1 || rec.ts[1700000000000] != n {
		t.Errorf("timestamps %v, want all %d at the flush time", rec.ts, n)
	}
	// Spot checks that do not depend on the parser.
	for k, v := range map[string]float64{
		`{__name__="lat_bucket", le="+Inf", route="/x"}`: 4,
		`{__name__="lat_bucket", le="0.5", route="/x"}`:  3,
		`{__name__="lat_count", route="/x"}`:             4,
		`{__name__="users"}`:                             2,
		`{__name__="size_count"}`:                        100,
	} {
		if rec.samples[k] != v {
			keys := make([]string, 0, len(rec.samples))
			for k := range rec.samples {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Errorf("%s = %v, want %v (have %v)", k, rec.samples[k], v, keys)
		}
	}
}

func TestAppendToSkipsRefusedSamplesAndKeepsTheRest(t *testing.T) {
	s := New(Options{}, nil)
	for _, name := range []string{"a", "b", "c"} {
		ser, err := s.Get(&Spec{Name: name, Kind: KindGauge})
		if err != nil {
			t.Fatal(err)
		}
		ser.Set(1)
	}
	rec := newRecorder()
	rec.refuse = func(l labels.Labels) error {
		if l.Get(labels.MetricName) == "b" {
			return storage.ErrOutOfOrderSample
		}
		return nil
	}
	n, err := s.AppendTo(rec, 1)
	if !errors.Is(err, storage.ErrOutOfOrderSample) {
		t.Fatalf("err = %v, want it to wrap ErrOutOfOrderSample", err)
	}
	if n != 2 || len(rec.samples) != 2 {
		t.Fatalf("appended %d (%v), want a and c", n, rec.samples)
	}

	// Any other error stops the flush: the caller rolls back.
	boom := errors.New("disk full")
	rec = newRecorder()
	rec.refuse = func(labels.Labels) error { return boom }
	if _, err := s.AppendTo(rec, 1); !errors.Is(err, boom) {
		t.Fatalf("err = %v, want %v", err, boom)
	}
}

func BenchmarkAppendTo(b *testing.B) {
	s := New(Options{}, nil)
	for i := range 10000 {
		ser, err := s.Get(&Spec{Name: "bench_gauge", Kind: KindGauge, Labels: labels.FromStrings("i", string(rune('a'+i%26))+string(rune('a'+i/26%26))+string(rune('a'+i/676)))})
		if err != nil {
			b.Fatal(err)
		}
		ser.Set(float64(i))
	}
	var app discard
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.AppendTo(&app, int64(i)); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10000), "ns/sample")
}

// discard is an Appender that only counts, so the benchmark measures
// AppendTo itself.
type discard struct {
	storage.Appender
	n int
}

func (d *discard) Append(storage.SeriesRef, labels.Labels, int64, float64) (storage.SeriesRef, error) {
	d.n++
	return 0, nil
}
