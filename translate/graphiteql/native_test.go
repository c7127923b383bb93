package graphiteql

import (
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/copenhagen-obs/copenhagen/translate/names"
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

// storeTimer writes a StatsD timer the way ingestion stores it under the
// mapping's layout: every flush (at 0, flush, 2·flush ... until end) adds
// the same observations (ms) to a native histogram and/or classic
// _bucket, _count and _sum counters, in seconds.
func storeTimer(t *testing.T, st *teststorage.TestStorage, m *names.Mapper, timer string, obs []float64, flush, end time.Duration) {
	t.Helper()
	res := m.Map(timer, names.Observer)
	l, ok := m.Histogram(res.Rule)
	if !ok {
		t.Fatalf("%s is not a histogram in %s", timer, m.File())
	}
	lbls := func(name string, extra ...string) labels.Labels {
		b := labels.NewScratchBuilder(len(res.Labels) + 2)
		b.Add(labels.MetricName, name)
		for k, v := range res.Labels {
			b.Add(k, v)
		}
		for i := 0; i+1 < len(extra); i += 2 {
			b.Add(extra[i], extra[i+1])
		}
		b.Sort()
		return b.Labels()
	}
	app := st.Appender(t.Context())
	schema := l.NativeSchema()
	counts := map[int]float64{}
	classic := make([]float64, len(l.Classic))
	var n, sum float64
	for at := time.Duration(0); at <= end; at += flush {
		for _, ms := range obs {
			s := ms / 1000
			n++
			sum += s
			// Bucket i of a schema > 0 holds (2^((i-1)/2^schema), 2^(i/2^schema)].
			counts[int(math.Ceil(math.Log2(s)*math.Exp2(float64(schema))))]++
			for i, b := range l.Classic {
				if s <= b {
					classic[i]++
				}
			}
		}
		ts := at.Milliseconds()
		if l.Native() {
			idx := make([]int, 0, len(counts))
			for i := range counts {
				idx = append(idx, i)
			}
			slices.Sort(idx)
			fh := &histogram.FloatHistogram{
				Schema: schema, ZeroThreshold: math.Ldexp(1, -128), Count: n, Sum: sum,
				PositiveSpans: []histogram.Span{{Offset: int32(idx[0]), Length: uint32(idx[len(idx)-1] - idx[0] + 1)}},
			}
			for i := idx[0]; i <= idx[len(idx)-1]; i++ {
				fh.PositiveBuckets = append(fh.PositiveBuckets, counts[i])
			}
			if err := fh.Validate(); err != nil {
				t.Fatal(err)
			}
			if _, err := app.AppendHistogram(0, lbls(res.Name), ts, nil, fh); err != nil {
				t.Fatal(err)
			}
		}
		if len(l.Classic) > 0 {
			for i, b := range l.Classic {
				if _, err := app.Append(0, lbls(res.Name+"_bucket", "le", strconv.FormatFloat(b, 'g', -1, 64)), ts, classic[i]); err != nil {
					t.Fatal(err)
				}
			}
			for name, v := range map[string]float64{"_bucket": n, "_count": n, "_sum": sum} {
				extra := []string{}
				if name == "_bucket" {
					extra = []string{"le", "+Inf"}
				}
				if _, err := app.Append(0, lbls(res.Name+name, extra...), ts, v); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
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
	qry, err := eng.NewInstantQuery(t.Context(), st, nil, q, time.Unix(0, 0).Add(at))
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
