// Package carbon turns parsed Graphite points into Prometheus samples and
// appends them, at the timestamps they were sent with, to a Prometheus
// storage.Appendable (the embedded TSDB, the agent WAL, or anything else
// that implements the interface).
//
// Names go through the same mapping engine as StatsD (translate/names,
// statsd_exporter's mapping format, matched with metric type gauge), so a
// mapping file written for one protocol works for the other. Unmapped
// paths are escaped with names.EscapeGraphite ("a.b-c" is a_b_c); Graphite
// tags become labels (names escaped with names.EscapeLabelName), and a
// label from a mapping rule wins over a tag of the same name unless the
// rule sets honor_labels, as in statsd_exporter.
//
// Each reader goroutine or connection has its own Worker, which caches the
// translation of the paths it has seen (a map lookup on the raw path, no
// allocation) and holds one Appender per batch: the listener calls Flush
// after every read, which commits. A sample the storage refuses (out of
// order, too old, duplicate, too far in the future) is counted by reason;
// it never stops the batch. The TSDB checks a second sample of a series
// within one appender only at Commit, where it drops a refused one
// silently: so a point not after its series' previous point in the same
// batch first commits the batch, and Append judges it. Series beyond the
// label limits (MaxLabels, MaxLabelNameLength, MaxLabelValueLength) are
// refused and counted. The number of distinct series is bounded per Translator
// (MaxSeries); series beyond it are refused and counted until series idle
// for SeriesIdle are forgotten by Sweep.
package carbon

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	"github.com/copenhagen-obs/copenhagen/ingest/graphite"
	"github.com/copenhagen-obs/copenhagen/translate/names"
	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// Drop reasons of copenhagen_graphite_samples_dropped_total.
const (
	ReasonNoStorage    = "no_storage"    // storage is disabled
	ReasonSeriesLimit  = "series_limit"  // MaxSeries reached
	ReasonMappingDrop  = "mapping_drop"  // a rule with action: drop
	ReasonOutOfOrder   = "out_of_order"  // older than the series' last sample, outside the out-of-order window
	ReasonTooOld       = "too_old"       // older than what the head block (plus window) accepts
	ReasonDuplicate    = "duplicate"     // same timestamp, different value
	ReasonStorageError = "storage_error" // any other append error
	ReasonCommitError  = "commit_error"  // the batch's Commit failed
	// ReasonTooFarInFuture: the storage refused a point stamped beyond its
	// bound ahead of the wall clock (the ingestion bound, graphite.max_future,
	// refuses most before they get here).
	ReasonTooFarInFuture = "too_far_in_future"
	// Label limits (graphite.label_limit, label_name_length_limit,
	// label_value_length_limit).
	ReasonTooManyLabels     = "too_many_labels"
	ReasonLabelNameTooLong  = "label_name_too_long"
	ReasonLabelValueTooLong = "label_value_too_long"
)

var dropReasons = []string{ReasonNoStorage, ReasonSeriesLimit, ReasonMappingDrop, ReasonOutOfOrder,
	ReasonTooOld, ReasonDuplicate, ReasonStorageError, ReasonCommitError, ReasonTooFarInFuture,
	ReasonTooManyLabels, ReasonLabelNameTooLong, ReasonLabelValueTooLong}

// Defaults of Options.
const (
	DefaultMaxSeries  = 1_000_000
	DefaultSeriesIdle = time.Hour
	DefaultCacheSize  = 100_000
)

// Options configure a Translator.
type Options struct {
	// MaxSeries bounds the distinct series this source creates.
	MaxSeries int
	// SeriesIdle is how long a series may go without a point before Sweep
	// forgets it and it stops counting against MaxSeries.
	SeriesIdle time.Duration
	// CacheSize bounds a Worker's path cache; a full cache is emptied.
	CacheSize int
	// Source is the value of the source label of the self-metrics.
	Source string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now replaces time.Now (the series' last-seen clock), for tests.
	Now func() time.Time
	// Label limits of one series, as Prometheus's label_limit (labels,
	// __name__ included), label_name_length_limit and
	// label_value_length_limit (bytes); 0 means no limit. A series beyond
	// one is refused and counted by reason.
	MaxLabels           int
	MaxLabelNameLength  int
	MaxLabelValueLength int
}

// Translator holds what the Workers of one source share: the storage, the
// mapping rules and the series budget.
type Translator struct {
	opts   Options
	app    storage.Appendable
	mapper atomic.Pointer[names.Mapper]
	gen    atomic.Uint64 // bumped by SetMapper: Workers drop their caches

	mu     sync.Mutex
	series map[uint64]*seriesState // by labels hash

	appended prometheus.Counter
	dropped  map[string]prometheus.Counter
	active   prometheus.Gauge
	dropLog  *rateLog
}

// seriesState is one admitted series. lastSeen (unix seconds) is written by
// the Workers and read by Sweep; gone is set when Sweep forgot it, so a
// Worker holding it asks again.
type seriesState struct {
	lastSeen atomic.Int64
	gone     atomic.Bool
}

// New returns a Translator appending to app (nil: storage disabled, every
// point is dropped and counted as no_storage). Its metrics are registered
// on reg (nil: not registered).
func New(app storage.Appendable, m *names.Mapper, opts Options, reg prometheus.Registerer) *Translator {
	if opts.MaxSeries <= 0 {
		opts.MaxSeries = DefaultMaxSeries
	}
	if opts.SeriesIdle <= 0 {
		opts.SeriesIdle = DefaultSeriesIdle
	}
	if opts.CacheSize <= 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.Source == "" {
		opts.Source = "graphite"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if m == nil {
		m = names.Empty()
	}
	f := promauto.With(reg)
	constLabels := prometheus.Labels{"source": opts.Source}
	t := &Translator{
		opts:   opts,
		app:    app,
		series: map[uint64]*seriesState{},
		appended: f.NewCounter(prometheus.CounterOpts{
			Name: "copenhagen_graphite_samples_appended_total", ConstLabels: constLabels,
			Help: "Graphite points appended to storage (committed batches).",
		}),
		active: f.NewGauge(prometheus.GaugeOpts{
			Name: "copenhagen_graphite_series", ConstLabels: constLabels,
			Help: "Distinct series admitted and not yet idle, bounded by graphite.max_series.",
		}),
		dropped: map[string]prometheus.Counter{},
		dropLog: &rateLog{every: 10 * time.Second},
	}
	dv := f.NewCounterVec(prometheus.CounterOpts{
		Name: "copenhagen_graphite_samples_dropped_total", ConstLabels: constLabels,
		Help: "Parsed Graphite points not stored, by reason.",
	}, []string{"reason"})
	for _, r := range dropReasons {
		t.dropped[r] = dv.WithLabelValues(r)
	}
	t.mapper.Store(m)
	return t
}

// SetMapper switches to new mapping rules; Workers notice at their next
// batch and translate every path again.
func (t *Translator) SetMapper(m *names.Mapper) {
	t.mapper.Store(m)
	t.gen.Add(1)
}

// Mapper returns the rules in use.
func (t *Translator) Mapper() *names.Mapper { return t.mapper.Load() }

// Series returns the number of admitted series.
func (t *Translator) Series() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.series)
}

// Sweep forgets series without a point since SeriesIdle before now, so
// that they stop counting against MaxSeries. The app calls it at every
// flush interval.
func (t *Translator) Sweep(now time.Time) {
	limit := now.Add(-t.opts.SeriesIdle).Unix()
	t.mu.Lock()
	for h, s := range t.series {
		if s.lastSeen.Load() < limit {
			s.gone.Store(true)
			delete(t.series, h)
		}
	}
	t.active.Set(float64(len(t.series)))
	t.mu.Unlock()
}

// admit reserves a place for the series with hash h, or returns nil when
// MaxSeries is reached.
func (t *Translator) admit(h uint64, now int64) *seriesState {
	t.mu.Lock()
	defer t.mu.Unlock()
	if s, ok := t.series[h]; ok {
		return s
	}
	if len(t.series) >= t.opts.MaxSeries {
		return nil
	}
	s := &seriesState{}
	s.lastSeen.Store(now)
	t.series[h] = s
	t.active.Set(float64(len(t.series)))
	return s
}

// entry is a Worker's translation of one path.
type entry struct {
	lset  labels.Labels
	ref   storage.SeriesRef
	state *seriesState // nil for dropped paths and refused series
	drop  string       // reason, when the point is not stored
	hash  uint64
	batch *batchState // shared by the paths of the same series
	// refusedAt is when admit last refused the series (unix seconds): a
	// refused path asks again at most once a second, not once a point,
	// so a cardinality flood does not turn into lock contention.
	refusedAt int64
}

// Worker translates and appends the points of one reader goroutine or
// connection. It implements graphite.Sink; it is not safe for concurrent
// use.
type Worker struct {
	t     *Translator
	gen   uint64
	cache map[string]*entry
	app   storage.Appender
	now   int64 // unix seconds at the start of the batch

	builder labels.ScratchBuilder
	pending int // points appended to app since the last Commit
	dropped map[string]uint64

	// seq numbers the batches (appenders); batches holds, per series
	// hash, the last timestamp appended in batch seq, shared by the
	// paths that map to the same series.
	seq     uint64
	batches map[uint64]*batchState
}

// batchState is the last point of one series in the current batch.
type batchState struct {
	seq uint64
	t   int64
}

// NewWorker returns a Worker for one reader goroutine or connection.
func (t *Translator) NewWorker() *Worker {
	return &Worker{
		t: t, gen: t.gen.Load(), cache: map[string]*entry{},
		builder: labels.NewScratchBuilder(8), dropped: map[string]uint64{},
		batches: map[uint64]*batchState{},
	}
}

// Point translates and appends one point. It implements graphite.Sink.
func (w *Worker) Point(p *graphite.Point) {
	if w.t.app == nil {
		w.dropped[ReasonNoStorage]++
		return
	}
	if w.app == nil {
		w.begin()
	}
	e, ok := w.cache[string(p.Path)] // no allocation for the lookup
	if !ok || (e.state != nil && e.state.gone.Load()) {
		e = w.resolve(p)
	}
	if e.drop != "" {
		if e.drop == ReasonSeriesLimit && e.refusedAt != w.now {
			// The budget may have room again after a Sweep.
			if s := w.t.admit(e.hash, w.now); s != nil {
				e.state, e.drop = s, ""
			} else {
				e.refusedAt = w.now
			}
		}
		if e.drop != "" {
			w.dropped[e.drop]++
			return
		}
	}
	if e.state.lastSeen.Load() != w.now {
		e.state.lastSeen.Store(w.now)
	}
	if b := e.batch; b.seq == w.seq && p.Timestamp <= b.t {
		// A second point of the series in this batch, not after the
		// first: the TSDB would check it only at Commit and drop it
		// there without a word (a duplicate, or out of order). Commit
		// what came before, so that Append judges it and a refusal is
		// counted.
		w.commit()
		w.begin()
	}
	ref, err := w.app.Append(e.ref, e.lset, p.Timestamp, p.Value)
	if err != nil {
		w.appendError(err, e, p.Timestamp)
		return
	}
	e.ref = ref
	e.batch.seq, e.batch.t = w.seq, p.Timestamp
	w.pending++
}

func (w *Worker) begin() {
	w.app = w.t.app.Appender(context.Background())
	w.seq++
	w.now = w.t.opts.Now().Unix()
	if g := w.t.gen.Load(); g != w.gen {
		w.gen = g
		clear(w.cache)
		clear(w.batches)
	}
}

// resolve translates a path seen for the first time (or again after a
// Sweep) and caches the result.
func (w *Worker) resolve(p *graphite.Point) *entry {
	if len(w.cache) >= w.t.opts.CacheSize {
		clear(w.cache)
		clear(w.batches)
	}
	e := &entry{}
	key := string(p.Path)
	w.cache[key] = e
	name := string(p.Name)
	res := w.t.mapper.Load().Map(name, names.Gauge)
	if res.Drop {
		e.drop = ReasonMappingDrop
		return e
	}
	metric := res.Name
	if !res.Mapped() {
		metric = names.EscapeGraphite(name)
	}
	if reason := w.t.checkTags(p); reason != "" {
		e.drop = reason
		return e
	}
	b := &w.builder
	b.Reset()
	honor := res.Rule != nil && res.Rule.HonorLabels
	seen := map[string]bool{}
	for _, tg := range p.Tags {
		ln := names.EscapeLabelName(string(tg.Key))
		if _, fromRule := res.Labels[ln]; (fromRule && !honor) || seen[ln] {
			continue
		}
		seen[ln] = true
		b.Add(ln, string(tg.Value))
	}
	for k, v := range res.Labels {
		if honor && seen[k] {
			continue
		}
		if k == labels.MetricName || v == "" {
			continue
		}
		b.Add(k, v)
	}
	b.Add(labels.MetricName, metric)
	b.Sort()
	e.lset = b.Labels()
	if reason := w.t.checkLabels(e.lset); reason != "" {
		e.lset = labels.EmptyLabels()
		e.drop = reason
		return e
	}
	e.hash = e.lset.Hash()
	if e.batch = w.batches[e.hash]; e.batch == nil {
		e.batch = &batchState{}
		w.batches[e.hash] = e.batch
	}
	if e.state = w.t.admit(e.hash, w.now); e.state == nil {
		e.drop = ReasonSeriesLimit
		e.refusedAt = w.now
	}
	return e
}

// storageReasons maps the storage's refusal reasons to the drop reasons.
var storageReasons = map[string]string{
	cstorage.RefusedTooFarInFuture: ReasonTooFarInFuture,
	cstorage.RefusedOutOfOrder:     ReasonOutOfOrder,
	cstorage.RefusedTooOld:         ReasonTooOld,
	cstorage.RefusedDuplicate:      ReasonDuplicate,
}

func (w *Worker) appendError(err error, e *entry, t int64) {
	r, ok := cstorage.RefusalReason(err)
	reason := storageReasons[r]
	if !ok || reason == "" {
		reason = ReasonStorageError
	}
	if (reason == ReasonStorageError || reason == ReasonTooFarInFuture) && w.t.dropLog.allow() {
		w.t.opts.Logger.Warn("storage refused a Graphite point (further refusals are counted in copenhagen_graphite_samples_dropped_total, logged at most every 10s)",
			"series", e.lset.String(), "timestamp", time.UnixMilli(t).UTC(), "err", err)
	}
	w.dropped[reason]++
}

// Flush commits the batch and publishes the counts. The listener calls it
// after every read, so a point is acknowledged (in the WAL) at most one
// read after it arrived.
func (w *Worker) Flush() {
	w.commit()
	for r, n := range w.dropped {
		if n > 0 {
			w.t.dropped[r].Add(float64(n))
			w.dropped[r] = 0
		}
	}
}

// commit commits the batch, if one is open.
func (w *Worker) commit() {
	if w.app == nil {
		return
	}
	if err := w.app.Commit(); err != nil {
		w.dropped[ReasonCommitError] += uint64(w.pending)
		if w.t.dropLog.allow() {
			w.t.opts.Logger.Error("committing Graphite points to storage failed", "points", w.pending, "err", err)
		}
	} else if w.pending > 0 {
		w.t.appended.Add(float64(w.pending))
	}
	w.app = nil
	w.pending = 0
}

// rateLog lets one log line through per interval.
type rateLog struct {
	every time.Duration
	next  atomic.Int64
}

func (l *rateLog) allow() bool {
	now := time.Now().UnixNano()
	next := l.next.Load()
	return now >= next && l.next.CompareAndSwap(next, now+int64(l.every))
}
