// Package series holds the live state of the series that StatsD traffic
// becomes (Graphite points, which carry their own timestamps, go to
// storage through translate/carbon instead): counters, gauges, histograms,
// summaries and sets, with the limits, expiry and collision rules that keep
// one bad name from breaking everybody's /metrics page.
//
// The hot path takes no shared lock: readers resolve a name to a *Series
// once, keep it in a per-reader cache (see Worker) and then update it with
// atomic operations (a native histogram series with its own small mutex,
// see native.go). The Store lock is only taken to create or expire series.
package series

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
)

// Kind is the Prometheus type a series is exposed as.
type Kind uint8

// Series kinds. A StatsD set is exposed as a gauge but keeps its own kind
// because it is aggregated per flush window.
const (
	KindCounter Kind = iota + 1
	KindGauge
	KindHistogram
	KindSummary
	KindSet
)

func (k Kind) String() string {
	switch k {
	case KindCounter:
		return "counter"
	case KindGauge:
		return "gauge"
	case KindHistogram:
		return "histogram"
	case KindSummary:
		return "summary"
	case KindSet:
		return "set"
	}
	return "unknown"
}

// exposedType is the type written on the # TYPE line.
func (k Kind) exposedType() string {
	if k == KindSet {
		return "gauge"
	}
	return k.String()
}

// Rejection reasons, used as the reason label of
// copenhagen_series_rejected_total. They are stable: dashboards use them.
const (
	ReasonLimit         = "series_limit"
	ReasonTypeConflict  = "type_conflict"
	ReasonNameCollision = "name_collision"
	ReasonReservedName  = "reserved_name"
	ReasonInvalidName   = "invalid_name"
	ReasonInvalidLabel  = "invalid_label"
	ReasonNegativeCount = "negative_counter"
	ReasonSetFull       = "set_full"
	ReasonEmptyName     = "empty_name"
	ReasonTooManyLabels = "too_many_labels"
	ReasonLabelTooLong  = "label_value_too_long"
	ReasonNameTooLong   = "label_name_too_long"
)

// RejectError says why a series could not be created. The Reason is a
// stable label value for the rejection counter.
type RejectError struct {
	Reason string
	Detail string
}

func (e *RejectError) Error() string { return e.Reason + ": " + e.Detail }

// ReservedPrefix marks Copenhagen's own metrics. Translated series may not
// use it, so user traffic can never shadow or corrupt a self-metric.
const ReservedPrefix = "copenhagen_"

// Spec describes a series to create or find.
type Spec struct {
	Name   string
	Labels labels.Labels // without __name__
	Kind   Kind
	Help   string
	// Buckets are the classic histogram upper bounds, sorted; nil for
	// other kinds and for a histogram stored only as a native one.
	Buckets []float64
	// Native is the native histogram of a KindHistogram series; a
	// histogram may have classic buckets, native buckets, or both.
	Native Native
	// Summary options for KindSummary.
	Objectives map[float64]float64
	MaxAge     time.Duration
	AgeBuckets uint32
	BufCap     uint32
	// TTL expires the series after this long without updates; 0 never.
	TTL time.Duration
}

// Options bound a Store.
type Options struct {
	// MaxSeries is the number of live series beyond which new ones are
	// refused (and counted). 0 means no limit.
	MaxSeries int
	// MaxSetSize bounds the distinct members a set keeps per window.
	MaxSetSize int
	// MaxLabels bounds the labels of one series, __name__ included (as
	// Prometheus's label_limit counts); MaxLabelNameLength and
	// MaxLabelValueLength the bytes of one label name and value
	// (label_name_length_limit, label_value_length_limit; the metric
	// name is the value of __name__). 0 means no limit.
	MaxLabels           int
	MaxLabelNameLength  int
	MaxLabelValueLength int
	// Source names the store in self-metrics ("statsd", "graphite").
	Source string
	// Now is the clock, replaceable in tests.
	Now func() time.Time
}

// Store is the set of live series of one source.
type Store struct {
	opts Options

	mu       sync.RWMutex
	families map[string]*family
	byHash   map[uint64]*Series
	live     int

	// capacityGen changes whenever series are removed, so that names
	// refused for the series limit are tried again.
	capacityGen atomic.Uint64

	// clock is a coarse unix-nanosecond clock updated by Tick, so the hot
	// path can record "last updated" without reading the time per line.
	clock atomic.Int64

	metrics *Metrics
}

type family struct {
	name  string
	kind  Kind
	help  string
	count int
}

// Series is one live series. Its value methods are safe for concurrent use.
type Series struct {
	name   string
	labels labels.Labels // without __name__
	kind   Kind
	fam    *family
	hash   uint64
	next   *Series // hash collision chain
	ttl    int64   // nanoseconds, 0 = never

	lastUpdate atomic.Int64
	dead       atomic.Bool

	// created is when the series was created (Unix ms), the start
	// timestamp of its counters; stored is set once AppendTo appended it,
	// so that the zero before its first sample is appended once.
	created int64
	stored  atomic.Bool

	bits atomic.Uint64 // counter and gauge value, float64 bits
	hist *histogram
	sum  prometheus.Summary
	// sumCount and sumSum are the summary's exact count and sum (its
	// quantile stream is weighted with a cap, see Observe).
	sumCount atomic.Uint64
	sumSum   atomic.Uint64
	set      *set
}

// Metrics are the self-metrics of a Store.
type Metrics struct {
	Created  prometheus.Counter
	Expired  prometheus.Counter
	Active   prometheus.GaugeFunc
	Rejected *prometheus.CounterVec
	// NativeReduced counts the halvings of a native histogram's
	// resolution because its populated buckets exceeded
	// native_histogram_max_buckets.
	NativeReduced prometheus.Counter
}

// New returns an empty Store and registers its self-metrics with reg (which
// may be nil).
func New(opts Options, reg prometheus.Registerer) *Store {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Source == "" {
		opts.Source = "statsd"
	}
	s := &Store{
		opts:     opts,
		families: map[string]*family{},
		byHash:   map[uint64]*Series{},
	}
	s.clock.Store(opts.Now().UnixNano())
	constLabels := prometheus.Labels{"source": opts.Source}
	s.metrics = &Metrics{
		Created: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "copenhagen_series_created_total", ConstLabels: constLabels,
			Help: "Series created from received traffic.",
		}),
		Expired: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "copenhagen_series_expired_total", ConstLabels: constLabels,
			Help: "Series removed because they were not updated within their ttl.",
		}),
		Active: prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "copenhagen_series_active", ConstLabels: constLabels,
			Help: "Series currently held.",
		}, func() float64 { return float64(s.Len()) }),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_series_rejected_total", ConstLabels: constLabels,
			Help: "Samples refused because their series could not be created or updated, by reason.",
		}, []string{"reason"}),
		NativeReduced: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "copenhagen_series_native_histogram_resolution_reduced_total", ConstLabels: constLabels,
			Help: "Times a native histogram's resolution was halved (schema - 1) because its populated buckets exceeded native_histogram_max_buckets.",
		}),
	}
	for _, r := range []string{ReasonLimit, ReasonTypeConflict, ReasonNameCollision, ReasonReservedName,
		ReasonInvalidName, ReasonInvalidLabel, ReasonNegativeCount, ReasonSetFull, ReasonEmptyName,
		ReasonTooManyLabels, ReasonLabelTooLong, ReasonNameTooLong} {
		s.metrics.Rejected.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(s.metrics.Created, s.metrics.Expired, s.metrics.Active, s.metrics.Rejected, s.metrics.NativeReduced)
	}
	return s
}

// Metrics returns the store's self-metrics, for callers that count
// rejections they detect themselves.
func (s *Store) Metrics() *Metrics { return s.metrics }

// Len returns the number of live series.
func (s *Store) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.live
}

// Tick advances the coarse clock used for ttl bookkeeping. The caller runs
// it a few times per second.
func (s *Store) Tick(now time.Time) { s.clock.Store(now.UnixNano()) }

// Get returns the series described by spec, creating it if needed. A
// *RejectError says why it cannot exist; the caller counts it.
func (s *Store) Get(spec *Spec) (*Series, error) {
	if err := s.validate(spec); err != nil {
		return nil, err
	}
	h := hashSeries(spec.Name, spec.Labels)

	s.mu.RLock()
	ser := s.lookup(h, spec.Name, spec.Labels)
	s.mu.RUnlock()
	if ser != nil {
		if ser.kind != spec.Kind {
			return nil, &RejectError{ReasonTypeConflict, fmt.Sprintf("%s is a %s, not a %s", spec.Name, ser.kind, spec.Kind)}
		}
		return ser, nil
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if ser := s.lookup(h, spec.Name, spec.Labels); ser != nil {
		if ser.kind != spec.Kind {
			return nil, &RejectError{ReasonTypeConflict, fmt.Sprintf("%s is a %s, not a %s", spec.Name, ser.kind, spec.Kind)}
		}
		return ser, nil
	}
	fam := s.families[spec.Name]
	if fam != nil && fam.kind != spec.Kind {
		return nil, &RejectError{ReasonTypeConflict, fmt.Sprintf("%s is a %s, not a %s", spec.Name, fam.kind, spec.Kind)}
	}
	if fam == nil {
		if err := s.collides(spec.Name, spec.Kind); err != nil {
			return nil, err
		}
	}
	if s.opts.MaxSeries > 0 && s.live >= s.opts.MaxSeries {
		return nil, &RejectError{ReasonLimit, fmt.Sprintf("%d series held, the limit (max_series)", s.live)}
	}
	if fam == nil {
		help := spec.Help
		if help == "" {
			help = "Metric autogenerated by copenhagen."
		}
		fam = &family{name: spec.Name, kind: spec.Kind, help: help}
		s.families[spec.Name] = fam
	}
	ser = &Series{
		name:   fam.name,
		labels: spec.Labels,
		kind:   spec.Kind,
		fam:    fam,
		hash:   h,
		ttl:    int64(spec.TTL),
	}
	ser.lastUpdate.Store(s.clock.Load())
	ser.created = s.clock.Load() / int64(time.Millisecond)
	switch spec.Kind {
	case KindHistogram:
		ser.hist = newHistogram(spec.Buckets)
		if spec.Native.Enabled() {
			ser.hist.native = newNative(spec.Native, s.metrics.NativeReduced)
		}
	case KindSummary:
		ser.sum = prometheus.NewSummary(prometheus.SummaryOpts{
			Name: "summary", Help: "summary",
			Objectives: spec.Objectives, MaxAge: spec.MaxAge, AgeBuckets: spec.AgeBuckets, BufCap: spec.BufCap,
		})
	case KindSet:
		max := s.opts.MaxSetSize
		if max <= 0 {
			max = math.MaxInt
		}
		ser.set = &set{members: map[uint64]struct{}{}, max: max}
	}
	ser.next = s.byHash[h]
	s.byHash[h] = ser
	fam.count++
	s.live++
	s.metrics.Created.Inc()
	return ser, nil
}

func (s *Store) lookup(h uint64, name string, ls labels.Labels) *Series {
	for ser := s.byHash[h]; ser != nil; ser = ser.next {
		if ser.name == name && labels.Equal(ser.labels, ls) {
			return ser
		}
	}
	return nil
}

// collides reports whether a new family would produce sample names that an
// existing family already produces. In the text formats a histogram "foo"
// writes foo_count and foo_sum, and in OpenMetrics a counter "foo" writes
// foo_total: such pairs make scrapers reject the whole page, so the newcomer
// is refused instead (statsd_exporter breaks /metrics here).
func (s *Store) collides(name string, kind Kind) error {
	produced := sampleNames(name, kind)
	for _, p := range produced {
		for _, base := range baseCandidates(p) {
			other := s.families[base]
			if other == nil || other.name == name {
				continue
			}
			for _, q := range sampleNames(other.name, other.kind) {
				if q == p {
					return &RejectError{ReasonNameCollision, fmt.Sprintf("%s %s would write %s, which %s %s already writes", kind, name, p, other.kind, other.name)}
				}
			}
		}
	}
	return nil
}

// sampleNames lists the sample names a family writes in either text format.
func sampleNames(name string, kind Kind) []string {
	switch kind {
	case KindCounter:
		return []string{name, openMetricsCounterName(name)}
	case KindHistogram:
		return []string{name + "_bucket", name + "_count", name + "_sum"}
	case KindSummary:
		return []string{name, name + "_count", name + "_sum"}
	}
	return []string{name}
}

// baseCandidates lists the family names that could write sample name p.
func baseCandidates(p string) []string {
	out := []string{p}
	for _, suf := range []string{"_bucket", "_count", "_sum", "_total"} {
		if b, ok := strings.CutSuffix(p, suf); ok {
			out = append(out, b)
		}
	}
	return out
}

func openMetricsCounterName(name string) string {
	if strings.HasSuffix(name, "_total") {
		return name
	}
	return name + "_total"
}

func (s *Store) validate(spec *Spec) error {
	if spec.Name == "" {
		return &RejectError{ReasonEmptyName, "empty metric name"}
	}
	if strings.HasPrefix(spec.Name, ReservedPrefix) {
		return &RejectError{ReasonReservedName, spec.Name + " uses the prefix reserved for copenhagen's own metrics"}
	}
	if !validMetricName(spec.Name) {
		return &RejectError{ReasonInvalidName, fmt.Sprintf("%q is not a valid metric name", spec.Name)}
	}
	if s.opts.MaxLabels > 0 && spec.Labels.Len()+1 > s.opts.MaxLabels {
		return &RejectError{ReasonTooManyLabels, fmt.Sprintf("%s has %d labels with __name__, more than %d (label_limit)", spec.Name, spec.Labels.Len()+1, s.opts.MaxLabels)}
	}
	if s.opts.MaxLabelValueLength > 0 && len(spec.Name) > s.opts.MaxLabelValueLength {
		return &RejectError{ReasonLabelTooLong, fmt.Sprintf("the name %.64s... is %d bytes, more than %d (label_value_length_limit)", spec.Name, len(spec.Name), s.opts.MaxLabelValueLength)}
	}
	var err error
	spec.Labels.Range(func(l labels.Label) {
		if err != nil {
			return
		}
		switch {
		case !validLabelName(l.Name):
			err = &RejectError{ReasonInvalidLabel, fmt.Sprintf("%s: %q is not a valid label name", spec.Name, l.Name)}
		case !utf8.ValidString(l.Value):
			err = &RejectError{ReasonInvalidLabel, fmt.Sprintf("%s: label %s is not valid UTF-8", spec.Name, l.Name)}
		case s.opts.MaxLabelNameLength > 0 && len(l.Name) > s.opts.MaxLabelNameLength:
			err = &RejectError{ReasonNameTooLong, fmt.Sprintf("%s: label name %.64s... is %d bytes, more than %d (label_name_length_limit)", spec.Name, l.Name, len(l.Name), s.opts.MaxLabelNameLength)}
		case s.opts.MaxLabelValueLength > 0 && len(l.Value) > s.opts.MaxLabelValueLength:
			err = &RejectError{ReasonLabelTooLong, fmt.Sprintf("%s: label %s is %d bytes, more than %d (label_value_length_limit)", spec.Name, l.Name, len(l.Value), s.opts.MaxLabelValueLength)}
		case spec.Kind == KindHistogram && l.Name == "le", spec.Kind == KindSummary && l.Name == "quantile":
			err = &RejectError{ReasonInvalidLabel, fmt.Sprintf("%s: label %s is reserved for %ss", spec.Name, l.Name, spec.Kind)}
		}
	})
	return err
}

// Reject counts a rejection; it is exported for the Worker and for callers
// that reject before a Spec exists.
func (s *Store) Reject(err error) string {
	var re *RejectError
	reason := "other"
	if errors.As(err, &re) {
		reason = re.Reason
	}
	s.metrics.Rejected.WithLabelValues(reason).Inc()
	return reason
}

// Expire removes series not updated within their ttl, marking them dead so
// that readers holding them re-resolve. It returns how many it removed.
func (s *Store) Expire(now time.Time) int {
	n := now.UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	removed := 0
	for h, head := range s.byHash {
		var keep *Series
		var tail *Series
		for ser := head; ser != nil; {
			next := ser.next
			if ser.ttl > 0 && n-ser.lastUpdate.Load() > ser.ttl {
				ser.dead.Store(true)
				ser.fam.count--
				if ser.fam.count == 0 {
					delete(s.families, ser.fam.name)
				}
				s.live--
				removed++
			} else {
				ser.next = nil
				if keep == nil {
					keep = ser
				} else {
					tail.next = ser
				}
				tail = ser
			}
			ser = next
		}
		if keep == nil {
			delete(s.byHash, h)
		} else if keep != head {
			s.byHash[h] = keep
		}
	}
	if removed > 0 {
		s.capacityGen.Add(1)
	}
	s.metrics.Expired.Add(float64(removed))
	return removed
}

// Flush closes the current set windows and expires idle series. It is run
// every statsd.flush_interval.
func (s *Store) Flush(now time.Time) {
	s.Tick(now)
	s.mu.RLock()
	for _, head := range s.byHash {
		for ser := head; ser != nil; ser = ser.next {
			if ser.set != nil {
				ser.set.flush()
			}
		}
	}
	s.mu.RUnlock()
	s.Expire(now)
}

// snapshot returns the live series grouped by family, families sorted by
// name, for exposition.
func (s *Store) snapshot() []familySnapshot {
	s.mu.RLock()
	byFam := make(map[*family][]*Series, len(s.families))
	for _, head := range s.byHash {
		for ser := head; ser != nil; ser = ser.next {
			byFam[ser.fam] = append(byFam[ser.fam], ser)
		}
	}
	s.mu.RUnlock()
	out := make([]familySnapshot, 0, len(byFam))
	for f, ss := range byFam {
		sort.Slice(ss, func(i, j int) bool { return labels.Compare(ss[i].labels, ss[j].labels) < 0 })
		out = append(out, familySnapshot{f.name, f.kind, f.help, ss})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

type familySnapshot struct {
	name   string
	kind   Kind
	help   string
	series []*Series
}

func hashSeries(name string, ls labels.Labels) uint64 {
	return ls.Hash() ^ (xxhash.Sum64String(name) * 0x9E3779B97F4A7C15)
}

func validMetricName(n string) bool {
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return n != ""
}

func validLabelName(n string) bool {
	if n == "" || strings.HasPrefix(n, "__") {
		return false
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		if c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9') {
			continue
		}
		return false
	}
	return true
}
