package shadow

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb"
	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

// ReplayOptions configure a backtest over a past window.
type ReplayOptions struct {
	Graphite Renderer
	Checks   []seyren.Check
	// RuleFiles are the imported rule files (their seyren-<id> groups
	// are stepped; other groups are ignored).
	RuleFiles []string
	// DataDir is Copenhagen's storage.path, opened read-only.
	DataDir string
	// Start and End bound the replay; Interval is the evaluation step
	// (default 1m, Seyren's schedule).
	Start, End time.Time
	Interval   time.Duration
	// Timeout, MinEvaluations, MinEpisodes, TrafficShare, TimerBuckets:
	// as in Options.
	Timeout         time.Duration
	MinEvaluations  int
	MinEpisodes     int
	TrafficShare    float64
	TimerBuckets    []float64
	TimerHistograms seyren.TimerHistogramFunc
	// Seyren, when set, is Seyren's API: each check's alert history is
	// the third column at every step (seyren_replay.go).
	Seyren SeyrenAPI
	// Dir receives the evidence; "" keeps none.
	Dir    string
	Logger *slog.Logger
}

// Replay evaluates the imported groups step by step over [Start, End]
// with Prometheus's rules engine (Group.Eval at each instant, in order,
// as promtool's unit tests step a group: `for`, ALERTS and the rules'
// own earlier output behave as live), over Copenhagen's stored data, and
// compares each step with Seyren's verdict over graphite-web's history at
// the same instant (now=). Steps whose Graphite answer comes from a
// coarser archive than the finest one (older than whisper's finest
// retention) are not comparable (rolled_up), never proof.
func Replay(ctx context.Context, o ReplayOptions) (Report, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if !o.End.After(o.Start) {
		return Report{}, errors.New("replay: --end must be after --start")
	}
	scratchDir, err := os.MkdirTemp("", "copenhagen-replay-")
	if err != nil {
		return Report{}, err
	}
	defer os.RemoveAll(scratchDir)
	q, closeStorage, err := openReplayStorage(o.DataDir, scratchDir, o.Logger)
	if err != nil {
		return Report{}, err
	}
	defer closeStorage()
	scratch := q.scratch
	engine := promql.NewEngine(promql.EngineOpts{
		Logger: o.Logger, MaxSamples: 50_000_000, Timeout: 2 * time.Minute, LookbackDelta: 5 * time.Minute,
		EnableAtModifier: true, EnableNegativeOffset: true,
		NoStepSubqueryIntervalFn: func(int64) int64 { return time.Minute.Milliseconds() },
	})
	qf := rules.EngineQueryFunc(engine, q)
	reg := prometheus.NewRegistry()
	mgr := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:    qf,
		NotifyFunc:   func(context.Context, string, ...*rules.Alert) {},
		Context:      ctx,
		AppendableV2: scratch,
		Queryable:    q,
		Logger:       o.Logger,
		Registerer:   reg,
	})
	interval := o.Interval
	if interval <= 0 {
		interval = time.Minute
	}
	groups, errs := mgr.LoadGroups(interval, labels.EmptyLabels(), "", nil, false, o.RuleFiles...)
	if len(errs) > 0 {
		return Report{}, fmt.Errorf("replay: rule files: %w", errors.Join(errs...))
	}
	var gs []*rules.Group
	for _, g := range groups {
		gs = append(gs, g)
	}
	slices.SortFunc(gs, func(a, b *rules.Group) int {
		if a.Name() < b.Name() {
			return -1
		}
		if a.Name() > b.Name() {
			return 1
		}
		return 0
	})

	s, err := New(Options{
		Graphite: o.Graphite, Checks: o.Checks, QueryFunc: qf, Dir: o.Dir, Timeout: o.Timeout,
		Concurrency: 1, MinEvaluations: o.MinEvaluations, MinEpisodes: o.MinEpisodes,
		TrafficShare: o.TrafficShare, TimerBuckets: o.TimerBuckets, TimerHistograms: o.TimerHistograms, Logger: o.Logger,
		NativeStep: nativeStep(ctx, o.Graphite, o.Checks), RollupNotComparable: true,
		Seyren: o.Seyren, replay: true,
	})
	if err != nil {
		return Report{}, err
	}
	defer s.Stop()
	hist, start := s.replayHistories(ctx, o.Start, interval)
	// All groups at each instant, in time order: the scratch storage gets
	// its samples in order, and each step sees the previous steps' output.
	for ts := start; !ts.After(o.End); ts = ts.Add(interval) {
		if err := ctx.Err(); err != nil {
			return Report{}, err
		}
		for _, g := range gs {
			g.Eval(ctx, ts)
			if out, ok := s.CompareGroup(ctx, g, ts); ok && hist != nil {
				id := g.Name()[len(GroupPrefix):]
				s.compareHistory(id, hist[id], ts, out)
			}
		}
	}
	return s.Report(), nil
}

// nativeStep is the finest step graphite-web answers with for the
// checks' targets now (Seyren's default window reads the finest archive).
func nativeStep(ctx context.Context, g Renderer, checks []seyren.Check) int64 {
	var best int64
	for _, c := range checks {
		series, err := g.Render(ctx, graphiteweb.Request{Target: c.Target, From: seyren.DefaultFrom, Until: "now"})
		if err != nil {
			continue
		}
		for _, s := range series {
			if st := s.Step(); st > 0 && (best == 0 || st < best) {
				best = st
			}
		}
	}
	return best
}
