package series

import (
	"bufio"
	"math"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	modelhist "github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
)

// TestNativeKeyGolden: observation -> bucket index at a schema, from
// testdata/native_keys.txt (exact powers of the base, their neighbours,
// the extremes), and each index's bounds as model/histogram computes them
// hold the value: Lower < v <= Upper.
func TestNativeKeyGolden(t *testing.T) {
	f, err := os.Open("testdata/native_keys.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	line, cases := 0, 0
	for sc.Scan() {
		line++
		txt := strings.TrimSpace(sc.Text())
		if txt == "" || strings.HasPrefix(txt, "#") {
			continue
		}
		fs := strings.Fields(txt)
		schema, err1 := strconv.Atoi(fs[0])
		v, err2 := strconv.ParseFloat(fs[1], 64)
		want, err3 := strconv.Atoi(fs[2])
		if len(fs) != 3 || err1 != nil || err2 != nil || err3 != nil {
			t.Fatalf("native_keys.txt:%d: bad line %q", line, txt)
		}
		cases++
		for _, sign := range []float64{1, -1} { // negative values use the same index
			if got := nativeKey(sign*v, int32(schema)); got != int32(want) {
				t.Errorf("native_keys.txt:%d: nativeKey(%v, %d) = %d, want %d", line, sign*v, schema, got, want)
			}
		}
		if math.IsInf(v, 0) {
			continue
		}
		h := &modelhist.Histogram{Schema: int32(schema), Count: 1,
			PositiveSpans: []modelhist.Span{{Offset: int32(want), Length: 1}}, PositiveBuckets: []int64{1}}
		it := h.PositiveBucketIterator()
		if !it.Next() {
			t.Fatal("no bucket")
		}
		if b := it.At(); !(b.Lower < v && v <= b.Upper) {
			t.Errorf("native_keys.txt:%d: bucket %d of schema %d is (%v, %v], which does not hold %v", line, want, schema, b.Lower, b.Upper, v)
		}
	}
	if cases < 30 {
		t.Fatalf("only %d cases read", cases)
	}
}

func TestNativeSchemaFromFactor(t *testing.T) {
	for _, tt := range []struct {
		factor float64
		schema int32
	}{
		{1.1, 3}, {2, 0}, {1.5, 1}, {1.4, 2}, {1.01, 7}, {1.2, 2}, {4, -1}, {65536, -4}, {1e9, -4}, {1.0001, 8}, {1.0000001, 8},
		{math.Sqrt2, 1},
	} {
		if got := nativeSchema(tt.factor); got != tt.schema {
			t.Errorf("factor %v: schema %d, want %d", tt.factor, got, tt.schema)
		}
		// client_golang picks the same schema for the same factor.
		ch := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "x", Help: "x", NativeHistogramBucketFactor: tt.factor})
		var m dto.Metric
		if err := ch.Write(&m); err != nil {
			t.Fatal(err)
		}
		if got := m.Histogram.GetSchema(); got != tt.schema {
			t.Errorf("factor %v: client_golang's schema %d, ours %d", tt.factor, got, tt.schema)
		}
	}
}

// expand decodes spans and delta-encoded counts into index -> count,
// leaving out empty buckets (client_golang fills small gaps with them).
func expand[S any](spans []S, deltas []int64, at func(S) (int32, uint32)) map[int32]int64 {
	out := map[int32]int64{}
	var idx int32
	var c int64
	k := 0
	for i, sp := range spans {
		off, n := at(sp)
		if i == 0 {
			idx = off
		} else {
			idx += off
		}
		for j := uint32(0); j < n; j++ {
			c += deltas[k]
			if c != 0 {
				out[idx] = c
			}
			idx++
			k++
		}
	}
	return out
}

func dtoSpan(s *dto.BucketSpan) (int32, uint32)  { return s.GetOffset(), s.GetLength() }
func modelSpan(s modelhist.Span) (int32, uint32) { return s.Offset, s.Length }
func sameBuckets(a, b map[int32]int64) bool      { return len(a) == len(b) && containsAll(a, b) }
func containsAll(a, b map[int32]int64) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestNativeMatchesClientGolang observes the same values into a
// client_golang native histogram and into a series, at every schema: the
// bounds of every schema's table and their float neighbours, zero-bucket
// edges, negatives, NaN and ±Inf, and log-uniform random values. Schema,
// zero bucket, count and every bucket must be the same.
func TestNativeMatchesClientGolang(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var values []float64
	for s := 1; s <= 8; s++ {
		for _, b := range nativeBounds[s] {
			for _, e := range []int{0, 1, -3, 7} {
				v := math.Ldexp(b, e+1)
				values = append(values, v, math.Nextafter(v, 0), math.Nextafter(v, math.Inf(1)))
			}
		}
	}
	for range 2000 {
		v := math.Exp(rng.Float64()*80 - 40)
		if rng.IntN(4) == 0 {
			v = -v
		}
		values = append(values, v)
	}
	values = append(values, 0, nativeZeroThreshold, -nativeZeroThreshold, math.Nextafter(nativeZeroThreshold, 1),
		math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, math.SmallestNonzeroFloat64, 1, 2, 0.5)
	for s := int32(-4); s <= 8; s++ {
		factor := math.Exp2(math.Exp2(-float64(s))) * (1 + 1e-9)
		ch := prometheus.NewHistogram(prometheus.HistogramOpts{Name: "x", Help: "x", Buckets: []float64{},
			NativeHistogramBucketFactor: factor, NativeHistogramMaxBucketNumber: 0})
		st := New(Options{}, nil)
		ser, err := st.Get(&Spec{Name: "x", Kind: KindHistogram, Native: Native{Factor: factor, MaxBuckets: math.MaxUint32}})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range values {
			ch.Observe(v)
			ser.Observe(v, 1)
		}
		var m dto.Metric
		if err := ch.Write(&m); err != nil {
			t.Fatal(err)
		}
		want := m.Histogram
		snap := ser.hist.nativeSnapshot()
		got := snap.histogram()
		if got.Schema != want.GetSchema() || got.Schema != s {
			t.Fatalf("factor %v: schema %d, client_golang %d, want %d", factor, got.Schema, want.GetSchema(), s)
		}
		if got.ZeroCount != want.GetZeroCount() || got.Count != want.GetSampleCount() {
			t.Errorf("schema %d: zero %d count %d, client_golang %d %d", s, got.ZeroCount, got.Count, want.GetZeroCount(), want.GetSampleCount())
		}
		for _, side := range []struct {
			name      string
			got, want map[int32]int64
		}{
			{"positive", expand(got.PositiveSpans, got.PositiveBuckets, modelSpan), expand(want.PositiveSpan, want.PositiveDelta, dtoSpan)},
			{"negative", expand(got.NegativeSpans, got.NegativeBuckets, modelSpan), expand(want.NegativeSpan, want.NegativeDelta, dtoSpan)},
		} {
			if !sameBuckets(side.got, side.want) {
				for k, v := range side.want {
					if side.got[k] != v {
						t.Errorf("schema %d %s bucket %d: %d, client_golang %d", s, side.name, k, side.got[k], v)
					}
				}
				for k, v := range side.got {
					if _, ok := side.want[k]; !ok {
						t.Errorf("schema %d %s bucket %d: %d, client_golang has none", s, side.name, k, v)
					}
				}
			}
		}
		if err := got.Validate(); err != nil {
			t.Errorf("schema %d: %v", s, err)
		}
	}
}

// TestNativeZeroBucketAndNaN: |v| <= 2^-128 goes to the zero bucket; NaN
// counts in count and sum (NaN) but in no bucket, and the histogram still
// validates; ±Inf go to the buckets past ±MaxFloat64.
func TestNativeZeroBucketAndNaN(t *testing.T) {
	st := New(Options{}, nil)
	ser, err := st.Get(&Spec{Name: "x", Kind: KindHistogram, Native: Native{Factor: 2}})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{0, math.Copysign(0, -1), 1e-40, -1e-40, nativeZeroThreshold, -nativeZeroThreshold} {
		ser.Observe(v, 2)
	}
	snap := ser.hist.nativeSnapshot()
	h := snap.histogram()
	if h.ZeroCount != 12 || h.Count != 12 || len(h.PositiveSpans)+len(h.NegativeSpans) != 0 || h.ZeroThreshold != 0x1p-128 {
		t.Fatalf("zero bucket: %s", h)
	}
	ser.Observe(math.NaN(), 1)
	ser.Observe(math.Inf(1), 1)
	ser.Observe(math.Inf(-1), 1)
	snap = ser.hist.nativeSnapshot()
	h = snap.histogram()
	if h.Count != 15 || !math.IsNaN(h.Sum) {
		t.Fatalf("after NaN and Inf: count %d sum %v", h.Count, h.Sum)
	}
	if p, n := expand(h.PositiveSpans, h.PositiveBuckets, modelSpan), expand(h.NegativeSpans, h.NegativeBuckets, modelSpan); p[1025] != 1 || n[1025] != 1 || len(p) != 1 || len(n) != 1 {
		t.Fatalf("Inf buckets: positive %v negative %v", p, n)
	}
	if err := h.Validate(); err != nil {
		t.Fatalf("Validate: %v (%s)", err, h)
	}
}

// TestNativeResolutionHalving: past native_histogram_max_buckets the
// schema drops by one, bucket pairs merge exactly as model/histogram's
// ReduceResolution merges them, nothing is lost from count, the halving
// is counted, and the bucket count stays bounded for hostile spreads.
func TestNativeResolutionHalving(t *testing.T) {
	for _, tt := range []struct {
		name    string
		max     uint32
		values  []float64
		schema  int32 // after
		reduced float64
	}{
		{"within the limit", 4, []float64{1, 1.1, 1.2, -1}, 3, 0},
		{"one more bucket halves once", 4, []float64{1, 1.1, 1.2, 1.3, -1}, 2, 1},
		{"spread needs several halvings", 3, []float64{0.001, 0.01, 0.1, 1, 10, 100}, -3, 6}, // base 256: 3 buckets
		{"negative and positive merge alike", 2, []float64{-1.05, -1.15, 1.05, 1.15}, 2, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			st := New(Options{}, reg)
			ser, err := st.Get(&Spec{Name: "x", Kind: KindHistogram, Native: Native{Factor: 1.1, MaxBuckets: tt.max}})
			if err != nil {
				t.Fatal(err)
			}
			// The same values without a limit, reduced by Prometheus.
			ref, _ := New(Options{}, nil).Get(&Spec{Name: "x", Kind: KindHistogram, Native: Native{Factor: 1.1, MaxBuckets: math.MaxUint32}})
			for _, v := range tt.values {
				ser.Observe(v, 3)
				ref.Observe(v, 3)
			}
			snap := ser.hist.nativeSnapshot()
			got := snap.histogram()
			rs := ref.hist.nativeSnapshot()
			want := rs.histogram()
			if got.Schema < want.Schema {
				if err := want.ReduceResolution(got.Schema); err != nil {
					t.Fatal(err)
				}
			}
			if got.Schema != tt.schema {
				t.Errorf("schema %d, want %d", got.Schema, tt.schema)
			}
			if n := testutil.ToFloat64(st.metrics.NativeReduced); n != tt.reduced {
				t.Errorf("halvings counted %v, want %v", n, tt.reduced)
			}
			if got.Count != uint64(3*len(tt.values)) {
				t.Errorf("count %d", got.Count)
			}
			if !sameBuckets(expand(got.PositiveSpans, got.PositiveBuckets, modelSpan), expand(want.PositiveSpans, want.PositiveBuckets, modelSpan)) ||
				!sameBuckets(expand(got.NegativeSpans, got.NegativeBuckets, modelSpan), expand(want.NegativeSpans, want.NegativeBuckets, modelSpan)) {
				t.Errorf("buckets\n %s\nReduceResolution gives\n %s", got, want)
			}
			if err := got.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
	t.Run("bounded for any spread", func(t *testing.T) {
		st := New(Options{}, nil)
		ser, _ := st.Get(&Spec{Name: "x", Kind: KindHistogram, Native: Native{Factor: 1.001, MaxBuckets: 10}})
		rng := rand.New(rand.NewPCG(3, 4))
		for range 100000 {
			v := math.Exp(rng.Float64()*1380 - 690) // 1e-300 .. 1e300
			if rng.IntN(2) == 0 {
				v = -v
			}
			ser.Observe(v, 1)
		}
		nh := ser.hist.native
		if n := len(nh.pos.keys) + len(nh.neg.keys); n > 10 && nh.schema != nativeSchemaMin {
			t.Fatalf("%d buckets at schema %d", n, nh.schema)
		}
		if n := len(nh.pos.keys) + len(nh.neg.keys); n > 2*((1074+1024)/65536+140) {
			t.Fatalf("%d buckets kept", n)
		}
		snap := ser.hist.nativeSnapshot()
		if err := snap.histogram().Validate(); err != nil {
			t.Fatal(err)
		}
	})
}

// TestNativeSeriesFromMapping: the mapping file's
// native_histogram_bucket_factor gives a native series (schema from the
// factor, max buckets from the file), with classic buckets only when the
// same place lists them, as names.Mapper.Histogram says.
func TestNativeSeriesFromMapping(t *testing.T) {
	m := mustMapper(t, `defaults:
  observer_type: histogram
  histogram_options:
    buckets: [0.01, 0.1, 1]
mappings:
- match: native.*
  name: native_$1
  histogram_options:
    native_histogram_bucket_factor: 1.1
    native_histogram_max_buckets: 50
- match: both.*
  name: both_$1
  histogram_options:
    buckets: [0.5]
    native_histogram_bucket_factor: 2
- match: classic.*
  name: classic_$1
`)
	st := New(Options{}, nil)
	w := NewTranslator(st, m, nil, nil).NewWorker()
	feed(t, w, "native.a:30|ms", "both.a:30|ms", "classic.a:30|ms")
	for _, tt := range []struct {
		name   string
		upper  []float64
		schema int32 // -100: no native
		max    int
	}{
		{"native_a", nil, 3, 50},
		{"both_a", []float64{0.5}, 0, 256},
		{"classic_a", []float64{0.01, 0.1, 1}, -100, 0},
	} {
		ser, err := st.Get(&Spec{Name: tt.name, Kind: KindHistogram, Labels: labels.EmptyLabels()})
		if err != nil {
			t.Fatal(err)
		}
		h := ser.hist
		if len(h.upper) != len(tt.upper) {
			t.Errorf("%s: classic %v, want %v", tt.name, h.upper, tt.upper)
		}
		if (h.native != nil) != (tt.schema != -100) {
			t.Fatalf("%s: native %v, want schema %d", tt.name, h.native != nil, tt.schema)
		}
		if h.native != nil && (h.native.schema != tt.schema || h.native.max != tt.max) {
			t.Errorf("%s: schema %d max %d, want %d %d", tt.name, h.native.schema, h.native.max, tt.schema, tt.max)
		}
		if h.count.Load() != 1 || math.Float64frombits(h.sum.Load()) != 0.03 {
			t.Errorf("%s: count %d sum %v", tt.name, h.count.Load(), math.Float64frombits(h.sum.Load()))
		}
	}
}

// TestObserveNativeDoesNotAllocate: steady state (buckets already
// populated) costs no allocation.
func TestObserveNativeDoesNotAllocate(t *testing.T) {
	st := New(Options{}, nil)
	ser, _ := st.Get(&Spec{Name: "x", Kind: KindHistogram, Buckets: []float64{0.01, 0.1, 1}, Native: Native{Factor: 1.1}})
	vals := []float64{0.001, 0.02, 0.03, 0.5, 3, -1, 0}
	for _, v := range vals {
		ser.Observe(v, 1)
	}
	i := 0
	if a := testing.AllocsPerRun(1000, func() {
		ser.Observe(vals[i%len(vals)], 1)
		i++
	}); a != 0 {
		t.Fatalf("%v allocations per Observe", a)
	}
}

func BenchmarkObserveNative(b *testing.B) {
	for _, layout := range []struct {
		name string
		spec Spec
	}{
		{"classic", Spec{Name: "x", Kind: KindHistogram, Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}}},
		{"native", Spec{Name: "x", Kind: KindHistogram, Native: Native{Factor: 1.1}}},
		{"both", Spec{Name: "x", Kind: KindHistogram, Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}, Native: Native{Factor: 1.1}}},
	} {
		b.Run(layout.name, func(b *testing.B) {
			st := New(Options{}, nil)
			spec := layout.spec
			ser, err := st.Get(&spec)
			if err != nil {
				b.Fatal(err)
			}
			// Latencies of 1 ms .. 1 s, log-uniform: ~80 native buckets.
			vals := make([]float64, 1024)
			rng := rand.New(rand.NewPCG(5, 6))
			for i := range vals {
				vals[i] = math.Exp(rng.Float64()*math.Log(1000)) / 1000
			}
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					ser.Observe(vals[i&1023], 1)
					i++
				}
			})
		})
	}
}

// FuzzNativeObserve: whatever the values (NaN, ±Inf, subnormals, huge
// sample weights) and the layout, every snapshot is a valid Prometheus
// histogram, the count is what was observed, and the populated buckets
// stay within max_buckets unless the schema reached its coarsest.
func FuzzNativeObserve(f *testing.F) {
	f.Add(1.1, uint32(4), []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add(1.0027, uint32(1), []byte("\x7f\xf0\x00\x00\x00\x00\x00\x00\xff\xf0\x00\x00\x00\x00\x00\x01"))
	f.Add(65536.0, uint32(256), []byte("\x00\x00\x00\x00\x00\x00\x00\x01"))
	f.Fuzz(func(t *testing.T, factor float64, max uint32, data []byte) {
		if !(factor > 1) || factor > 65536 {
			return
		}
		st := New(Options{}, nil)
		ser, err := st.Get(&Spec{Name: "x", Kind: KindHistogram, Buckets: []float64{0.1, 1}, Native: Native{Factor: factor, MaxBuckets: max}})
		if err != nil {
			t.Fatal(err)
		}
		var count uint64
		for len(data) >= 8 {
			v := math.Float64frombits(uint64(data[0])<<56 | uint64(data[1])<<48 | uint64(data[2])<<40 | uint64(data[3])<<32 |
				uint64(data[4])<<24 | uint64(data[5])<<16 | uint64(data[6])<<8 | uint64(data[7]))
			n := uint64(data[7]&7) + 1
			data = data[8:]
			ser.Observe(v, n)
			count += n
		}
		snap := ser.hist.nativeSnapshot()
		h := snap.histogram()
		if err := h.Validate(); err != nil {
			t.Fatalf("%v: %s", err, h)
		}
		if h.Count != count {
			t.Fatalf("count %d, observed %d", h.Count, count)
		}
		nh := ser.hist.native
		limit := int(max)
		if limit == 0 {
			limit = defaultMaxBuckets
		}
		if n := len(nh.pos.keys) + len(nh.neg.keys); n > limit && nh.schema != nativeSchemaMin {
			t.Fatalf("%d buckets at schema %d, max %d", n, nh.schema, limit)
		}
	})
}

// BenchmarkMemoryPerNativeSeries: heap per native series (factor 1.1)
// holding latencies of 1 ms .. 1 s, about 80 populated buckets.
func BenchmarkMemoryPerNativeSeries(b *testing.B) {
	const n = 10_000
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before runtime.MemStats
		runtime.ReadMemStats(&before)
		s := New(Options{}, nil)
		for j := range n {
			ser, err := s.Get(&Spec{Name: "lat", Kind: KindHistogram, Native: Native{Factor: 1.1}, Labels: labels.FromStrings("i", strconv.Itoa(j))})
			if err != nil {
				b.Fatal(err)
			}
			for k := range 1000 {
				ser.Observe(math.Exp(float64(k)/1000*math.Log(1000))/1000, 1)
			}
		}
		runtime.GC()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/n, "heap-bytes/series")
		runtime.KeepAlive(s)
	}
}
