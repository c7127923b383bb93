package series

import (
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
	"github.com/copenhagen-obs/copenhagen/ingest/statsd"
	"github.com/copenhagen-obs/copenhagen/translate/names"
)

// Translator turns parsed StatsD lines into updates of a Store, through the
// current mapping rules. It is shared by all reader goroutines; each of them
// works through its own Worker.
type Translator struct {
	store   *Store
	mapper  atomic.Pointer[names.Mapper]
	gen     atomic.Uint64
	metrics *translatorMetrics
	logger  *slog.Logger
	// maxCache bounds each Worker's cache of resolved names.
	maxCache int
}

type translatorMetrics struct {
	cacheHits, cacheMisses prometheus.Counter
	results                *prometheus.CounterVec
}

// NewTranslator returns a Translator feeding store through m.
func NewTranslator(store *Store, m *names.Mapper, reg prometheus.Registerer, logger *slog.Logger) *Translator {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	t := &Translator{store: store, logger: logger, maxCache: 1 << 20}
	if store.opts.MaxSeries > 0 {
		t.maxCache = 2*store.opts.MaxSeries + 1024
	}
	t.mapper.Store(m)
	t.metrics = &translatorMetrics{
		cacheHits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "copenhagen_statsd_mapping_cache_hits_total",
			Help: "Lines whose name, type and tags were already resolved to a series.",
		}),
		cacheMisses: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "copenhagen_statsd_mapping_cache_misses_total",
			Help: "Lines that went through tag parsing and the mapping rules.",
		}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_statsd_mapping_results_total",
			Help: "Names resolved, by outcome: mapped by a rule, unmapped (escaped), dropped by a rule.",
		}, []string{"result"}),
	}
	for _, r := range []string{"mapped", "unmapped", "drop"} {
		t.metrics.results.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(t.metrics.cacheHits, t.metrics.cacheMisses, t.metrics.results)
	}
	return t
}

// SetMapper switches to new mapping rules. Workers notice at their next
// line and resolve names again; existing series stay until their ttl.
func (t *Translator) SetMapper(m *names.Mapper) {
	t.mapper.Store(m)
	t.gen.Add(1)
}

// Mapper returns the rules in use.
func (t *Translator) Mapper() *names.Mapper { return t.mapper.Load() }

// Store returns the store being fed.
func (t *Translator) Store() *Store { return t.store }

var memberSeed = maphash.MakeSeed()

// entry is what a Worker remembers about one wire name+type+tags.
type entry struct {
	ser    *Series
	scale  float64
	div    float64 // 1000 for ms timers: Prometheus observes seconds
	drop   bool
	reject string // non-empty: the series cannot exist, for this reason
	gen    uint64 // store capacity generation when rejected for the limit
}

// Worker is one reader goroutine's view of a Translator. It is not safe
// for concurrent use. It implements statsd.Sink.
type Worker struct {
	t     *Translator
	cache map[string]*entry
	gen   uint64
	key   []byte
	tags  []statsd.Tag
	lb    *labels.Builder

	maxCache              int
	hits, misses          uint64
	mapped, unmapped, drp uint64
	rejects               map[string]uint64
	rejectLog             *ratelog.Limiter
}

// NewWorker returns a Worker for one reader goroutine.
func (t *Translator) NewWorker() *Worker { return t.NewWorkerCache(0) }

// NewWorkerCache returns a Worker whose cache holds at most maxCache names
// (0: twice max_series). Short-lived TCP connections use a small one, so
// that a thousand connections do not each hold a copy of every name.
func (t *Translator) NewWorkerCache(maxCache int) *Worker {
	if maxCache <= 0 {
		maxCache = t.maxCache
	}
	return &Worker{
		t:        t,
		maxCache: maxCache,
		cache:    map[string]*entry{},
		gen:      t.gen.Load(),
		lb:       labels.NewBuilder(labels.EmptyLabels()),
		rejects:  map[string]uint64{},
		// One line per 5 s per reader: the counter has the rest.
		rejectLog: ratelog.New(5 * time.Second),
	}
}

// Metric applies one parsed line. Names already seen cost a map lookup and
// atomic updates, nothing else.
func (w *Worker) Metric(l *statsd.Line) {
	if g := w.t.gen.Load(); g != w.gen {
		// New mapping rules: forget what the old ones said.
		w.gen = g
		clear(w.cache)
	}
	k := append(w.key[:0], l.NameSection...)
	k = append(k, 0, byte(l.Type), 0)
	k = append(k, l.DogTags...)
	w.key = k
	e := w.cache[string(k)]
	if e == nil || (e.ser != nil && e.ser.Dead()) || (e.reject == ReasonLimit && e.gen != w.t.store.capacityGen.Load()) {
		w.misses++
		if l.Type == statsd.TypeCounter && !anyIncrement(l) {
			// Every value is negative (name:-1|c): the line is refused,
			// and must not create a series that would then show 0.
			w.rejects[ReasonNegativeCount] += uint64(len(l.Values))
			return
		}
		e, _, _ = w.resolve(l)
		if len(w.cache) >= w.maxCache {
			clear(w.cache)
		}
		w.cache[string(k)] = e
	} else {
		w.hits++
	}
	if w.apply(e, l) {
		// The series expired between lookup and update: what went into it
		// would be lost, so resolve again and apply once more.
		e, _, _ = w.resolve(l)
		w.cache[string(k)] = e
		w.apply(e, l)
	}
}

// apply updates the series; it returns true if the series turned out dead.
func (w *Worker) apply(e *entry, l *statsd.Line) bool {
	if e.drop {
		return false
	}
	if e.reject != "" {
		w.rejects[e.reject]++
		return false
	}
	s := e.ser
	switch s.kind {
	case KindCounter:
		for _, v := range l.Values {
			v = v / l.SampleRate * e.scale
			if v < 0 {
				w.rejects[ReasonNegativeCount]++
				continue
			}
			s.Add(v)
		}
	case KindGauge:
		for _, v := range l.Values {
			if l.Relative {
				s.Add(v * e.scale)
			} else {
				s.Set(v * e.scale)
			}
		}
	case KindHistogram, KindSummary:
		n := uint64(1)
		if l.SampleRate > 0 && l.SampleRate < 1 {
			// As statsd_exporter: one observation at rate 0.1 stands for
			// int(1/0.1) observations.
			n = uint64(1 / l.SampleRate)
		}
		for _, v := range l.Values {
			s.Observe(v/e.div*e.scale, n)
		}
	case KindSet:
		for _, m := range l.Members {
			if !s.AddMember(maphash.Bytes(memberSeed, m)) {
				w.rejects[ReasonSetFull]++
			}
		}
	}
	s.touch(w.t.store.clock.Load())
	return s.Dead()
}

func mapperType(t statsd.Type) names.MetricType {
	switch t {
	case statsd.TypeCounter:
		return names.Counter
	case statsd.TypeGauge, statsd.TypeSet:
		return names.Gauge
	}
	return names.Observer
}

// resolve finds or creates the series a line feeds. It returns the
// mapping result and the refusal, if any, for Explain.
func (w *Worker) resolve(l *statsd.Line) (*entry, names.Result, error) {
	st := w.t.store
	tags, err := l.Tags(w.tags[:0])
	w.tags = tags[:0]
	if err != nil {
		return &entry{reject: ReasonInvalidLabel}, names.Result{}, &RejectError{ReasonInvalidLabel, err.Error()}
	}
	if max := st.opts.MaxLabels; max > 0 && len(tags)+1 > max {
		// Refused before 5 000 tags are built into labels (a repeated
		// key is counted each time it is sent).
		err := &RejectError{ReasonTooManyLabels, fmt.Sprintf("%d tags, more than label_limit %d allows", len(tags), max)}
		w.logReject(string(l.Name), err)
		return &entry{reject: ReasonTooManyLabels}, names.Result{}, err
	}
	m := w.t.mapper.Load()
	res := m.Map(string(l.Name), mapperType(l.Type))
	if res.Drop {
		w.drp++
		return &entry{drop: true}, res, nil
	}
	if res.Mapped() {
		w.mapped++
	} else {
		w.unmapped++
	}
	rule := res.Rule
	defaults := m.Defaults()

	w.lb.Reset(labels.EmptyLabels())
	for _, t := range tags {
		w.lb.Set(names.Escape(string(t.Key)), string(t.Value))
	}
	for k, v := range res.Labels {
		if rule != nil && rule.HonorLabels && w.lb.Get(k) != "" {
			continue
		}
		w.lb.Set(k, v)
	}
	spec := Spec{Name: res.Name, Labels: w.lb.Labels(), TTL: defaults.Ttl}
	e := &entry{scale: 1, div: 1}
	if rule != nil {
		spec.Help = rule.HelpText
		spec.TTL = rule.Ttl
		if rule.Scale.Set {
			e.scale = rule.Scale.Val
		}
	}
	switch l.Type {
	case statsd.TypeCounter:
		spec.Kind = KindCounter
	case statsd.TypeGauge:
		spec.Kind = KindGauge
	case statsd.TypeSet:
		spec.Kind = KindSet
	default:
		if l.Type == statsd.TypeTimer {
			e.div = 1000
		}
		if layout, ok := m.Histogram(rule); ok {
			spec.Kind = KindHistogram
			spec.Buckets = layout.Classic
			if layout.Native() {
				spec.Native = Native{Factor: layout.NativeFactor, MaxBuckets: layout.NativeMaxBuckets}
			}
		} else {
			spec.Kind = KindSummary
			opts := defaults.SummaryOptions
			if rule != nil && rule.SummaryOptions != nil {
				if len(rule.SummaryOptions.Quantiles) > 0 {
					opts.Quantiles = rule.SummaryOptions.Quantiles
				}
				if rule.SummaryOptions.MaxAge != 0 {
					opts.MaxAge = rule.SummaryOptions.MaxAge
				}
				if rule.SummaryOptions.AgeBuckets != 0 {
					opts.AgeBuckets = rule.SummaryOptions.AgeBuckets
				}
				if rule.SummaryOptions.BufCap != 0 {
					opts.BufCap = rule.SummaryOptions.BufCap
				}
			}
			spec.Objectives = make(map[float64]float64, len(opts.Quantiles))
			for _, q := range opts.Quantiles {
				spec.Objectives[q.Quantile] = q.Error
			}
			spec.MaxAge, spec.AgeBuckets, spec.BufCap = opts.MaxAge, opts.AgeBuckets, opts.BufCap
		}
	}
	ser, err := st.Get(&spec)
	if err != nil {
		reason := ReasonInvalidName
		if re, ok := err.(*RejectError); ok {
			reason = re.Reason
		}
		w.logReject(string(l.Name), err)
		return &entry{reject: reason, gen: st.capacityGen.Load()}, res, err
	}
	e.ser = ser
	return e, res, nil
}

// Explanation is what a line becomes, for `copenhagen translate name`.
type Explanation struct {
	Series *Series      // nil when dropped or refused
	Result names.Result // the mapping outcome
	Err    error        // why the series was refused
	Scale  float64      // the rule's scale, 1 without one
	Unit   float64      // 1000 for ms timers (observed in seconds)
}

// Explain resolves a line exactly as ingestion does, creating its series
// in the Worker's store.
func (w *Worker) Explain(l *statsd.Line) Explanation {
	e, res, err := w.resolve(l)
	return Explanation{Series: e.ser, Result: res, Err: err, Scale: e.scale, Unit: e.div}
}

func (w *Worker) logReject(name string, err error) {
	w.rejectLog.Warn(w.t.logger, "statsd series refused (further refusals are counted in copenhagen_series_rejected_total, logged at most every 5s)", "name", name, "err", err)
}

// Flush publishes the worker's counts. The reader calls it after every
// batch.
func (w *Worker) Flush() {
	m := w.t.metrics
	if w.hits > 0 {
		m.cacheHits.Add(float64(w.hits))
		w.hits = 0
	}
	if w.misses > 0 {
		m.cacheMisses.Add(float64(w.misses))
		w.misses = 0
	}
	if w.mapped > 0 {
		m.results.WithLabelValues("mapped").Add(float64(w.mapped))
		w.mapped = 0
	}
	if w.unmapped > 0 {
		m.results.WithLabelValues("unmapped").Add(float64(w.unmapped))
		w.unmapped = 0
	}
	if w.drp > 0 {
		m.results.WithLabelValues("drop").Add(float64(w.drp))
		w.drp = 0
	}
	for r, n := range w.rejects {
		if n > 0 {
			w.t.store.metrics.Rejected.WithLabelValues(r).Add(float64(n))
			w.rejects[r] = 0
		}
	}
}

// anyIncrement reports whether a counter line has a value that is not
// negative before the rule's scale (which the series is needed to know):
// a line without one is refused without creating its series. A line
// without values (translate name) resolves as usual.
func anyIncrement(l *statsd.Line) bool {
	if len(l.Values) == 0 {
		return true
	}
	for _, v := range l.Values {
		if v >= 0 || v != v {
			return true
		}
	}
	return false
}
