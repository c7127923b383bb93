package storage

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/exemplar"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
)

// DefaultMaxFuture is how far ahead of the wall clock a sample may be
// when Options.MaxFuture is 0.
const DefaultMaxFuture = 10 * time.Minute

// ErrTooFarInFuture is returned by Append for a sample stamped further
// ahead of the wall clock than Options.MaxFuture. The TSDB would accept
// it, move its head there and then refuse every sample of the present as
// too old (and time retention, measured from the head, would delete the
// blocks of the past): the guard keeps the head at the wall clock.
//
// It wraps storage.ErrOutOfBounds, so callers that skip samples outside
// the TSDB's bounds skip this one too.
var ErrTooFarInFuture = fmt.Errorf("%w: timestamp too far in the future", storage.ErrOutOfBounds)

// Refusal reasons, the reason label of copenhagen_storage_samples_refused_total
// and of the per-source drop counters that classify storage errors with
// RefusalReason.
const (
	RefusedTooFarInFuture = "too_far_in_future"
	RefusedOutOfOrder     = "out_of_order"
	RefusedTooOld         = "too_old"
	RefusedDuplicate      = "duplicate"
	RefusedOther          = "other"
)

// RefusedReasons lists every refusal reason, for counters created up front.
var RefusedReasons = []string{RefusedTooFarInFuture, RefusedOutOfOrder, RefusedTooOld, RefusedDuplicate, RefusedOther}

// refusals classify append errors, in order: the first match wins (the
// future error also matches ErrOutOfBounds).
var refusals = []struct {
	err    error
	reason string
}{
	{ErrTooFarInFuture, RefusedTooFarInFuture},
	{storage.ErrOutOfOrderSample, RefusedOutOfOrder},
	{storage.ErrOutOfBounds, RefusedTooOld},
	{storage.ErrTooOldSample, RefusedTooOld},
	{storage.ErrDuplicateSampleForTimestamp, RefusedDuplicate},
}

// RefusalReason classifies an Append error. ok is false for an error that
// is not about the one sample (the appender or the storage is broken):
// the caller should stop the batch rather than skip the sample.
func RefusalReason(err error) (reason string, ok bool) {
	for _, r := range refusals {
		if errors.Is(err, r.err) {
			return r.reason, true
		}
	}
	return RefusedOther, false
}

// guardMetrics count what the guard and the storage behind it refused,
// whatever the source (StatsD flushes, Graphite points, rule output).
type guardMetrics struct {
	refused map[string]prometheus.Counter
}

func newGuardMetrics(reg prometheus.Registerer) *guardMetrics {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "copenhagen_storage_samples_refused_total",
		Help: "Samples the storage refused at Append, by reason, whatever their source (StatsD, Graphite, rule output). Refusals inside one Commit are counted by the sources.",
	}, []string{"reason"})
	m := &guardMetrics{refused: map[string]prometheus.Counter{}}
	for _, r := range RefusedReasons {
		m.refused[r] = vec.WithLabelValues(r)
	}
	reg.MustRegister(vec)
	return m
}

// guardAppender refuses samples stamped after limit (the wall clock at
// Appender time plus MaxFuture) and counts every refusal by reason.
type guardAppender struct {
	storage.Appender
	limit   int64
	metrics *guardMetrics
	histogramCount
}

func (a *guardAppender) refused(err error) {
	if err == nil {
		return
	}
	reason, _ := RefusalReason(err)
	a.metrics.refused[reason].Inc()
}

func (a *guardAppender) Append(ref storage.SeriesRef, l labels.Labels, t int64, v float64) (storage.SeriesRef, error) {
	if t > a.limit {
		a.metrics.refused[RefusedTooFarInFuture].Inc()
		return 0, ErrTooFarInFuture
	}
	ref, err := a.Appender.Append(ref, l, t, v)
	a.refused(err)
	return ref, err
}

func (a *guardAppender) AppendHistogram(ref storage.SeriesRef, l labels.Labels, t int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	if t > a.limit {
		a.metrics.refused[RefusedTooFarInFuture].Inc()
		return 0, ErrTooFarInFuture
	}
	ref, err := a.Appender.AppendHistogram(ref, l, t, h, fh)
	a.refused(err)
	a.add(err)
	return ref, err
}

// Commit commits, then counts the committed native histograms for the
// remote write targets that do not take them (histograms.go).
func (a *guardAppender) Commit() error { return a.commit(a.Appender.Commit()) }

// Rollback forgets the histograms appended so far.
func (a *guardAppender) Rollback() error {
	a.n = 0
	return a.Appender.Rollback()
}

// AppendSTZeroSample refuses a zero for a sample that Append would refuse;
// a refused zero is not a refused sample and is not counted.
func (a *guardAppender) AppendSTZeroSample(ref storage.SeriesRef, l labels.Labels, t, st int64) (storage.SeriesRef, error) {
	if t > a.limit {
		return 0, ErrTooFarInFuture
	}
	return a.Appender.AppendSTZeroSample(ref, l, t, st)
}

func (a *guardAppender) AppendHistogramSTZeroSample(ref storage.SeriesRef, l labels.Labels, t, st int64, h *histogram.Histogram, fh *histogram.FloatHistogram) (storage.SeriesRef, error) {
	if t > a.limit {
		return 0, ErrTooFarInFuture
	}
	return a.Appender.AppendHistogramSTZeroSample(ref, l, t, st, h, fh)
}

func (a *guardAppender) AppendExemplar(ref storage.SeriesRef, l labels.Labels, e exemplar.Exemplar) (storage.SeriesRef, error) {
	if e.HasTs && e.Ts > a.limit {
		return 0, ErrTooFarInFuture
	}
	return a.Appender.AppendExemplar(ref, l, e)
}

// guardAppenderV2 is guardAppender for Prometheus's V2 interface (the rules
// manager's): rule output stamped after limit is refused, every refusal is
// counted by reason, and the native histograms committed are counted for
// the remote write targets that do not take them (a recording rule over
// native histograms records native histograms).
type guardAppenderV2 struct {
	storage.AppenderV2
	limit   int64
	metrics *guardMetrics
	histogramCount
}

func (a *guardAppenderV2) Append(ref storage.SeriesRef, ls labels.Labels, st, t int64, v float64, h *histogram.Histogram, fh *histogram.FloatHistogram, opts storage.AppendV2Options) (storage.SeriesRef, error) {
	if t > a.limit {
		a.metrics.refused[RefusedTooFarInFuture].Inc()
		return 0, ErrTooFarInFuture
	}
	ref, err := a.AppenderV2.Append(ref, ls, st, t, v, h, fh, opts)
	if err != nil {
		reason, _ := RefusalReason(err)
		a.metrics.refused[reason].Inc()
	}
	if h != nil || fh != nil {
		a.add(err)
	}
	return ref, err
}

func (a *guardAppenderV2) Commit() error { return a.commit(a.AppenderV2.Commit()) }

func (a *guardAppenderV2) Rollback() error {
	a.n = 0
	return a.AppenderV2.Rollback()
}
