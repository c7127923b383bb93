package series

import (
	"math"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/prometheus/prometheus/model/labels"
)

// Name is the metric name of the series.
func (s *Series) Name() string { return s.name }

// Labels are the series' labels, without __name__.
func (s *Series) Labels() labels.Labels { return s.labels }

// Kind is how the series is exposed.
func (s *Series) Kind() Kind { return s.kind }

// Dead reports whether the series expired; a holder must resolve it again.
func (s *Series) Dead() bool { return s.dead.Load() }

// touch records an update for ttl expiry. It writes only when the coarse
// clock moved, so hot series do not bounce a cache line on every sample.
func (s *Series) touch(now int64) {
	if s.ttl > 0 && s.lastUpdate.Load() != now {
		s.lastUpdate.Store(now)
	}
}

// Add increments a counter or a gauge.
func (s *Series) Add(v float64) { addFloat(&s.bits, v) }

// Set sets a gauge.
func (s *Series) Set(v float64) { s.bits.Store(math.Float64bits(v)) }

// Value returns a counter's or gauge's value; for a set, the distinct
// members of the last completed window.
func (s *Series) Value() float64 {
	if s.set != nil {
		return float64(s.set.last.Load())
	}
	return math.Float64frombits(s.bits.Load())
}

// Observe records n observations of v in a histogram or summary.
func (s *Series) Observe(v float64, n uint64) {
	if s.hist != nil {
		s.hist.observe(v, n)
		return
	}
	if s.sum != nil {
		// The quantile stream gets the value once per sampled-out
		// observation, as statsd_exporter does, but at most
		// maxSummaryWeight times: "@1e-9" must not cost a billion
		// observations. Quantiles of a uniformly sampled stream estimate
		// the whole one, and count and sum are kept exactly beside it.
		w := min(n, maxSummaryWeight)
		for i := uint64(0); i < w; i++ {
			s.sum.Observe(v)
		}
		s.sumCount.Add(n)
		addFloat(&s.sumSum, v*float64(n))
	}
}

// maxSummaryWeight bounds the work one sampled line can cause in a summary.
const maxSummaryWeight = 100

func addFloat(a *atomic.Uint64, v float64) {
	for {
		old := a.Load()
		if a.CompareAndSwap(old, math.Float64bits(math.Float64frombits(old)+v)) {
			return
		}
	}
}

// AddMember adds a member to a set's current window. It returns false when
// the window already holds the most members a set may keep.
func (s *Series) AddMember(hash uint64) bool { return s.set.add(hash) }

type histogram struct {
	upper  []float64
	counts []atomic.Uint64 // per bucket, not cumulative
	count  atomic.Uint64
	sum    atomic.Uint64 // float64 bits
	// native is the native histogram, nil when none is stored.
	native *native
}

func newHistogram(upper []float64) *histogram {
	b := make([]float64, 0, len(upper))
	for _, u := range upper {
		if !math.IsInf(u, 1) && !math.IsNaN(u) {
			b = append(b, u)
		}
	}
	sort.Float64s(b)
	return &histogram{upper: b, counts: make([]atomic.Uint64, len(b))}
}

func (h *histogram) observe(v float64, n uint64) {
	if nh := h.native; nh != nil {
		// Under the native lock, so that a snapshot's count equals its
		// buckets.
		nh.mu.Lock()
		h.observeClassic(v, n)
		nh.observeLocked(v, n)
		nh.mu.Unlock()
		return
	}
	h.observeClassic(v, n)
}

// observeClassic records observations in the classic buckets, count and
// sum. A NaN is in no bucket but in count and sum (making it NaN), as in
// client_golang.
func (h *histogram) observeClassic(v float64, n uint64) {
	// Buckets are few (10-20): a linear scan beats binary search here.
	for i, u := range h.upper {
		if v <= u {
			h.counts[i].Add(n)
			break
		}
	}
	h.count.Add(n)
	addFloat(&h.sum, v*float64(n))
}

// set counts distinct members per flush window. It keeps 64-bit hashes, not
// the members: 8 bytes a member whatever their length, and a collision
// (1 in 2^64) costs one count.
type set struct {
	mu      sync.Mutex
	members map[uint64]struct{}
	max     int
	last    atomic.Int64
}

func (s *set) add(h uint64) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.members[h]; ok {
		return true
	}
	if len(s.members) >= s.max {
		return false
	}
	s.members[h] = struct{}{}
	return true
}

func (s *set) flush() {
	s.mu.Lock()
	s.last.Store(int64(len(s.members)))
	clear(s.members)
	s.mu.Unlock()
}

// NativeSchema returns the current schema of a histogram series' native
// histogram, and false when the series has none.
func (s *Series) NativeSchema() (int32, bool) {
	if s.hist == nil || s.hist.native == nil {
		return 0, false
	}
	s.hist.native.mu.Lock()
	defer s.hist.native.mu.Unlock()
	return s.hist.native.schema, true
}

// ClassicBuckets returns a histogram series' classic bucket upper bounds
// (without +Inf).
func (s *Series) ClassicBuckets() []float64 {
	if s.hist == nil {
		return nil
	}
	return s.hist.upper
}
