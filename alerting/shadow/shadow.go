package shadow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"

	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb"
	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

// GroupPrefix is the name prefix of the rule groups `copenhagen import
// seyren` writes, one per check: "seyren-<check id>".
const GroupPrefix = "seyren-"

// Renderer is graphite-web's render API (graphiteweb.Client).
type Renderer interface {
	Render(ctx context.Context, r graphiteweb.Request) ([]graphiteweb.Series, error)
	URL(r graphiteweb.Request) string
}

// Options configure a Shadow. Zero values mean the documented defaults.
type Options struct {
	Graphite Renderer
	// Checks are the Seyren checks (checks_file): target, from, until,
	// thresholds and allowNoData are not in the rules.
	Checks []seyren.Check
	// QueryFunc reads seyren_check_value at the evaluation instant (the
	// evaluator's own QueryFunc).
	QueryFunc rules.QueryFunc
	// Dir keeps the state (stats, Seyren's per-target states) and the
	// evidence of disagreements; "" keeps nothing on disk.
	Dir string
	// Timeout bounds one render. Default 20s.
	Timeout time.Duration
	// Concurrency is how many renders run at once. Default 4.
	Concurrency int
	// Queue is how many evaluations may wait for a worker; beyond it they
	// are skipped (counted as skipped_busy). Default 4 × Concurrency.
	Queue int
	// MinEvaluations and MinEpisodes make a verdict "ready": that many
	// comparable evaluations and non-OK episodes seen on the Graphite
	// side, with nothing unexplained. Defaults 7 days of minutes (10080)
	// and 1.
	MinEvaluations int
	MinEpisodes    int
	// TrafficShare is the share of the legacy traffic Copenhagen receives
	// during a partial ramp (0.01, 0.25, 1). Default 1.
	TrafficShare float64
	// TimerBuckets are the histogram bounds of timers, in seconds, for
	// timers TimerHistograms does not know. Default DefaultTimerBuckets.
	TimerBuckets []float64
	// TimerHistograms says how each StatsD timer is stored (from the
	// statsd mapping file, seyren.TimerHistograms), so that a timer
	// check's percentile gap is explained by its own buckets, or by a
	// native histogram's relative bound. nil: TimerBuckets for all.
	TimerHistograms seyren.TimerHistogramFunc
	// Evidence is how many disagreements are kept per check. Default 20.
	Evidence int
	// NativeStep is whisper's finest step for the checks' series (0:
	// the finest step seen). Replay sets it and RollupNotComparable, so
	// that windows older than the finest archive are not taken as proof.
	NativeStep          int64
	RollupNotComparable bool
	// Seyren is Seyren's own API (shadow.seyren_url): its reported state
	// becomes the third side (seyren_side.go). nil: no third side.
	Seyren SeyrenAPI
	replay bool // Replay compares Seyren's history itself: no polling
	// SeyrenInterval is how often GET /api/checks is read (the rules'
	// evaluation interval). Default 1m.
	SeyrenInterval time.Duration
	// SettleDelay is when each disagreement gets its settled second pass
	// (settle.go); 0 means none. SettleQueue bounds the pending ones
	// (default DefaultSettleQueue).
	SettleDelay time.Duration
	SettleQueue int
	Logger      *slog.Logger
	Registerer  prometheus.Registerer
}

func (o *Options) defaults() {
	if o.Timeout <= 0 {
		o.Timeout = 20 * time.Second
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.Queue <= 0 {
		o.Queue = 4 * o.Concurrency
	}
	if o.MinEvaluations <= 0 {
		o.MinEvaluations = 7 * 24 * 60
	}
	if o.MinEpisodes <= 0 {
		o.MinEpisodes = 1
	}
	if o.TrafficShare <= 0 || o.TrafficShare > 1 {
		o.TrafficShare = 1
	}
	if len(o.TimerBuckets) == 0 {
		o.TimerBuckets = DefaultTimerBuckets
	}
	if o.Evidence <= 0 {
		o.Evidence = 20
	}
	if o.SeyrenInterval <= 0 {
		o.SeyrenInterval = time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Registerer == nil {
		o.Registerer = prometheus.NewRegistry()
	}
}

// checkDef is a check as the shadow evaluates it.
type checkDef struct {
	check seyren.Check
	th    Thresholds
	kind  targetKind
	bad   string // why the check cannot be shadowed
	// bucketsMs and nativeRel: how the check's timer is stored, when
	// TimerHistograms knows it (nil bucketsMs and 0: the shadow's
	// TimerBuckets).
	bucketsMs []float64
	nativeRel float64
}

// timerLayout fills d's timer layout from the mapping, for a timer check.
func (d *checkDef) timerLayout(f seyren.TimerHistogramFunc) {
	if d.kind != kindTimerPercentile || f == nil {
		return
	}
	timer, ok := timerPath(d.check.Target)
	if !ok {
		return
	}
	// A glob (stats.timers.api.*.upper_90) is looked up as written: the
	// mapping's glob rules match a "*" segment like any other, so the
	// rule that maps the timers the glob covers is found in the common
	// case of one rule per timer family.
	l, ok := f(timer)
	if !ok {
		return
	}
	if l.Native() {
		d.nativeRel = l.NativeRelativeError()
		return
	}
	for _, b := range l.Classic {
		d.bucketsMs = append(d.bucketsMs, b*1000)
	}
	slices.Sort(d.bucketsMs)
}

// timerContext sets cc's timer layout for def: its own, or the shadow's.
func (s *Shadow) timerContext(cc *compareContext, def *checkDef) {
	cc.bucketsMs = s.bucketsMs
	if def.nativeRel > 0 {
		cc.nativeRel = def.nativeRel
	} else if def.bucketsMs != nil {
		cc.bucketsMs = def.bucketsMs
	}
}

// Shadow evaluates imported checks Seyren's way next to Copenhagen's.
type Shadow struct {
	opts      Options
	checks    map[string]*checkDef
	bucketsMs []float64

	work chan job
	wg   sync.WaitGroup
	stop chan struct{}
	once sync.Once

	mu       sync.Mutex
	stats    map[string]*CheckStats
	dirty    bool
	inflight map[string]bool // checks with a comparison running

	m      metrics
	settle settleState

	seyrenLog *ratelog.Limiter // Seyren's failures, one line a minute
}

type job struct {
	def    *checkDef
	ts     time.Time
	firing map[string]State // seyren_series -> state from the alerts
	promql string
	alerts []settleAlert
	hold   time.Duration
}

// New builds a Shadow and starts its workers. The state saved in Dir by a
// previous run is loaded, so the proof accumulates across restarts.
func New(o Options) (*Shadow, error) {
	o.defaults()
	if o.Graphite == nil {
		return nil, errors.New("shadow: no graphite-web client")
	}
	if o.QueryFunc == nil {
		return nil, errors.New("shadow: no QueryFunc")
	}
	s := &Shadow{
		opts:   o,
		checks: map[string]*checkDef{},
		work:   make(chan job, o.Queue),
		stop:   make(chan struct{}),
		stats:  map[string]*CheckStats{},

		inflight:  map[string]bool{},
		seyrenLog: ratelog.New(time.Minute),
	}
	for _, b := range o.TimerBuckets {
		s.bucketsMs = append(s.bucketsMs, b*1000)
	}
	slices.Sort(s.bucketsMs)
	for _, c := range o.Checks {
		d := &checkDef{check: c, kind: kindOf(c.Target)}
		d.timerLayout(o.TimerHistograms)
		th, err := ParseThresholds(c.Warn.Text, c.Error.Text)
		switch {
		case len(c.Problems) > 0:
			d.bad = strings.Join(c.Problems, "; ")
		case err != nil:
			d.bad = "thresholds: " + err.Error()
		default:
			d.th = th
		}
		if _, dup := s.checks[c.ID]; !dup {
			s.checks[c.ID] = d
		}
	}
	s.m = newMetrics(o.Registerer)
	s.initSettle()
	if err := s.load(); err != nil {
		return nil, err
	}
	for i := 0; i < o.Concurrency; i++ {
		s.wg.Add(1)
		go s.worker()
	}
	s.wg.Add(1)
	go s.saver()
	if o.Seyren != nil && !o.replay {
		s.wg.Add(1)
		go s.seyrenLoop()
	}
	if s.settle.delay > 0 {
		s.wg.Add(1)
		go s.settler()
	}
	return s, nil
}

// Stop waits for running evaluations, drops queued ones and saves the state.
func (s *Shadow) Stop() {
	s.once.Do(func() {
		close(s.stop)
		s.wg.Wait()
		if err := s.save(); err != nil {
			s.opts.Logger.Warn("shadow: saving state", "err", err)
		}
	})
}

// Observe is the evaluator's hook, called in the group's goroutine right
// after each iteration at ts. For an imported check it copies the state
// the alerts are in and queues the comparison; it never blocks.
func (s *Shadow) Observe(_ context.Context, g *rules.Group, ts time.Time) {
	id, ok := strings.CutPrefix(g.Name(), GroupPrefix)
	if !ok {
		return
	}
	def := s.checks[id]
	if def == nil {
		return
	}
	j := snapshot(g, def, ts)
	select {
	case s.work <- j:
	default:
		s.m.requests.WithLabelValues("skipped_busy").Inc()
	}
}

// snapshot copies what a group's evaluation at ts left: the recording
// rule's expression and the state of each series' alerts.
func snapshot(g *rules.Group, def *checkDef, ts time.Time) job {
	j := job{def: def, ts: ts, firing: map[string]State{}}
	j.alerts, j.hold = alertsOf(g)
	for _, r := range g.Rules() {
		switch r := r.(type) {
		case *rules.RecordingRule:
			if r.Name() == seyren.ValueMetric {
				j.promql = r.Query().String()
			}
		case *rules.AlertingRule:
			st := Warn
			if r.Labels().Get(seyren.LabelSeverity) == "critical" {
				st = Error
			}
			for _, a := range r.ActiveAlerts() {
				if a.State != rules.StateFiring {
					continue
				}
				key := a.Labels.Get(seyren.LabelSeries)
				if st > j.firing[key] {
					j.firing[key] = st
				}
			}
		}
	}
	return j
}

// CompareGroup compares one evaluation of an imported check's group
// synchronously (the replay steps groups itself). It reports false for
// groups that are not imported checks known to the shadow.
func (s *Shadow) CompareGroup(ctx context.Context, g *rules.Group, ts time.Time) (Outcome, bool) {
	id, ok := strings.CutPrefix(g.Name(), GroupPrefix)
	if !ok || s.checks[id] == nil {
		return Outcome{}, false
	}
	j := snapshot(g, s.checks[id], ts)
	ctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	return s.Compare(ctx, id, ts, s.promSide(ctx, j))
}

func (s *Shadow) worker() {
	defer s.wg.Done()
	for {
		select {
		case <-s.stop:
			return
		case j := <-s.work:
			s.run(j)
		case ps := <-s.settle.work:
			s.runSettle(ps)
		}
	}
}

// run compares one evaluation. A check whose previous comparison is still
// running (graphite-web slower than the interval) skips this one, so that
// Seyren's per-target states are updated in evaluation order.
func (s *Shadow) run(j job) {
	id := j.def.check.ID
	s.mu.Lock()
	busy := s.inflight[id]
	s.inflight[id] = true
	s.mu.Unlock()
	if busy {
		s.m.requests.WithLabelValues("skipped_busy").Inc()
		return
	}
	defer func() {
		s.mu.Lock()
		delete(s.inflight, id)
		s.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Timeout)
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	p := s.promSide(ctx, j)
	s.Compare(ctx, j.def.check.ID, j.ts, p)
}

// promSide reads seyren_check_value{check_id} at the evaluation instant
// and gives each series the state its alerts were in.
func (s *Shadow) promSide(ctx context.Context, j job) PromSide {
	p := PromSide{PromQL: j.promql, State: Unknown, alerts: j.alerts, alertFor: j.hold}
	q := fmt.Sprintf(`%s{%s=%s}`, seyren.ValueMetric, seyren.LabelCheckID, strconv.Quote(j.def.check.ID))
	vec, err := s.opts.QueryFunc(ctx, q, j.ts)
	if err != nil {
		p.Err = err
		return p
	}
	p.Series, p.State = promSeries(vec, j.firing, false)
	return p
}

// promSeries turns the check's values at one instant into its series,
// each in the state its alerts give it (OK when none fires), sorted by
// identity, and the check's state, the worst of them (UNKNOWN without a
// series). With dedupe, a second sample of an identity is dropped.
func promSeries(vec promql.Vector, states map[string]State, dedupe bool) ([]PromSeries, State) {
	var out []PromSeries
	seen := map[string]bool{}
	for _, smp := range vec {
		m := smp.Metric.Map()
		id := SeriesIdentity(m)
		if dedupe && seen[id] {
			continue
		}
		seen[id] = true
		st := states[id]
		if st == Unknown {
			st = OK
		}
		delete(m, labels.MetricName)
		delete(m, seyren.LabelCheckID)
		out = append(out, PromSeries{Identity: id, Labels: m, Value: smp.F, State: st})
	}
	slices.SortFunc(out, func(a, b PromSeries) int { return strings.Compare(a.Identity, b.Identity) })
	state := Unknown
	if len(out) > 0 {
		state = OK
		for _, sr := range out {
			state = max(state, sr.State)
		}
	}
	return out, state
}

// SeriesIdentity is what the imported rules' seyren_series label expands
// to for a series' labels: "k=v," per label, sorted, without __name__ and
// check_id.
func SeriesIdentity(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		if k != labels.MetricName && k != seyren.LabelCheckID {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k + "=" + m[k] + ",")
	}
	return b.String()
}

// Compare renders the check's target at ts (now=ts), runs Seyren's
// runner over it, compares the result with p, and records the outcome.
// It is the core the live hook and the replay share.
func (s *Shadow) Compare(ctx context.Context, checkID string, ts time.Time, p PromSide) (Outcome, bool) {
	def := s.checks[checkID]
	if def == nil {
		return Outcome{}, false
	}
	st := s.statsFor(def)
	if def.bad != "" {
		o := Outcome{Result: ResultNotComparable, Reason: "invalid_check", Graphite: Unknown, PromQL: p.State}
		s.record(def, st, ts, o, RunResult{}, "", p)
		return o, true
	}
	req, series, err := s.render(ctx, def, ts)

	s.mu.Lock()
	last := LastStates{}
	for k, v := range st.seyrenStates {
		last[k] = v
	}
	before := maps.Clone(last)
	cc := compareContext{kind: def.kind, minStep: st.MinStep, prevGraphite: st.Last.Graphite, prevPromQL: st.Last.PromQL,
		hasPrev: st.Evaluations > 0, trafficShare: s.opts.TrafficShare, rollupNC: s.opts.RollupNotComparable}
	s.timerContext(&cc, def)
	if def.kind == kindCounter {
		cc.flushRange = counterFlushRanges(series, rateWindow(p.PromQL))
	}
	if s.opts.NativeStep > 0 {
		cc.minStep = s.opts.NativeStep
	}
	s.mu.Unlock()

	res := Run(series, err, def.th, def.check.AllowNoData, last)
	o := compare(res, err, p, cc)
	s.mu.Lock()
	noteRun(st, ts, res, err == nil && !res.Aborted, p)
	if err == nil && !res.Aborted {
		st.seyrenStates = last
		for _, t := range res.Targets {
			if t.Step > 0 && (st.MinStep == 0 || t.Step < st.MinStep) {
				st.MinStep = t.Step
			}
		}
	}
	s.mu.Unlock()
	s.record(def, st, ts, o, res, s.opts.Graphite.URL(req), p)
	s.queueSettle(def, ts, o, before, cc, p)
	return o, true
}

func (s *Shadow) statsFor(def *checkDef) *CheckStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats[def.check.ID]
	if st == nil {
		st = newCheckStats(def.check)
		s.stats[def.check.ID] = st
	}
	return st
}

// record counts an outcome and keeps the evidence of a disagreement.
func (s *Shadow) record(def *checkDef, st *CheckStats, ts time.Time, o Outcome, res RunResult, renderURL string, p PromSide) {
	id := def.check.ID
	s.mu.Lock()
	st.Evaluations++
	switch o.Result {
	case ResultAgree:
		st.Agree++
	case ResultDisagree:
		st.Disagree++
		st.Reasons[o.Reason]++
	default:
		st.NotComparable++
		st.NotComparableReasons[o.Reason]++
	}
	if o.Result != ResultNotComparable {
		// A non-OK episode starts when Graphite's side turns WARN or
		// ERROR from anything better.
		bad := o.Graphite == Warn || o.Graphite == Error
		if bad && !st.inEpisode {
			st.Episodes++
		}
		st.inEpisode = bad
		st.Last = LastStates2{Graphite: o.Graphite, PromQL: o.PromQL, At: ts.UTC()}
	}
	st.LastResult = o.Result
	s.dirty = true
	s.mu.Unlock()

	s.m.evaluations.WithLabelValues(id, o.Result).Inc()
	if o.Result == ResultDisagree {
		s.m.disagreements.WithLabelValues(id, o.Reason).Inc()
	}
	if o.Result != ResultNotComparable {
		s.m.state.WithLabelValues(id, "graphite").Set(float64(o.Graphite))
		s.m.state.WithLabelValues(id, "promql").Set(float64(o.PromQL))
	}
	if o.Result == ResultDisagree {
		ev := Evidence{
			At: ts.UTC(), CheckID: id, Name: def.check.Name, Reason: o.Reason,
			Graphite: o.Graphite, PromQL: o.PromQL, SeyrenCheckState: res.State,
			RenderURL: renderURL, Target: def.check.Target, PromQLExpr: p.PromQL,
			Pairs: o.Pairs, OnlyGraphite: o.OnlyGraphite, OnlyPromQL: o.OnlyPromQL,
		}
		ev.GraphiteValues, ev.PromQLValues = evidenceValues(res, p)
		if err := s.writeEvidence(ev); err != nil {
			s.opts.Logger.Warn("shadow: writing evidence", "check_id", id, "err", err)
		}
	}
}

// Evidence is one disagreement, as kept on disk (one JSON line each).
type Evidence struct {
	At               time.Time       `json:"at"`
	CheckID          string          `json:"check_id"`
	Name             string          `json:"name"`
	Reason           string          `json:"reason"`
	Graphite         State           `json:"graphite"`
	PromQL           State           `json:"promql"`
	SeyrenCheckState State           `json:"seyren_check_state"`
	GraphiteValues   []EvidenceValue `json:"graphite_values"`
	PromQLValues     []EvidenceValue `json:"promql_values"`
	Pairs            []Pair          `json:"pairs,omitempty"`
	OnlyGraphite     []string        `json:"only_graphite,omitempty"`
	OnlyPromQL       []string        `json:"only_promql,omitempty"`
	RenderURL        string          `json:"render_url"`
	Target           string          `json:"target"`
	PromQLExpr       string          `json:"promql_expr"`
	// ProvisionalReason is the class at evaluation time, once the
	// settled pass (Settled) has given Reason its settled class.
	ProvisionalReason string           `json:"provisional_reason,omitempty"`
	Settled           *SettledEvidence `json:"settled,omitempty"`
}

// EvidenceValue is one series' value on one side.
type EvidenceValue struct {
	Series  string `json:"series"`
	Value   string `json:"value"`
	Present bool   `json:"present"`
	Time    int64  `json:"time,omitempty"`
	State   State  `json:"state"`
}

// EvidenceFile is where a check's evidence is kept under dir.
func EvidenceFile(dir, checkID string) string {
	return filepath.Join(dir, "evidence", fileSafe(checkID)+".jsonl")
}

func fileSafe(id string) string {
	var b strings.Builder
	for _, r := range id {
		if r < 128 && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			b.WriteRune(r)
		} else {
			fmt.Fprintf(&b, "%%%02x", r)
		}
	}
	if b.Len() == 0 || b.Len() > 200 {
		return fmt.Sprintf("check-%x", id)[:min(200, len(id)*2+6)]
	}
	return b.String()
}

// writeEvidence appends ev to its check's file, keeping the last
// opts.Evidence lines.
func (s *Shadow) writeEvidence(ev Evidence) error {
	if s.opts.Dir == "" {
		return nil
	}
	line, err := json.Marshal(ev)
	if err != nil {
		return err
	}
	p := EvidenceFile(s.opts.Dir, ev.CheckID)
	s.mu.Lock()
	defer s.mu.Unlock()
	old, err := os.ReadFile(p)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	lines := strings.Split(strings.TrimRight(string(old), "\n"), "\n")
	if len(old) == 0 {
		lines = nil
	}
	lines = append(lines, string(line))
	if len(lines) > s.opts.Evidence {
		lines = lines[len(lines)-s.opts.Evidence:]
	}
	return writeAtomic(p, []byte(strings.Join(lines, "\n")+"\n"))
}

// ReadEvidence returns the kept disagreements of a check, oldest first.
func ReadEvidence(dir, checkID string) ([]Evidence, error) {
	data, err := os.ReadFile(EvidenceFile(dir, checkID))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Evidence
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		var ev Evidence
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", EvidenceFile(dir, checkID), i+1, err)
		}
		out = append(out, ev)
	}
	return out, nil
}

func writeAtomic(p string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	tmp := p + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, p)
}

// saver writes the state every 10 s when it changed.
func (s *Shadow) saver() {
	defer s.wg.Done()
	t := time.NewTicker(10 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			if err := s.save(); err != nil {
				s.opts.Logger.Warn("shadow: saving state", "err", err)
			}
		}
	}
}

type savedState struct {
	Checks map[string]*CheckStats `json:"checks"`
	// Pending are the disagreements waiting for their settled pass.
	Pending []*pendingSettle `json:"pending_settles,omitempty"`
}

func (s *Shadow) statePath() string { return filepath.Join(s.opts.Dir, "state.json") }

func (s *Shadow) save() error {
	if s.opts.Dir == "" {
		return nil
	}
	s.mu.Lock()
	if !s.dirty {
		s.mu.Unlock()
		return nil
	}
	data, err := json.MarshalIndent(savedState{Checks: s.stats, Pending: s.pendingSettles()}, "", " ")
	s.dirty = false
	s.mu.Unlock()
	if err != nil {
		return err
	}
	return writeAtomic(s.statePath(), data)
}

func (s *Shadow) load() error {
	if s.opts.Dir == "" {
		return nil
	}
	data, err := os.ReadFile(s.statePath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("shadow state: %w", err)
	}
	var st savedState
	if err := json.Unmarshal(data, &st); err != nil {
		// A corrupt state is not a reason to stop alerting: start afresh.
		s.opts.Logger.Warn("shadow: state file unreadable, starting afresh", "file", s.statePath(), "err", err)
		return nil
	}
	for id, cs := range st.Checks {
		def := s.checks[id]
		if def == nil || cs == nil {
			continue
		}
		cs.fill(def.check)
		s.stats[id] = cs
	}
	s.restoreSettles(st.Pending)
	return nil
}

// render asks graphite-web for the check's target as Seyren does, at the
// instant ts (now=ts, no cache), and counts the request by outcome.
func (s *Shadow) render(ctx context.Context, def *checkDef, ts time.Time) (graphiteweb.Request, []graphiteweb.Series, error) {
	req := graphiteweb.Request{Target: def.check.Target, From: def.check.From, Until: def.check.Until, Now: ts, NoCache: true}
	start := time.Now()
	series, err := s.opts.Graphite.Render(ctx, req)
	s.m.duration.Observe(time.Since(start).Seconds())
	outcome := "ok"
	if err != nil {
		outcome = graphiteweb.KindNetwork
		var re *graphiteweb.RenderError
		if errors.As(err, &re) {
			outcome = re.Kind
		}
	}
	s.m.requests.WithLabelValues(outcome).Inc()
	return req, series, err
}
