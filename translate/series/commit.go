package series

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/storage"

	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// Committer writes a Store's flushes to a storage: every live series at
// the flush time, appended and committed as one transaction, so that a
// flush is in the WAL (and survives a crash) as a whole once Commit
// returned. What the storage refuses is counted by reason.
type Committer struct {
	store    *Store
	app      storage.Appendable
	logger   *slog.Logger
	limit    *ratelog.Limiter
	appended prometheus.Counter
	dropped  *prometheus.CounterVec
}

// Reasons of copenhagen_storage_samples_dropped_total{source} for flushes,
// besides the storage's own reasons for the samples it refuses one by one
// (translate/storage.RefusedReasons).
const (
	DropAppendFailed = "append_failed" // the appender failed: the flush was rolled back
	DropCommitFailed = "commit_failed" // the commit failed
)

// NewCommitter returns a Committer of s into app. Its counters carry
// source (e.g. "statsd") as a constant label.
func NewCommitter(s *Store, app storage.Appendable, source string, reg prometheus.Registerer, logger *slog.Logger) *Committer {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	c := &Committer{
		store: s, app: app, logger: logger, limit: ratelog.New(time.Minute),
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "copenhagen_storage_samples_appended_total", ConstLabels: prometheus.Labels{"source": source},
			Help: "Samples of StatsD flushes committed to storage.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_storage_samples_dropped_total", ConstLabels: prometheus.Labels{"source": source},
			Help: "Samples of StatsD flushes that storage refused, by reason.",
		}, []string{"reason"}),
	}
	for _, r := range append([]string{DropAppendFailed, DropCommitFailed}, cstorage.RefusedReasons...) {
		c.dropped.WithLabelValues(r)
	}
	reg.MustRegister(c.appended, c.dropped)
	return c
}

// Commit appends every live series at now and commits them at once.
func (c *Committer) Commit(now time.Time) {
	app := c.app.Appender(context.Background())
	n, err := c.store.AppendTo(app, now.UnixMilli())
	var refused *RefusedError
	if err != nil {
		if !errors.As(err, &refused) {
			_ = app.Rollback()
			c.dropped.WithLabelValues(DropAppendFailed).Add(float64(n))
			c.limit.Warn(c.logger, "StatsD flush not stored", "err", err)
			return
		}
		c.limit.Warn(c.logger, "storage refused some StatsD samples", "err", err)
	}
	if cerr := app.Commit(); cerr != nil {
		c.dropped.WithLabelValues(DropCommitFailed).Add(float64(n))
		c.limit.Warn(c.logger, "StatsD flush not stored", "err", cerr)
		return
	}
	c.appended.Add(float64(n))
	if refused != nil {
		for reason, k := range refused.ByReason {
			c.dropped.WithLabelValues(reason).Add(float64(k))
		}
	}
}
