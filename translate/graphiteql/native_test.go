package graphiteql

import (
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/copenhagen-obs/copenhagen/ingest/statsd"
	"github.com/copenhagen-obs/copenhagen/translate/names"
	"github.com/copenhagen-obs/copenhagen/translate/series"
	"github.com/copenhagen-obs/copenhagen/translate/storage"
)

// etsyStats are the statistics etsy statsd 0.9.0 flushes for one timer
// (lib/process_metrics.js), from the observations of one flush in ms.
func etsyStats(obs []float64, flush time.Duration) map[string]float64 {
	v := slices.Clone(obs)
	slices.Sort(v)
	n := len(v)
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	median := v[n/2]
	if n%2 == 0 {
		median = (v[n/2-1] + v[n/2]) / 2
	}
	// Nearest rank: the highest of the round(90% of n) lowest values.
	upper90 := v[int(math.Round(0.9*float64(n)))-1]
	return map[string]float64{
		"upper_90": upper90, "median": median, "mean": sum / float64(n),
		"sum": sum, "count": float64(n), "count_ps": float64(n) / flush.Seconds(),
	}
}

// base is when the test's series are created; flush k is at base + k·flush.
var base = time.UnixMilli(1_800_000_000_000)

// storeTimer sends a StatsD timer through ingestion (translate/series,
// with the mapping's layout) and appends what it stores to st: every
// flush, at base + flush, base + 2·flush ... base + end, observes the same
// values (ms).
func storeTimer(t *testing.T, st *teststorage.TestStorage, m *names.Mapper, timer string, obs []float64, flush, end time.Duration) {
	t.Helper()
	s := series.New(series.Options{Now: func() time.Time { return base }}, nil)
	w := series.NewTranslator(s, m, nil, nil).NewWorker()
	var l statsd.Line
	for at := flush; at <= end; at += flush {
		for _, ms := range obs {
			if err := l.Parse([]byte(timer + ":" + strconv.FormatFloat(ms, 'g', -1, 64) + "|ms")); err != nil {
				t.Fatal(err)
			}
			w.Metric(&l)
		}
		w.Flush()
		app := st.Appender(t.Context())
		if _, err := s.AppendTo(app, base.Add(at).UnixMilli()); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestTimerStatsOnRealEngine evaluates the translations of a timer's
// statistics with the promql engine Copenhagen evaluates rules with, over
// the series ingestion stores for each layout, and compares them with
// what etsy statsd flushes for the same observations. Traffic is steady
// (every flush the same), so count, sum and mean must match; quantiles
// from a native histogram must be within its relative bound, and the
// issue's case (p90 30 ms in buckets 10 ms/100 ms/1 s) must show the 91 ms
// the classic buckets give.
func TestTimerStatsOnRealEngine(t *testing.T) {
	const flush = 10 * time.Second
	spread := func(from, step float64, n int, mul bool) []float64 {
		var v []float64
		x := from
		for i := 0; i < n; i++ {
			v = append(v, x)
			if mul {
				x *= step
			} else {
				x += step
			}
		}
		return v
	}
	for _, tc := range []struct {
		name string
		obs  []float64
		// classicUpper90 is what the classic buckets give for upper_90
		// (0: not checked).
		classicUpper90 float64
	}{
		{"the issue's case: every request 30 ms", spread(30, 0, 10, false), 91},
		{"20 to 40 ms", spread(20, 2, 11, false), 0},
		{"5 ms to 2 s, log-spread", spread(5, 1.35, 21, true), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := etsyStats(tc.obs, flush)
			got := map[string]map[string]float64{}
			for _, file := range []string{"timers_classic.yml", "timers_native.yml", "timers_both.yml"} {
				m := loadMapper(t, file)
				st := teststorage.New(t)
				storeTimer(t, st, m, "shop.api.latency", tc.obs, flush, 6*flush)
				r := NewResolver(m, nil, DefaultOptions())
				eng := storage.NewEngine(storage.Options{})
				got[file] = map[string]float64{}
				for stat := range want {
					target := "stats.timers.shop.api.latency." + stat
					res := Translate(target, r, TranslateOptions{})
					if res.PromQL == "" {
						t.Fatalf("%s with %s: %s", target, file, res.Reason)
					}
					got[file][stat] = evalOne(t, eng, st, res.PromQL, 6*flush)
				}
			}
			l, _ := loadMapper(t, "timers_native.yml").Histogram(nil)
			bound := l.NativeRelativeError()
			for stat, w := range want {
				for _, file := range []string{"timers_native.yml", "timers_both.yml"} {
					g := got[file][stat]
					rel := math.Abs(g-w) / w
					switch stat {
					case "upper_90", "median":
						if rel > bound {
							t.Errorf("%s %s = %v, etsy %v: off by %.1f%%, more than the native bound %.1f%%", file, stat, g, w, rel*100, bound*100)
						}
					default:
						if rel > 1e-9 {
							t.Errorf("%s %s = %v, etsy %v", file, stat, g, w)
						}
					}
				}
				// Both layouts stored: the native histogram is the one read.
				if got["timers_both.yml"][stat] != got["timers_native.yml"][stat] {
					t.Errorf("both layouts: %s = %v, native alone %v", stat, got["timers_both.yml"][stat], got["timers_native.yml"][stat])
				}
				if stat != "upper_90" && stat != "median" && math.Abs(got["timers_classic.yml"][stat]-w)/w > 1e-9 {
					t.Errorf("classic %s = %v, etsy %v", stat, got["timers_classic.yml"][stat], w)
				}
			}
			if tc.classicUpper90 != 0 && math.Abs(got["timers_classic.yml"]["upper_90"]-tc.classicUpper90) > 1e-9 {
				t.Errorf("classic upper_90 = %v, want %v (interpolated in its bucket)", got["timers_classic.yml"]["upper_90"], tc.classicUpper90)
			}
			t.Logf("etsy upper_90 %v: classic %v, native %v", want["upper_90"], got["timers_classic.yml"]["upper_90"], got["timers_native.yml"]["upper_90"])
		})
	}
}

// A glob over unmapped timers stored both ways must read each native
// histogram once, not also the _bucket series its name pattern matches.
func TestNativeGlobSkipsClassicSeries(t *testing.T) {
	m := loadMapper(t, "timers_both.yml")
	st := teststorage.New(t)
	storeTimer(t, st, m, "jobs.run", []float64{30}, 10*time.Second, time.Minute)
	storeTimer(t, st, m, "jobs.sync", []float64{300}, 10*time.Second, time.Minute)
	res := Translate("stats.timers.jobs.*.upper_90", NewResolver(m, nil, DefaultOptions()), TranslateOptions{})
	if res.PromQL == "" {
		t.Fatal(res.Reason)
	}
	v := eval(t, storage.NewEngine(storage.Options{}), st, res.PromQL, time.Minute)
	if len(v) != 2 {
		t.Fatalf("%s: %d series, want jobs_run and jobs_sync only:\n%v", res.PromQL, len(v), v)
	}
	for _, s := range v {
		if name := s.Metric.Get("metric_name"); name != "jobs_run" && name != "jobs_sync" {
			t.Errorf("series %v", s.Metric)
		}
	}
}

func eval(t *testing.T, eng *promql.Engine, st *teststorage.TestStorage, q string, at time.Duration) promql.Vector {
	t.Helper()
	qry, err := eng.NewInstantQuery(t.Context(), st, nil, q, base.Add(at))
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	res := qry.Exec(t.Context())
	if res.Err != nil {
		t.Fatalf("%s: %v", q, res.Err)
	}
	v, err := res.Vector()
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

func evalOne(t *testing.T, eng *promql.Engine, st *teststorage.TestStorage, q string, at time.Duration) float64 {
	t.Helper()
	v := eval(t, eng, st, q, at)
	if len(v) != 1 || v[0].H != nil {
		t.Fatalf("%s: %v, want one float", q, v)
	}
	return v[0].F
}

// The bound the notes quote (names.HistogramLayout.NativeSchema) must be
// the resolution ingestion really stores for the same factor.
func TestNativeBoundIsIngestionSchema(t *testing.T) {
	for _, factor := range []float64{1.001, 1.02, 1.05, 1.1, 1.5, 2, 4, 300, 65536} {
		f := strconv.FormatFloat(factor, 'g', -1, 64)
		m, err := names.Parse([]byte("defaults:\n  observer_type: histogram\n  histogram_options:\n    native_histogram_bucket_factor: "+f+"\n"), "factor.yml")
		if err != nil {
			t.Fatal(err)
		}
		st := teststorage.New(t)
		storeTimer(t, st, m, "api.latency", []float64{30}, 10*time.Second, 10*time.Second)
		v := eval(t, storage.NewEngine(storage.Options{}), st, "api_latency", 10*time.Second)
		l, _ := m.Histogram(nil)
		if len(v) != 1 || v[0].H == nil {
			t.Fatalf("factor %s: %v, want one native histogram", f, v)
		}
		if v[0].H.Schema != l.NativeSchema() {
			t.Errorf("factor %s: stored schema %d, the notes say %d", f, v[0].H.Schema, l.NativeSchema())
		}
	}
}
