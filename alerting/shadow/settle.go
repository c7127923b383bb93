package shadow

import (
	"container/heap"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"

	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

// The settled second pass (switchover.md §5.2). A disagreement found at
// evaluation time ts is only provisional: graphite-web may not have had
// the last points yet (carbon-cache, statsd's flush phase, graphite-web's
// own cache), nor Copenhagen's storage. At ts+settle_delay both sides are
// asked again about the same instant ts: graphite-web renders the check's
// target with now=ts, and the imported group's value expression and alert
// conditions are evaluated at ts by the query engine over the stored
// data. A mismatch that disappears is re-classed ReasonTiming; one that
// persists gets the class the settled values give it (a logic class, or
// unexplained), and its evidence line records the settled values.
//
// Counting. Each disagreement is counted once in CheckStats.Reasons,
// under its provisional class at evaluation time; the settled pass moves
// it to its settled class (Reasons[provisional]--, Reasons[settled]++;
// CheckStats.Settle.Reclassed["provisional->settled"]++), so the report
// and the verdict always see each disagreement exactly once, with its
// latest class. Prometheus counters cannot move, so
// copenhagen_shadow_disagreements_total{reason} stays the provisional
// class and never changes, and copenhagen_shadow_settled_disagreements_total
// {check_id,reason} counts the same disagreements a second time, once
// settled, with their settled class: when nothing is pending the two have
// the same sum. A disagreement whose second pass cannot compare (graphite
// unreachable then), or that the full queue drops, is settled with its
// provisional class.
//
// Bounds. Pending settles wait in one heap ordered by due time, capped at
// Options.SettleQueue (beyond it a disagreement keeps its provisional
// class, counted as dropped_full); one timer goroutine hands due ones to
// the shadow's workers, so the settled renders share the live renders'
// concurrency towards graphite-web. Stop saves pending settles (and one
// cut short by Stop) in state.json; the next Shadow over the same Dir
// loads them and runs the overdue ones at once: now=ts makes a late
// settle as good as a punctual one while ts is in whisper's finest
// archive.

// ReasonTiming is a disagreement the settled pass no longer sees: late
// points, caches, clock skew. A known cause, not a logic error.
const ReasonTiming = "timing"

// Outcomes of a settled pass (copenhagen_shadow_settles_total{outcome}).
const (
	SettleTiming        = "timing"         // the mismatch disappeared: re-classed timing
	SettlePersisted     = "persisted"      // it persists: a logic class (or unexplained)
	SettleNotComparable = "not_comparable" // the second pass could not compare: provisional class kept
	SettleDroppedFull   = "dropped_full"   // the pending queue was full: provisional class kept
)

// DefaultSettleQueue bounds the pending settles: ten minutes of a
// thousand checks disagreeing at every evaluation.
const DefaultSettleQueue = 10000

// SettleStats is a check's record of its settled passes.
type SettleStats struct {
	// Pending disagreements wait for their settled pass.
	Pending int `json:"pending"`
	// Timing, Persisted, NotComparable, Dropped count the outcomes.
	Timing        int `json:"timing"`
	Persisted     int `json:"persisted"`
	NotComparable int `json:"not_comparable"`
	Dropped       int `json:"dropped"`
	// Reclassed counts the disagreements whose class the settled pass
	// changed, by "provisional->settled".
	Reclassed map[string]int `json:"reclassed,omitempty"`
}

func (ss SettleStats) clone() SettleStats {
	ss.Reclassed = maps.Clone(ss.Reclassed)
	return ss
}

// SettledEvidence is what the settled pass saw, added to the
// disagreement's evidence line.
type SettledEvidence struct {
	// At is when the settled pass ran (the instant compared is the
	// evidence's own At).
	At     time.Time `json:"at"`
	Result string    `json:"result"`
	// Reason is the settled class (ReasonTiming when they agree now), or
	// why the second pass could not compare.
	Reason         string          `json:"reason"`
	Graphite       State           `json:"graphite"`
	PromQL         State           `json:"promql"`
	GraphiteValues []EvidenceValue `json:"graphite_values"`
	PromQLValues   []EvidenceValue `json:"promql_values"`
	RenderURL      string          `json:"render_url"`
	// StateFrom says how the PromQL state was recomputed.
	StateFrom string `json:"state_from"`
}

// settleAlert is one alerting rule of an imported group: its condition
// over seyren_check_value and the state it means when it holds.
type settleAlert struct {
	Expr  string `json:"expr"`
	State State  `json:"state"`
}

// pendingSettle is a disagreement waiting for its second pass; saved in
// state.json by Stop.
type pendingSettle struct {
	CheckID string    `json:"check_id"`
	At      time.Time `json:"at"`
	Due     time.Time `json:"due"`
	// Reason is the provisional class.
	Reason string `json:"reason"`
	// Before is Seyren's per-target state before the evaluation, so that
	// the second run starts where the first did.
	Before LastStates `json:"seyren_states,omitempty"`
	// PromQL is the group's value expression, Alerts its alert
	// conditions, For the longest `for`/keep_firing_for among them.
	PromQL string        `json:"promql"`
	Alerts []settleAlert `json:"alerts,omitempty"`
	For    time.Duration `json:"for,omitempty"`
	// The history the first comparison was classed with.
	MinStep      int64 `json:"min_step,omitempty"`
	PrevGraphite State `json:"prev_graphite"`
	PrevPromQL   State `json:"prev_promql"`
	HasPrev      bool  `json:"has_prev,omitempty"`

	index int
}

// settleQueue is a min-heap of pending settles by due time.
type settleQueue []*pendingSettle

func (q settleQueue) Len() int           { return len(q) }
func (q settleQueue) Less(i, j int) bool { return q[i].Due.Before(q[j].Due) }
func (q settleQueue) Swap(i, j int) {
	q[i], q[j] = q[j], q[i]
	q[i].index, q[j].index = i, j
}
func (q *settleQueue) Push(x any) {
	ps := x.(*pendingSettle)
	ps.index = len(*q)
	*q = append(*q, ps)
}
func (q *settleQueue) Pop() any {
	old := *q
	n := len(old)
	ps := old[n-1]
	old[n-1] = nil
	*q = old[:n-1]
	return ps
}

// settleState is the Shadow's second-pass machinery. queue is guarded by
// Shadow.mu.
type settleState struct {
	delay time.Duration
	max   int
	queue settleQueue
	wake  chan struct{}       // a new earliest item
	work  chan *pendingSettle // due items, to the workers
	log   *ratelog.Limiter

	settled  *prometheus.CounterVec
	outcomes *prometheus.CounterVec
	pending  prometheus.Gauge
}

func (s *Shadow) initSettle() {
	ss := &s.settle
	ss.delay = s.opts.SettleDelay
	ss.max = s.opts.SettleQueue
	if ss.max <= 0 {
		ss.max = DefaultSettleQueue
	}
	ss.wake = make(chan struct{}, 1)
	ss.work = make(chan *pendingSettle)
	ss.log = ratelog.New(10 * time.Second)
	reg := s.opts.Registerer
	ss.settled = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "copenhagen_shadow_settled_disagreements_total",
		Help: "Shadow disagreements after their settled second pass, by check and settled reason (timing when the mismatch disappeared). Each disagreement is counted here once more than in copenhagen_shadow_disagreements_total, whose reason is the provisional one.",
	}, []string{"check_id", "reason"}))
	ss.outcomes = register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "copenhagen_shadow_settles_total",
		Help: "Settled second passes of shadow disagreements, by outcome (timing, persisted, not_comparable, dropped_full).",
	}, []string{"outcome"}))
	ss.pending = register(reg, prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "copenhagen_shadow_settles_pending",
		Help: "Shadow disagreements waiting for their settled second pass.",
	}))
	for _, o := range []string{SettleTiming, SettlePersisted, SettleNotComparable, SettleDroppedFull} {
		ss.outcomes.WithLabelValues(o)
	}
}

// register registers c, or returns the collector a previous Shadow (a
// reload) registered under the same name, so that counting goes on.
func register[C prometheus.Collector](reg prometheus.Registerer, c C) C {
	if err := reg.Register(c); err != nil {
		var are prometheus.AlreadyRegisteredError
		if errors.As(err, &are) {
			if old, ok := are.ExistingCollector.(C); ok {
				return old
			}
		}
	}
	return c
}

// alertsOf reads an imported group's alert conditions.
func alertsOf(g *rules.Group) (alerts []settleAlert, hold time.Duration) {
	for _, r := range g.Rules() {
		a, ok := r.(*rules.AlertingRule)
		if !ok {
			continue
		}
		st := Warn
		if a.Labels().Get(seyren.LabelSeverity) == "critical" {
			st = Error
		}
		alerts = append(alerts, settleAlert{Expr: a.Query().String(), State: st})
		hold = max(hold, a.HoldDuration(), a.KeepFiringFor())
	}
	return alerts, hold
}

// queueSettle schedules the second pass of a disagreement found at ts.
// before is Seyren's per-target state before that evaluation.
func (s *Shadow) queueSettle(def *checkDef, ts time.Time, o Outcome, before LastStates, cc compareContext, p PromSide) {
	if s.settle.delay <= 0 || o.Result != ResultDisagree {
		return
	}
	ps := &pendingSettle{
		CheckID: def.check.ID, At: ts, Due: ts.Add(s.settle.delay), Reason: o.Reason, Before: before,
		PromQL: p.PromQL, Alerts: p.alerts, For: p.alertFor,
		MinStep: cc.minStep, PrevGraphite: cc.prevGraphite, PrevPromQL: cc.prevPromQL, HasPrev: cc.hasPrev,
	}
	if !s.pushSettle(ps) {
		s.settle.outcomes.WithLabelValues(SettleDroppedFull).Inc()
		s.settle.settled.WithLabelValues(def.check.ID, o.Reason).Inc()
		s.settle.log.Warn(s.opts.Logger, "shadow: settle queue full, the disagreement keeps its provisional class",
			"check_id", def.check.ID, "reason", o.Reason, "queue", s.settle.max)
	}
}

// pushSettle adds ps to the queue (and to its check's pending count),
// false when the queue is full (counted on the check as dropped).
func (s *Shadow) pushSettle(ps *pendingSettle) bool {
	s.mu.Lock()
	st := s.stats[ps.CheckID]
	if len(s.settle.queue) >= s.settle.max {
		if st != nil {
			st.Settle.Dropped++
		}
		s.dirty = true
		s.mu.Unlock()
		return false
	}
	heap.Push(&s.settle.queue, ps)
	if st != nil {
		st.Settle.Pending++
	}
	first := s.settle.queue[0] == ps
	n := len(s.settle.queue)
	s.dirty = true
	s.mu.Unlock()
	s.settle.pending.Set(float64(n))
	if first {
		select {
		case s.settle.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// requeueSettle puts back a settle Stop interrupted, to be saved.
func (s *Shadow) requeueSettle(ps *pendingSettle) {
	s.mu.Lock()
	heap.Push(&s.settle.queue, ps)
	s.dirty = true
	s.mu.Unlock()
}

// settler hands due settles to the workers: one timer for the earliest.
func (s *Shadow) settler() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		s.mu.Lock()
		var next *pendingSettle
		if len(s.settle.queue) > 0 {
			next = s.settle.queue[0]
		}
		if next != nil && !next.Due.After(time.Now()) {
			heap.Pop(&s.settle.queue)
			s.mu.Unlock()
			select {
			case s.settle.work <- next:
			case <-s.stop:
				s.requeueSettle(next)
				return
			}
			continue
		}
		s.mu.Unlock()
		wait := time.Hour
		if next != nil {
			wait = time.Until(next.Due)
		}
		timer.Reset(wait)
		select {
		case <-s.stop:
			return
		case <-s.settle.wake:
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

func (s *Shadow) stopping() bool {
	select {
	case <-s.stop:
		return true
	default:
		return false
	}
}

// runSettle is one settled pass, in a worker.
func (s *Shadow) runSettle(ps *pendingSettle) {
	def := s.checks[ps.CheckID]
	if def == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	req, series, err := s.render(ctx, def, ps.At)
	last := LastStates{}
	maps.Copy(last, ps.Before)
	res := Run(series, err, def.th, def.check.AllowNoData, last)
	p, stateFrom := s.settledPromSide(ctx, def, ps)
	cc := compareContext{kind: def.kind, minStep: ps.MinStep, prevGraphite: ps.PrevGraphite, prevPromQL: ps.PrevPromQL,
		hasPrev: ps.HasPrev, trafficShare: s.opts.TrafficShare}
	s.timerContext(&cc, def)
	if def.kind == kindCounter {
		cc.flushRange = counterFlushRanges(series, rateWindow(p.PromQL))
	}
	o := compare(res, err, p, cc)
	if o.Result == ResultNotComparable && s.stopping() {
		// Cut short by Stop: saved, settled by the next run.
		s.requeueSettle(ps)
		return
	}
	s.applySettle(def, ps, o, res, p, s.opts.Graphite.URL(req), stateFrom)
}

// settledPromSide re-evaluates the group's value expression at ps.At over
// the stored data, and each alert condition with the value expression in
// place of seyren_check_value: a series is in the state of the worst
// condition that holds for it (OK otherwise). The imported groups have no
// `for`, so this is the alert state exactly; with a `for` it is the
// condition at ts, and stateFrom says so. The value expression's
// keep-last-state branch (`or last_over_time(seyren_check_value[..])`)
// reads the rule's own output, which at ts is the live value: where the
// data is still missing, the settled value is the live one.
func (s *Shadow) settledPromSide(ctx context.Context, def *checkDef, ps *pendingSettle) (PromSide, string) {
	p := PromSide{PromQL: ps.PromQL, State: Unknown}
	stateFrom := "alert conditions of the imported group at ts, over the settled value"
	if ps.For > 0 {
		stateFrom = fmt.Sprintf("alert conditions at ts only: the rules' for/keep_firing_for (%s) is not replayed", ps.For)
	}
	if ps.PromQL == "" {
		p.Err = fmt.Errorf("group %s%s has no %s recording rule", GroupPrefix, def.check.ID, seyren.ValueMetric)
		return p, stateFrom
	}
	vec, err := s.opts.QueryFunc(ctx, ps.PromQL, ps.At)
	if err != nil {
		p.Err = fmt.Errorf("settled value %s: %w", ps.PromQL, err)
		return p, stateFrom
	}
	states := map[string]State{}
	for _, a := range ps.Alerts {
		q, err := substituteValue(a.Expr, ps.PromQL)
		if err != nil {
			p.Err = err
			return p, stateFrom
		}
		firing, err := s.opts.QueryFunc(ctx, q, ps.At)
		if err != nil {
			p.Err = fmt.Errorf("settled alert condition %s: %w", q, err)
			return p, stateFrom
		}
		for _, smp := range firing {
			id := SeriesIdentity(smp.Metric.Map())
			if a.State > states[id] {
				states[id] = a.State
			}
		}
	}
	p.Series, p.State = promSeries(vec, states, true)
	return p, stateFrom
}

// substituteValue puts the value expression, parenthesised, in place of
// every seyren_check_value selector of an alert condition.
func substituteValue(alertExpr, valueExpr string) (string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(alertExpr)
	if err != nil {
		return "", fmt.Errorf("alert condition %q: %w", alertExpr, err)
	}
	v, err := parser.NewParser(parser.Options{}).ParseExpr(valueExpr)
	if err != nil {
		return "", fmt.Errorf("value expression %q: %w", valueExpr, err)
	}
	repl := &parser.ParenExpr{Expr: v}
	isValue := func(n parser.Expr) bool {
		vs, ok := n.(*parser.VectorSelector)
		return ok && vs.Name == seyren.ValueMetric
	}
	if isValue(e) {
		return repl.String(), nil
	}
	// Collect first, replace after: the walk must not enter the value
	// expression, which reads seyren_check_value itself (keep-last-state).
	var bad error
	var swaps []func()
	parser.Inspect(e, func(node parser.Node, _ []parser.Node) error {
		switch x := node.(type) {
		case *parser.BinaryExpr:
			if isValue(x.LHS) {
				swaps = append(swaps, func() { x.LHS = repl })
			}
			if isValue(x.RHS) {
				swaps = append(swaps, func() { x.RHS = repl })
			}
		case *parser.ParenExpr:
			if isValue(x.Expr) {
				swaps = append(swaps, func() { x.Expr = repl })
			}
		case *parser.UnaryExpr:
			if isValue(x.Expr) {
				swaps = append(swaps, func() { x.Expr = repl })
			}
		case *parser.AggregateExpr:
			if isValue(x.Expr) {
				swaps = append(swaps, func() { x.Expr = repl })
			}
		case *parser.Call:
			for i, a := range x.Args {
				if isValue(a) {
					swaps = append(swaps, func() { x.Args[i] = repl })
				}
			}
		case *parser.MatrixSelector:
			if isValue(x.VectorSelector) {
				bad = fmt.Errorf("alert condition %q reads %s over a range: its settled value cannot be substituted", alertExpr, seyren.ValueMetric)
			}
		}
		return nil
	})
	if bad != nil {
		return "", bad
	}
	if len(swaps) == 0 {
		return "", fmt.Errorf("alert condition %q does not read %s", alertExpr, seyren.ValueMetric)
	}
	for _, swap := range swaps {
		swap()
	}
	// The value must still type-check in its new place (a scalar value
	// would need a bool comparison).
	out := e.String()
	if _, err := parser.NewParser(parser.Options{}).ParseExpr(out); err != nil {
		return "", fmt.Errorf("alert condition %q with the value expression in place: %w", alertExpr, err)
	}
	return out, nil
}

// applySettle moves the disagreement to its settled class and records
// the settled values in its evidence line.
func (s *Shadow) applySettle(def *checkDef, ps *pendingSettle, o Outcome, res RunResult, p PromSide, renderURL, stateFrom string) {
	final, outcome := ps.Reason, SettleNotComparable
	switch o.Result {
	case ResultAgree:
		final, outcome = ReasonTiming, SettleTiming
	case ResultDisagree:
		final, outcome = o.Reason, SettlePersisted
	}
	id := def.check.ID
	s.mu.Lock()
	if st := s.stats[id]; st != nil {
		st.Settle.Pending = max(0, st.Settle.Pending-1)
		switch outcome {
		case SettleTiming:
			st.Settle.Timing++
		case SettlePersisted:
			st.Settle.Persisted++
		default:
			st.Settle.NotComparable++
		}
		if final != ps.Reason {
			if st.Reasons[ps.Reason] > 0 {
				st.Reasons[ps.Reason]--
				if st.Reasons[ps.Reason] == 0 {
					delete(st.Reasons, ps.Reason)
				}
			}
			st.Reasons[final]++
			if st.Settle.Reclassed == nil {
				st.Settle.Reclassed = map[string]int{}
			}
			st.Settle.Reclassed[ps.Reason+"->"+final]++
		}
	}
	n := len(s.settle.queue)
	s.dirty = true
	s.mu.Unlock()
	s.settle.pending.Set(float64(n))
	s.opts.Logger.Debug("shadow: disagreement settled", "check_id", id, "at", ps.At, "provisional", ps.Reason, "settled", final, "outcome", outcome)
	s.settle.outcomes.WithLabelValues(outcome).Inc()
	s.settle.settled.WithLabelValues(id, final).Inc()

	se := &SettledEvidence{At: time.Now().UTC(), Result: o.Result, Reason: final, Graphite: o.Graphite, PromQL: o.PromQL,
		RenderURL: renderURL, StateFrom: stateFrom}
	if o.Result == ResultNotComparable {
		se.Reason = o.Reason
	}
	se.GraphiteValues, se.PromQLValues = evidenceValues(res, p)
	if err := s.settleEvidence(id, ps.At, final, se); err != nil {
		s.opts.Logger.Warn("shadow: writing settled evidence", "check_id", id, "err", err)
	}
}

// evidenceValues are both sides' values of one comparison, as evidence.
func evidenceValues(res RunResult, p PromSide) (g, q []EvidenceValue) {
	for _, t := range res.Targets {
		g = append(g, EvidenceValue{Series: t.Target, Value: t.Text, Present: t.Present, Time: t.Time, State: t.State})
	}
	for _, ps := range p.Series {
		q = append(q, EvidenceValue{Series: ps.Identity, Value: formatValue(ps.Value), Present: !math.IsNaN(ps.Value), State: ps.State})
	}
	return g, q
}

// settleEvidence rewrites the evidence line of the disagreement at `at`
// with its settled class and values. A line already pushed out of the
// kept window is not written again.
func (s *Shadow) settleEvidence(checkID string, at time.Time, final string, se *SettledEvidence) error {
	if s.opts.Dir == "" {
		return nil
	}
	p := EvidenceFile(s.opts.Dir, checkID)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	lines := strings.Split(strings.TrimRight(string(old), "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		var ev Evidence
		if json.Unmarshal([]byte(lines[i]), &ev) != nil || !ev.At.Equal(at) || ev.Settled != nil {
			continue
		}
		ev.ProvisionalReason, ev.Reason, ev.Settled = ev.Reason, final, se
		line, err := json.Marshal(ev)
		if err != nil {
			return err
		}
		lines[i] = string(line)
		return writeAtomic(p, []byte(strings.Join(lines, "\n")+"\n"))
	}
	return nil
}

// restoreSettles queues the settles a previous run saved, for checks
// still known, due at their instant plus the current delay (overdue ones
// run at once), and recounts each check's pending settles from them.
func (s *Shadow) restoreSettles(saved []*pendingSettle) {
	for _, st := range s.stats {
		st.Settle.Pending = 0
	}
	for _, ps := range saved {
		if ps == nil || s.checks[ps.CheckID] == nil || s.settle.delay <= 0 {
			continue
		}
		if len(s.settle.queue) >= s.settle.max {
			break
		}
		// The delay of the running configuration: a reload may change it.
		ps.Due = ps.At.Add(s.settle.delay)
		heap.Push(&s.settle.queue, ps)
		if st := s.stats[ps.CheckID]; st != nil {
			st.Settle.Pending++
		}
	}
	s.settle.pending.Set(float64(len(s.settle.queue)))
}

// pendingSettles is the queue as saved (by due time).
func (s *Shadow) pendingSettles() []*pendingSettle {
	out := slices.Clone([]*pendingSettle(s.settle.queue))
	slices.SortFunc(out, func(a, b *pendingSettle) int { return a.Due.Compare(b.Due) })
	return out
}
