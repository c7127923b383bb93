package series

import (
	"fmt"
	"math"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	modelhist "github.com/prometheus/prometheus/model/histogram"
)

// Native is the native (exponential) histogram layout of a histogram
// series, from names.HistogramLayout: Factor > 1 stores one, whose buckets
// are each at most Factor times wider than the previous; MaxBuckets bounds
// the populated buckets (0: names.DefaultNativeMaxBuckets).
type Native struct {
	Factor     float64
	MaxBuckets uint32
}

// Enabled reports whether a native histogram is stored.
func (n Native) Enabled() bool { return n.Factor > 1 }

// Native histogram conventions, as Prometheus defines them
// (model/histogram) and client_golang exposes them.
const (
	// nativeZeroThreshold is client_golang's default zero bucket width
	// (prometheus.DefNativeHistogramZeroThreshold, 2^-128): observations
	// with |v| <= it go to the zero bucket.
	nativeZeroThreshold = prometheus.DefNativeHistogramZeroThreshold
	nativeSchemaMin     = modelhist.ExponentialSchemaMin // -4, growth 65536
	nativeSchemaMax     = modelhist.ExponentialSchemaMax // 8, growth 1.0027
	defaultMaxBuckets   = 256                            // names.DefaultNativeMaxBuckets
)

// nativeSchema is the coarsest schema whose bucket growth 2^(2^-schema)
// does not exceed factor (client_golang's rule for
// NativeHistogramBucketFactor, so statsd_exporter and Copenhagen pick the
// same schema for the same mapping), clamped to [-4, 8].
func nativeSchema(factor float64) int32 {
	if !(factor > 1) {
		return nativeSchemaMax
	}
	s := -math.Floor(math.Log2(math.Log2(factor)))
	switch {
	case s < float64(nativeSchemaMin) || math.IsNaN(s):
		return nativeSchemaMin
	case s > float64(nativeSchemaMax):
		return nativeSchemaMax
	}
	return int32(s)
}

// nativeBounds[s] (s = 1..8) are the 2^s bucket boundaries of schema s
// within one power of two, as fractions in [0.5, 1): 2^(j/2^s - 1) as
// Prometheus rounds them. They are taken from model/histogram (the upper
// bounds of buckets 0..2^s-1, halved: exact), not computed: its table (and
// client_golang's) rounds them neither to nearest nor consistently down,
// and an observation equal to a bound must land in the bucket that
// Prometheus's queries give that bound, as client_golang puts it.
var nativeBounds = func() [nativeSchemaMax + 1][]float64 {
	var b [nativeSchemaMax + 1][]float64
	for s := int32(1); s <= nativeSchemaMax; s++ {
		n := 1 << s
		deltas := make([]int64, n)
		deltas[0] = 1
		h := &modelhist.Histogram{Schema: s, Count: uint64(n),
			PositiveSpans: []modelhist.Span{{Offset: 0, Length: uint32(n)}}, PositiveBuckets: deltas}
		b[s] = make([]float64, 0, n)
		for it := h.PositiveBucketIterator(); it.Next(); {
			b[s] = append(b[s], it.At().Upper/2)
		}
		if len(b[s]) != n || b[s][0] != 0.5 {
			panic(fmt.Sprintf("model/histogram gives %d bounds for schema %d, starting at %v", len(b[s]), s, b[s][0]*2))
		}
	}
	return b
}()

// nativeKey is the index of the bucket of |v| (v finite or ±Inf, not NaN,
// |v| above the zero threshold) at schema s: bucket i holds
// (base^(i-1), base^i] with base = 2^(2^-s), so an exact power of the
// base is the upper bound of its bucket. ±Inf goes one bucket past the
// one of ±MaxFloat64, as client_golang puts it.
func nativeKey(v float64, s int32) int32 {
	inf := false
	v = math.Abs(v)
	if math.IsInf(v, 1) {
		v, inf = math.MaxFloat64, true
	}
	frac, exp := math.Frexp(v) // v = frac * 2^exp, frac in [0.5, 1)
	var key int32
	if s > 0 {
		bounds := nativeBounds[s]
		lo, hi := 0, len(bounds)
		for lo < hi { // first bound >= frac
			m := int(uint(lo+hi) >> 1)
			if bounds[m] < frac {
				lo = m + 1
			} else {
				hi = m
			}
		}
		key = int32(lo) + int32(exp-1)*int32(len(bounds))
	} else {
		// Schema 0: bucket k holds (2^(k-1), 2^k]; coarser schemas merge
		// 2^-s of those, so the index is ceil(k / 2^-s).
		k := int32(exp)
		if frac == 0.5 {
			k--
		}
		key = (k + (1 << -s) - 1) >> -s
	}
	if inf {
		key++
	}
	return key
}

// nativeBuckets are the populated buckets of one sign, sorted by index:
// at most MaxBuckets+1 of them whatever the spread of the values, where a
// dense array would take one slot per bucket between the smallest and the
// largest observation (millions, for 1e-300 and 1e300 at schema 8).
type nativeBuckets struct {
	keys   []int32
	counts []uint64
}

// add adds n to bucket k; it returns true if the bucket is new.
func (b *nativeBuckets) add(k int32, n uint64) bool {
	lo, hi := 0, len(b.keys)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if b.keys[m] < k {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(b.keys) && b.keys[lo] == k {
		b.counts[lo] += n
		return false
	}
	b.keys = append(b.keys, 0)
	copy(b.keys[lo+1:], b.keys[lo:])
	b.keys[lo] = k
	b.counts = append(b.counts, 0)
	copy(b.counts[lo+1:], b.counts[lo:])
	b.counts[lo] = n
	return true
}

// halve merges bucket pairs for the schema one lower: bucket i of schema s
// lies in bucket ceil(i/2) of schema s-1 (buckets 2j-1 and 2j make j).
func (b *nativeBuckets) halve() {
	j := -1
	for i, k := range b.keys {
		nk := (k + 1) >> 1 // arithmetic shift: ceil(k/2) for negative k too
		if j >= 0 && b.keys[j] == nk {
			b.counts[j] += b.counts[i]
			continue
		}
		j++
		b.keys[j], b.counts[j] = nk, b.counts[i]
	}
	b.keys, b.counts = b.keys[:j+1], b.counts[:j+1]
}

// spans encodes the buckets as Prometheus does: spans of consecutive
// indexes (the first offset absolute, the others the gap from the
// previous span) and delta-encoded counts.
func (b *nativeBuckets) spans() ([]modelhist.Span, []int64) {
	if len(b.keys) == 0 {
		return nil, nil
	}
	spans := make([]modelhist.Span, 0, 4)
	deltas := make([]int64, len(b.counts))
	var prevKey int32
	var prevCount int64
	for i, k := range b.keys {
		switch {
		case i == 0:
			spans = append(spans, modelhist.Span{Offset: k, Length: 1})
		case k == prevKey+1:
			spans[len(spans)-1].Length++
		default:
			spans = append(spans, modelhist.Span{Offset: k - prevKey - 1, Length: 1})
		}
		c := int64(b.counts[i])
		deltas[i] = c - prevCount
		prevKey, prevCount = k, c
	}
	return spans, deltas
}

// native is the native part of a histogram series. Its small mutex is
// taken by every observation of the series (classic buckets, count and
// sum included, so that a snapshot is consistent): uncontended it costs
// a few nanoseconds, and the Store's hot path stays lock-free otherwise.
type native struct {
	mu       sync.Mutex
	schema   int32
	max      int
	zero     uint64
	pos, neg nativeBuckets
	// reduced counts the resolution halvings (may be nil).
	reduced prometheus.Counter
}

func newNative(l Native, reduced prometheus.Counter) *native {
	max := int(l.MaxBuckets)
	if max <= 0 {
		max = defaultMaxBuckets
	}
	return &native{schema: nativeSchema(l.Factor), max: max, reduced: reduced}
}

// observeLocked records n observations of v; the caller holds mu. NaN
// counts in count and sum only (the sum becomes NaN), as client_golang
// does: no bucket holds it, and Prometheus accepts a histogram whose
// buckets add up to less than its count when its sum is NaN.
func (h *native) observeLocked(v float64, n uint64) {
	var created bool
	switch {
	case math.IsNaN(v):
		return
	case v > nativeZeroThreshold:
		created = h.pos.add(nativeKey(v, h.schema), n)
	case v < -nativeZeroThreshold:
		created = h.neg.add(nativeKey(v, h.schema), n)
	default:
		h.zero += n
	}
	if created && len(h.pos.keys)+len(h.neg.keys) > h.max {
		h.reduce()
	}
}

// reduce halves the resolution until the populated buckets fit in max,
// as client_golang does when NativeHistogramMaxBucketNumber is exceeded
// (it has no zero-bucket widening or reset configured by statsd_exporter
// either). At schema -4 a float64's whole range is ~270 buckets, so the
// bucket count is bounded whatever max is.
func (h *native) reduce() {
	for len(h.pos.keys)+len(h.neg.keys) > h.max && h.schema > nativeSchemaMin {
		h.pos.halve()
		h.neg.halve()
		h.schema--
		if h.reduced != nil {
			h.reduced.Inc()
		}
	}
}

// nativeSnapshot is a consistent copy of a native histogram series.
type nativeSnapshot struct {
	schema       int32
	zero, count  uint64
	sum          float64
	pSpans       []modelhist.Span
	pDeltas      []int64
	nSpans       []modelhist.Span
	nDeltas      []int64
	upper        []float64
	classicCount []uint64 // cumulative, per upper bound
}

func (h *histogram) nativeSnapshot() nativeSnapshot {
	nh := h.native
	nh.mu.Lock()
	defer nh.mu.Unlock()
	s := nativeSnapshot{
		schema: nh.schema, zero: nh.zero,
		count: h.count.Load(), sum: math.Float64frombits(h.sum.Load()),
		upper: h.upper,
	}
	s.pSpans, s.pDeltas = nh.pos.spans()
	s.nSpans, s.nDeltas = nh.neg.spans()
	if len(h.upper) > 0 {
		s.classicCount = make([]uint64, len(h.upper))
		var cum uint64
		for i := range h.upper {
			cum += h.counts[i].Load()
			s.classicCount[i] = cum
		}
	}
	return s
}

// Histogram returns the native histogram of the snapshot, as appended to
// storage. Each call returns a new one: the TSDB keeps (and may adjust
// the spans of) what it is given until the commit.
func (s *nativeSnapshot) histogram() *modelhist.Histogram {
	return &modelhist.Histogram{
		// Cumulative: the TSDB detects resets (a restart) itself, and a
		// resolution halving is not one.
		CounterResetHint: modelhist.UnknownCounterReset,
		Schema:           s.schema,
		ZeroThreshold:    nativeZeroThreshold,
		ZeroCount:        s.zero,
		Count:            s.count,
		Sum:              s.sum,
		PositiveSpans:    s.pSpans,
		PositiveBuckets:  s.pDeltas,
		NegativeSpans:    s.nSpans,
		NegativeBuckets:  s.nDeltas,
	}
}

// dto fills a protobuf histogram with the native fields and, when the
// series keeps them, the classic buckets, as client_golang writes them.
func (s *nativeSnapshot) dto() *dto.Histogram {
	h := &dto.Histogram{
		SampleCount:   ptr(s.count),
		SampleSum:     ptr(s.sum),
		Schema:        ptr(s.schema),
		ZeroThreshold: ptr(float64(nativeZeroThreshold)),
		ZeroCount:     ptr(s.zero),
		PositiveSpan:  dtoSpans(s.pSpans),
		PositiveDelta: s.pDeltas,
		NegativeSpan:  dtoSpans(s.nSpans),
		NegativeDelta: s.nDeltas,
	}
	for i, u := range s.upper {
		h.Bucket = append(h.Bucket, &dto.Bucket{UpperBound: ptr(u), CumulativeCount: ptr(min(s.classicCount[i], s.count))})
	}
	return h
}

func dtoSpans(spans []modelhist.Span) []*dto.BucketSpan {
	if len(spans) == 0 {
		return nil
	}
	out := make([]*dto.BucketSpan, len(spans))
	for i, sp := range spans {
		out[i] = &dto.BucketSpan{Offset: ptr(sp.Offset), Length: ptr(sp.Length)}
	}
	return out
}

func ptr[T any](v T) *T { return &v }
