// Package evaluate runs Prometheus rule files with Prometheus's own rules
// manager, so that the rules `copenhagen import seyren` writes (and any
// other Prometheus rule file) behave exactly as they would in Prometheus:
// same PromQL, same `for`/keep_firing_for, same ALERTS and
// ALERTS_FOR_STATE series, same resend rules. What it adds is what Seyren
// users never had: a rule that fails to evaluate, or an imported check
// whose data stopped, raises an alert of its own (see health.go) instead
// of staying silently green.
package evaluate

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/annotations"

	"github.com/copenhagen-obs/copenhagen/alerting"
)

// Options configure an Evaluator.
type Options struct {
	// Interval is the evaluation interval of groups that do not set
	// their own.
	Interval time.Duration
	// QueryFunc is what rules read: LocalQueryFunc over the embedded
	// TSDB, or RemoteQueryFunc over a Prometheus-compatible API.
	QueryFunc rules.QueryFunc
	// Appendable receives recording rule results and the ALERTS and
	// ALERTS_FOR_STATE series.
	Appendable storage.AppendableV2
	// Queryable is read once per new group at start, to restore the
	// `for` state of pending and firing alerts from ALERTS_FOR_STATE.
	// nil: alerts start afresh after a restart.
	Queryable storage.Queryable
	// Sender gets the alerts (rule alerts and the evaluator's own). nil:
	// alerts are only visible in the API and the ALERTS series.
	Sender alerting.Sender
	// ExternalURL prefixes the generatorURL of alerts (Prometheus's
	// --web.external-url): "<url>/graph?g0.expr=...".
	ExternalURL string
	// OutageTolerance, ForGracePeriod and ResendDelay are Prometheus's
	// --rules.alert.* settings.
	OutageTolerance time.Duration
	ForGracePeriod  time.Duration
	ResendDelay     time.Duration
	// NoDataIntervals is how many consecutive evaluations an imported
	// Seyren check must find no data before CopenhagenCheckNoData fires.
	// 0 disables that alert.
	NoDataIntervals int
	// AfterIteration, when set, is called in each group's goroutine right
	// after the group was evaluated at ts, with the rules' state as that
	// evaluation left it (the switchover shadow, alerting/shadow). It must
	// not block: evaluation waits for it.
	AfterIteration func(ctx context.Context, g *rules.Group, ts time.Time)
	Logger         *slog.Logger
	// Registerer gets Prometheus's prometheus_rule_* metrics and
	// Copenhagen's copenhagen_rules_* ones.
	Registerer prometheus.Registerer
}

// Evaluator evaluates rule files. Build it with New, load files with
// Update (also on reload: alert state of unchanged rules is kept), and
// stop it with Stop.
type Evaluator struct {
	opts   Options
	mgr    *rules.Manager
	health *health
	parser parser.Parser
	logger *slog.Logger

	stopOnce sync.Once
	done     chan struct{} // closed by Stop
}

// New builds an Evaluator; it evaluates nothing until Update.
func New(o Options) (*Evaluator, error) {
	if o.QueryFunc == nil {
		return nil, errors.New("evaluate: a QueryFunc is required")
	}
	if o.Appendable == nil {
		return nil, errors.New("evaluate: an Appendable is required for recording rules and ALERTS")
	}
	if o.Interval <= 0 {
		o.Interval = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
	q := o.Queryable
	if q == nil {
		q = emptyQueryable{}
	}
	var u *url.URL
	if o.ExternalURL != "" {
		var err error
		if u, err = url.Parse(o.ExternalURL); err != nil {
			return nil, fmt.Errorf("evaluate: external URL: %w", err)
		}
	}
	e := &Evaluator{
		opts:   o,
		parser: parser.NewParser(parser.Options{}),
		logger: o.Logger,
		done:   make(chan struct{}),
	}
	notify := func(context.Context, string, ...*rules.Alert) {}
	if o.Sender != nil {
		notify = rules.SendAlerts(o.Sender, o.ExternalURL)
	}
	e.health = newHealth(o, e.parser, o.Registerer)
	e.mgr = rules.NewManager(&rules.ManagerOptions{
		ExternalURL:     u,
		QueryFunc:       o.QueryFunc,
		NotifyFunc:      notify,
		Context:         context.Background(),
		AppendableV2:    o.Appendable,
		Queryable:       q,
		Logger:          o.Logger.With("component", "rules"),
		Registerer:      o.Registerer,
		OutageTolerance: o.OutageTolerance,
		ForGracePeriod:  o.ForGracePeriod,
		ResendDelay:     o.ResendDelay,
		Parser:          e.parser,
	})
	go e.mgr.Run()
	return e, nil
}

// Files expands glob patterns into the sorted list of rule files they
// match (Prometheus's rule_files semantics: a pattern matching nothing is
// not an error).
func Files(patterns []string) ([]string, error) {
	var files []string
	for _, p := range patterns {
		m, err := filepath.Glob(p)
		if err != nil {
			return nil, fmt.Errorf("rule file pattern %q: %w", p, err)
		}
		files = append(files, m...)
	}
	slices.Sort(files)
	return slices.Compact(files), nil
}

// Check parses the rule files matched by patterns without loading them,
// for the first phase of a reload: a file that does not parse refuses
// the reload and the running rules stay.
func (e *Evaluator) Check(patterns []string) error {
	files, err := Files(patterns)
	if err != nil {
		return err
	}
	return rules.ParseFiles(files, model.UTF8Validation, e.parser, e.logger)
}

// Update loads the rule files matched by patterns, with interval as the
// default group interval (0 keeps the configured one). Groups whose rules
// did not change keep running undisturbed; changed groups take over the
// state of their active alerts (Prometheus's reload semantics). On an
// error the previous rules keep running.
func (e *Evaluator) Update(patterns []string, interval time.Duration) error {
	files, err := Files(patterns)
	if err != nil {
		return err
	}
	if interval <= 0 {
		interval = e.opts.Interval
	}
	if err := e.Check(patterns); err != nil {
		return err
	}
	if err := e.mgr.Update(interval, files, labels.EmptyLabels(), e.opts.ExternalURL, e.health.iterate); err != nil {
		return fmt.Errorf("loading rule files: %w", err)
	}
	e.health.retain(e.mgr.RuleGroups())
	return nil
}

// Run blocks until Stop. (Evaluation starts with New: the manager runs
// from the start, so that Update and Stop never wait on groups that
// cannot start, whatever the order of calls.)
func (e *Evaluator) Run() { <-e.done }

// Stop stops evaluation: running group iterations finish, then no more
// alerts are sent. It may be called more than once.
func (e *Evaluator) Stop() {
	e.stopOnce.Do(func() {
		e.mgr.Stop()
		close(e.done)
	})
}

// Manager is Prometheus's rules manager, for the HTTP API and tests.
func (e *Evaluator) Manager() *rules.Manager { return e.mgr }

// SelfAlerts returns the evaluator's own alerts that are currently
// firing (CopenhagenRuleEvaluationFailing, CopenhagenCheckNoData).
func (e *Evaluator) SelfAlerts() []*notifier.Alert { return e.health.active() }

type emptyQueryable struct{}

func (emptyQueryable) Querier(int64, int64) (storage.Querier, error) { return emptyQuerier{}, nil }

type emptyQuerier struct{}

func (emptyQuerier) Select(context.Context, bool, *storage.SelectHints, ...*labels.Matcher) storage.SeriesSet {
	return storage.EmptySeriesSet()
}
func (emptyQuerier) LabelValues(context.Context, string, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}
func (emptyQuerier) LabelNames(context.Context, *storage.LabelHints, ...*labels.Matcher) ([]string, annotations.Annotations, error) {
	return nil, nil, nil
}
func (emptyQuerier) Close() error { return nil }
