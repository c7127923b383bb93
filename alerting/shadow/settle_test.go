package shadow

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/tsdb"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteql"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb/legacytest"
	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

var recordSettle = flag.Bool("record-settle", false, "rewrite testdata/settle from the real graphite-web (TestSettleAgainstLegacyStack)")

// settleChecksJSON are the checks of the settle tests, on a compressed
// clock: a [-20s, -1s] window, evaluated every 3 s.
const settleChecksJSON = `{"values": [
 {"id": "late", "name": "settletest late point", "target": "stats.gauges.settletest.x", "from": "-20s", "until": "-1s", "warn": "100", "error": "200", "enabled": true},
 {"id": "wrong", "name": "settletest wrong translation", "target": "stats.gauges.settletest.y", "from": "-20s", "until": "-1s", "warn": "100", "error": "200", "enabled": true}
]}`

const settleWrongTarget = "stats.gauges.settletest.y"

// settleTranslator is `copenhagen import seyren`'s translator, except for
// settleWrongTarget, deliberately wrong (three times the value).
type settleTranslator struct{ r *graphiteql.Resolver }

func (t settleTranslator) opts(w seyren.Window) graphiteql.TranslateOptions {
	return graphiteql.TranslateOptions{From: w.Range + w.Offset, Until: w.Offset, Step: time.Second}
}

func (t settleTranslator) Translate(target string, w seyren.Window) graphiteql.Result {
	r := graphiteql.Translate(target, t.r, t.opts(w))
	if target == settleWrongTarget {
		r.PromQL = "3 * " + r.PromQL
	}
	return r
}

func (t settleTranslator) TranslateLast(target string, w seyren.Window) graphiteql.Result {
	if target == settleWrongTarget {
		return graphiteql.Result{}
	}
	return graphiteql.TranslateLast(target, t.r, t.opts(w))
}

// settleRig is Copenhagen's side: a real TSDB, the query engine and the
// rule groups `copenhagen import seyren` writes for the checks, evaluated
// by Prometheus's rules engine.
type settleRig struct {
	checks []seyren.Check
	db     *tsdb.DB
	qf     rules.QueryFunc
	groups map[string]*rules.Group
}

func newSettleRig(t *testing.T) *settleRig {
	t.Helper()
	checks, err := seyren.ParseChecks([]byte(settleChecksJSON))
	if err != nil {
		t.Fatal(err)
	}
	opts := graphiteql.DefaultOptions()
	opts.FlushInterval = time.Second
	opts.RateWindow = 3 * time.Second
	out, err := seyren.Import(checks, seyren.Options{Translator: settleTranslator{graphiteql.NewResolver(nil, nil, opts)},
		EvaluationInterval: 3 * time.Second, Step: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := out.Write(filepath.Join(dir, "imported")); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.DiscardHandler)
	db, err := tsdb.Open(filepath.Join(dir, "data"), logger, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	engine := promql.NewEngine(promql.EngineOpts{Logger: logger, MaxSamples: 1e6, Timeout: 10 * time.Second, LookbackDelta: 5 * time.Minute,
		NoStepSubqueryIntervalFn: func(int64) int64 { return time.Second.Milliseconds() }})
	qf := rules.EngineQueryFunc(engine, db)
	mgr := rules.NewManager(&rules.ManagerOptions{
		QueryFunc: qf, NotifyFunc: func(context.Context, string, ...*rules.Alert) {}, Context: context.Background(),
		AppendableV2: db, Queryable: db, Logger: logger, Registerer: prometheus.NewRegistry(),
	})
	files, _ := filepath.Glob(filepath.Join(dir, "imported", "rules", "*.yml"))
	groups, errs := mgr.LoadGroups(3*time.Second, labels.EmptyLabels(), "", nil, false, files...)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	r := &settleRig{checks: checks, db: db, qf: qf, groups: map[string]*rules.Group{}}
	for _, g := range groups {
		r.groups[strings.TrimPrefix(g.Name(), GroupPrefix)] = g
	}
	for _, c := range checks {
		if r.groups[c.ID] == nil {
			t.Fatalf("no group for check %s in %v", c.ID, files)
		}
	}
	return r
}

// add stores samples of the gauge Copenhagen keeps for a statsd gauge.
func (r *settleRig) add(t *testing.T, metric string, v float64, ts ...time.Time) {
	t.Helper()
	app := r.db.Appender(context.Background())
	for _, at := range ts {
		if _, err := app.Append(0, labels.FromStrings(labels.MetricName, metric), at.UnixMilli(), v); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

// evaluate runs the check's group at ts, then the shadow's hook, as the
// evaluator does, and waits for the comparison to be recorded.
func (r *settleRig) evaluate(t *testing.T, s *Shadow, id string, ts time.Time) CheckStats {
	t.Helper()
	before := checkReport(s, id).Evaluations
	g := r.groups[id]
	g.Eval(context.Background(), ts)
	s.Observe(context.Background(), g, ts)
	return waitCheck(t, s, id, func(c CheckStats) bool { return c.Evaluations > before })
}

func checkReport(s *Shadow, id string) CheckStats {
	for _, c := range s.Report().Checks {
		if c.CheckID == id {
			return c
		}
	}
	return CheckStats{}
}

func waitCheck(t *testing.T, s *Shadow, id string, ok func(CheckStats) bool) CheckStats {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		c := checkReport(s, id)
		if ok(c) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("check %s never reached the expected state: %+v", id, c)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func seconds(t0 time.Time, from, to int) []time.Time {
	var out []time.Time
	for i := from; i <= to; i++ {
		out = append(out, t0.Add(time.Duration(i)*time.Second))
	}
	return out
}

// recorder keeps graphite-web's answers, to rewrite testdata/settle.
type recorder struct {
	*graphiteweb.Client
	mu     sync.Mutex
	bodies map[string][]string // check target -> raw JSON answers, in order
}

func (r *recorder) Render(ctx context.Context, req graphiteweb.Request) ([]graphiteweb.Series, error) {
	series, err := r.Client.Render(ctx, req)
	if err == nil && *recordSettle {
		resp, gerr := http.Get(r.URL(req))
		if gerr == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			r.mu.Lock()
			r.bodies[req.Target] = append(r.bodies[req.Target], string(body))
			r.mu.Unlock()
		}
	}
	return series, err
}

func sendCarbon(t *testing.T, addr string, lines []string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, strings.Join(lines, "\n")+"\n"); err != nil {
		t.Fatal(err)
	}
}

func carbonLines(path string, v float64, ts ...time.Time) []string {
	var out []string
	for _, at := range ts {
		out = append(out, fmt.Sprintf("%s %v %d", path, v, at.Unix()))
	}
	return out
}

// TestSettleAgainstLegacyStack: the real graphite-web 1.1.8 over
// carbon-cache has not got the last point of a gauge when the check is
// evaluated at t0 (it arrives late, as a slow statsd flush or a relay
// backlog delivers it), while Copenhagen has it: the two verdicts differ
// and the disagreement is provisionally unexplained. The settled pass
// renders the same instant again (now=t0) once the point is in, and the
// group's value and alert conditions are re-evaluated at t0: the mismatch
// is gone and the disagreement becomes timing, which does not stop the
// check from being ready. A deliberately wrong translation (three times
// the value) disagrees on both passes and stays unexplained: diverging.
func TestSettleAgainstLegacyStack(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the legacy stack")
	}
	legacy := legacytest.Start(t)
	rig := newSettleRig(t)
	t0 := time.Now().Add(-time.Second).Truncate(time.Second)

	// Copenhagen has every point, 150 (WARN) at t0-3s for x; graphite-web
	// has x only up to t0-6s for now; y is complete on both sides.
	rig.add(t, "settletest_x", 50, seconds(t0, -30, -6)...)
	rig.add(t, "settletest_x", 150, t0.Add(-3*time.Second))
	rig.add(t, "settletest_y", 50, seconds(t0, -30, -3)...)
	sendCarbon(t, legacy.CarbonAddr, append(carbonLines("stats.gauges.settletest.x", 50, seconds(t0, -30, -6)...),
		carbonLines("stats.gauges.settletest.y", 50, seconds(t0, -30, -3)...)...))
	legacy.WaitValue("stats.gauges.settletest.x", "-2min", time.Minute, func(v float64) bool { return v == 50 })
	legacy.WaitValue("stats.gauges.settletest.y", "-2min", time.Minute, func(v float64) bool { return v == 50 })

	client, err := graphiteweb.NewClient(legacy.GraphiteURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	rec := &recorder{Client: client, bodies: map[string][]string{}}
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	const delay = 20 * time.Second
	s, err := New(Options{Graphite: rec, Checks: rig.checks, QueryFunc: rig.qf, Dir: dir, Timeout: 10 * time.Second,
		MinEvaluations: 2, MinEpisodes: 1, SettleDelay: delay, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()

	late := rig.evaluate(t, s, "late", t0)
	wrong := rig.evaluate(t, s, "wrong", t0)
	if late.Disagree != 1 || late.Reasons[ReasonUnexplained] != 1 || late.Last.Graphite != OK || late.Last.PromQL != Warn {
		t.Fatalf("late point at t0: %+v, want an unexplained disagreement, Graphite OK (50) against PromQL WARN (150)", late)
	}
	if late.Settle.Pending == 1 && late.Verdict != VerdictDiverging {
		t.Errorf("late point awaiting its settled pass: verdict %s, want diverging (a provisional unexplained blocks ready)", late.Verdict)
	}
	if wrong.Reasons[ReasonUnexplained] != 1 {
		t.Fatalf("wrong translation at t0: %+v", wrong)
	}

	// The late point reaches carbon; the next evaluation agrees (WARN on
	// both sides, the non-OK episode the verdict needs).
	sendCarbon(t, legacy.CarbonAddr, carbonLines("stats.gauges.settletest.x", 150, t0.Add(-3*time.Second)))
	legacy.WaitValue("stats.gauges.settletest.x", "-2min", time.Minute, func(v float64) bool { return v == 150 })
	if time.Now().After(t0.Add(delay)) {
		t.Fatalf("the late point reached graphite-web only %s after t0, after the settled pass (settle_delay %s): this machine is too slow for the test", time.Since(t0), delay)
	}
	late = rig.evaluate(t, s, "late", t0.Add(3*time.Second))
	if late.Agree != 1 || late.Last.Graphite != Warn || late.Last.PromQL != Warn {
		t.Fatalf("late point at t0+3s: %+v, want both WARN", late)
	}

	settled := func(c CheckStats) bool {
		return c.Settle.Pending == 0 && c.Settle.Timing+c.Settle.Persisted+c.Settle.NotComparable > 0
	}
	late = waitCheck(t, s, "late", settled)
	wrong = waitCheck(t, s, "wrong", settled)
	t.Logf("late: %+v", late)
	t.Logf("wrong: %+v", wrong)
	if late.Reasons[ReasonTiming] != 1 || late.Reasons[ReasonUnexplained] != 0 || late.Settle.Timing != 1 ||
		late.Settle.Reclassed[ReasonUnexplained+"->"+ReasonTiming] != 1 || late.Disagree != 1 {
		t.Errorf("late point after the settled pass: reasons %v settle %+v, want the disagreement moved from unexplained to timing", late.Reasons, late.Settle)
	}
	if late.Verdict != VerdictReady {
		t.Errorf("late point: verdict %s (%s), want ready: a timing disagreement does not block", late.Verdict, late.Why)
	}
	if wrong.Reasons[ReasonUnexplained] != 1 || wrong.Settle.Persisted != 1 || wrong.Verdict != VerdictDiverging {
		t.Errorf("wrong translation after the settled pass: reasons %v settle %+v verdict %s, want unexplained, persisted, diverging", wrong.Reasons, wrong.Settle, wrong.Verdict)
	}

	// The evidence line of each disagreement holds the settled values.
	ev := lastEvidence(t, dir, "late")
	if ev.ProvisionalReason != ReasonUnexplained || ev.Reason != ReasonTiming || ev.Settled == nil ||
		ev.Settled.Result != ResultAgree || ev.Settled.Graphite != Warn || ev.Settled.PromQL != Warn {
		t.Fatalf("late evidence: %s", mustJSON(ev))
	}
	if len(ev.GraphiteValues) != 1 || !isNumber(ev.GraphiteValues[0].Value, 50) ||
		len(ev.Settled.GraphiteValues) != 1 || !isNumber(ev.Settled.GraphiteValues[0].Value, 150) ||
		!strings.Contains(ev.Settled.RenderURL, fmt.Sprintf("now=%d", t0.Unix())) {
		t.Errorf("late evidence: Graphite 50 at t0 then 150 settled, rendered with now=t0, got %s", mustJSON(ev))
	}
	ev = lastEvidence(t, dir, "wrong")
	if ev.Reason != ReasonUnexplained || ev.Settled == nil || ev.Settled.Result != ResultDisagree ||
		len(ev.Settled.PromQLValues) != 1 || !isNumber(ev.Settled.PromQLValues[0].Value, 150) ||
		len(ev.Settled.GraphiteValues) != 1 || !isNumber(ev.Settled.GraphiteValues[0].Value, 50) {
		t.Errorf("wrong evidence: %s", mustJSON(ev))
	}

	// The provisional counter keeps the class given at evaluation time;
	// the settled counter counts each disagreement once more, settled.
	for _, c := range []struct {
		name   string
		got    float64
		expect float64
	}{
		{"disagreements_total{late,unexplained}", testutil.ToFloat64(s.m.disagreements.WithLabelValues("late", ReasonUnexplained)), 1},
		{"settled_disagreements_total{late,timing}", testutil.ToFloat64(s.settle.settled.WithLabelValues("late", ReasonTiming)), 1},
		{"settled_disagreements_total{late,unexplained}", testutil.ToFloat64(s.settle.settled.WithLabelValues("late", ReasonUnexplained)), 0},
		{"settled_disagreements_total{wrong,unexplained}", testutil.ToFloat64(s.settle.settled.WithLabelValues("wrong", ReasonUnexplained)), 1},
		{"settles_total{timing}", testutil.ToFloat64(s.settle.outcomes.WithLabelValues(SettleTiming)), 1},
		{"settles_total{persisted}", testutil.ToFloat64(s.settle.outcomes.WithLabelValues(SettlePersisted)), 1},
		{"settles_pending", testutil.ToFloat64(s.settle.pending), 0},
	} {
		if c.got != c.expect {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.expect)
		}
	}

	if *recordSettle {
		writeRecorded(t, t0, rec)
	}
}

// writeRecorded keeps graphite-web's answers for TestSettleRecorded.
func writeRecorded(t *testing.T, t0 time.Time, rec *recorder) {
	rec.mu.Lock()
	defer rec.mu.Unlock()
	x := rec.bodies["stats.gauges.settletest.x"]
	y := rec.bodies[settleWrongTarget]
	if len(x) < 3 || len(y) < 2 {
		t.Fatalf("recorded %d and %d answers", len(x), len(y))
	}
	files := map[string]string{
		"late-t0.json":         x[0],        // the first pass, without the late point
		"late-t0-settled.json": x[len(x)-1], // the settled pass of t0
		"wrong-t0.json":        y[0],
		"meta.json":            fmt.Sprintf("{\"t0\": %d}\n", t0.Unix()),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join("testdata", "settle", name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func lastEvidence(t *testing.T, dir, id string) Evidence {
	t.Helper()
	ev, err := ReadEvidence(dir, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev) == 0 {
		t.Fatalf("no evidence for %s", id)
	}
	return ev[len(ev)-1]
}

func isNumber(text string, want float64) bool {
	var v float64
	_, err := fmt.Sscan(text, &v)
	return err == nil && v == want
}

func mustJSON(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

// recordedGraphite serves graphite-web's answers recorded by
// TestSettleAgainstLegacyStack: the late target's first render lacks the
// last point, every later one has it. Every render must be for now=t0.
type recordedGraphite struct {
	t   *testing.T
	t0  int64
	srv *httptest.Server

	mu      sync.Mutex
	lateN   int
	block   bool          // hold the late target's later renders until the client gives up
	blocked chan struct{} // a held render arrived
}

func newRecordedGraphite(t *testing.T) *recordedGraphite {
	t.Helper()
	var meta struct {
		T0 int64 `json:"t0"`
	}
	if err := json.Unmarshal(readTestdata(t, "meta.json"), &meta); err != nil {
		t.Fatal(err)
	}
	g := &recordedGraphite{t: t, t0: meta.T0, blocked: make(chan struct{}, 8)}
	late, settled, wrong := readTestdata(t, "late-t0.json"), readTestdata(t, "late-t0-settled.json"), readTestdata(t, "wrong-t0.json")
	g.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		if q.Get("now") != fmt.Sprint(g.t0) || q.Get("from") != "-20s" || q.Get("until") != "-1s" {
			http.Error(w, "unexpected render "+r.URL.RawQuery, http.StatusBadRequest)
			return
		}
		switch q.Get("target") {
		case "stats.gauges.settletest.x":
			g.mu.Lock()
			g.lateN++
			n, block := g.lateN, g.block
			g.mu.Unlock()
			if n == 1 {
				w.Write(late)
				return
			}
			if block {
				g.blocked <- struct{}{}
				<-r.Context().Done()
				return
			}
			w.Write(settled)
		case settleWrongTarget:
			w.Write(wrong)
		default:
			http.Error(w, "unknown target", http.StatusBadRequest)
		}
	}))
	t.Cleanup(g.srv.Close)
	return g
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "settle", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func (g *recordedGraphite) setBlock(b bool) {
	g.mu.Lock()
	g.block = b
	g.mu.Unlock()
}

// TestSettleRecordedRestart, over graphite-web's recorded answers: the
// pending queue is bounded (a disagreement beyond it keeps its
// provisional class, counted as dropped), pending settles survive Stop
// in state.json, including one Stop cut short, and the next Shadow over
// the same directory settles them: the late point becomes timing.
func TestSettleRecordedRestart(t *testing.T) {
	g := newRecordedGraphite(t)
	rig := newSettleRig(t)
	t0 := time.Unix(g.t0, 0)
	rig.add(t, "settletest_x", 50, seconds(t0, -30, -6)...)
	rig.add(t, "settletest_x", 150, t0.Add(-3*time.Second))
	rig.add(t, "settletest_y", 50, seconds(t0, -30, -3)...)
	client, err := graphiteweb.NewClient(g.srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	open := func(delay time.Duration, reg *prometheus.Registry) *Shadow {
		t.Helper()
		s, err := New(Options{Graphite: client, Checks: rig.checks, QueryFunc: rig.qf, Dir: dir, Timeout: 5 * time.Second,
			Concurrency: 1, MinEvaluations: 1, SettleDelay: delay, SettleQueue: 1, Registerer: reg})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	// A queue of one: the second disagreement is not settled. A settle
	// is due at t0 + delay and t0 is the recorded instant, hours or
	// days ago: the delay reaches an hour past now.
	reg := prometheus.NewRegistry()
	s := open(time.Since(t0)+time.Hour, reg)
	late := rig.evaluate(t, s, "late", t0)
	wrong := rig.evaluate(t, s, "wrong", t0)
	if late.Reasons[ReasonUnexplained] != 1 || late.Settle.Pending != 1 {
		t.Errorf("late: reasons %v settle %+v, want one unexplained disagreement pending", late.Reasons, late.Settle)
	}
	if wrong.Reasons[ReasonUnexplained] != 1 || wrong.Settle.Dropped != 1 || wrong.Settle.Pending != 0 {
		t.Errorf("wrong: reasons %v settle %+v, want unexplained, dropped by the full queue", wrong.Reasons, wrong.Settle)
	}
	if v := testutil.ToFloat64(s.settle.outcomes.WithLabelValues(SettleDroppedFull)); v != 1 {
		t.Errorf("settles_total{dropped_full} = %v, want 1", v)
	}
	if v := testutil.ToFloat64(s.settle.settled.WithLabelValues("wrong", ReasonUnexplained)); v != 1 {
		t.Errorf("a dropped settle counts its provisional class as settled: settled_disagreements_total{wrong,unexplained} = %v, want 1", v)
	}
	if v := testutil.ToFloat64(s.settle.pending); v != 1 {
		t.Errorf("settles_pending = %v, want 1", v)
	}
	s.Stop()
	var saved savedState
	if err := json.Unmarshal(mustRead(t, filepath.Join(dir, "state.json")), &saved); err != nil {
		t.Fatal(err)
	}
	if len(saved.Pending) != 1 || saved.Pending[0].CheckID != "late" || !saved.Pending[0].At.Equal(t0) || saved.Pending[0].Reason != ReasonUnexplained {
		t.Fatalf("state.json pending settles: %s", mustJSON(saved.Pending))
	}

	// Overdue after a restart: settled at once, but this graphite-web
	// hangs and Stop cuts the render short: saved again, not lost.
	g.setBlock(true)
	s = open(time.Millisecond, prometheus.NewRegistry())
	select {
	case <-g.blocked:
	case <-time.After(30 * time.Second):
		t.Fatal("the restored settle never rendered")
	}
	s.Stop()
	saved = savedState{}
	if err := json.Unmarshal(mustRead(t, filepath.Join(dir, "state.json")), &saved); err != nil {
		t.Fatal(err)
	}
	if len(saved.Pending) != 1 || saved.Pending[0].CheckID != "late" {
		t.Fatalf("a settle Stop interrupted is not saved: %s", mustJSON(saved.Pending))
	}
	if c := saved.Checks["late"]; c == nil || c.Settle.Pending != 1 || c.Reasons[ReasonUnexplained] != 1 {
		t.Fatalf("late after the interrupted settle: %s", mustJSON(c))
	}

	// graphite-web answers again: the point is in, the mismatch is gone.
	g.setBlock(false)
	reg = prometheus.NewRegistry()
	s = open(time.Millisecond, reg)
	defer s.Stop()
	late = waitCheck(t, s, "late", func(c CheckStats) bool { return c.Settle.Pending == 0 })
	if late.Reasons[ReasonTiming] != 1 || late.Reasons[ReasonUnexplained] != 0 || late.Settle.Timing != 1 ||
		late.Settle.Reclassed[ReasonUnexplained+"->"+ReasonTiming] != 1 {
		t.Errorf("late after restart: reasons %v settle %+v, want timing", late.Reasons, late.Settle)
	}
	ev := lastEvidence(t, dir, "late")
	if ev.Reason != ReasonTiming || ev.ProvisionalReason != ReasonUnexplained || ev.Settled == nil || len(ev.Settled.GraphiteValues) != 1 ||
		!isNumber(ev.Settled.GraphiteValues[0].Value, 150) || ev.Settled.PromQL != Warn {
		t.Errorf("late evidence after restart: %s", mustJSON(ev))
	}
	if v := testutil.ToFloat64(s.settle.settled.WithLabelValues("late", ReasonTiming)); v != 1 {
		t.Errorf("settled_disagreements_total{late,timing} = %v, want 1", v)
	}
	if w := checkReport(s, "wrong"); w.Reasons[ReasonUnexplained] != 1 || w.Verdict != VerdictDiverging {
		t.Errorf("wrong after restart: %+v", w)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The settled pass evaluates the alert conditions with the value
// expression in place of seyren_check_value, and refuses what it cannot
// substitute exactly.
func TestSubstituteValue(t *testing.T) {
	value := `label_replace(last_over_time(x[19s] offset 1s), "check_id", "a", "", "") or last_over_time(seyren_check_value{check_id="a"}[6s])`
	for _, tc := range []struct {
		name, alert, want, err string
	}{
		{"warning", `seyren_check_value{check_id="a"} >= 100 < 200`,
			`(` + value + `) >= 100 < 200`, ""},
		{"critical lower is worse", `seyren_check_value{check_id="a"} <= 5`, `(` + value + `) <= 5`, ""},
		{"bare", `seyren_check_value{check_id="a"}`, `(` + value + `)`, ""},
		{"in a function", `abs(seyren_check_value{check_id="a"}) > 1`, `abs((` + value + `)) > 1`, ""},
		{"over a range", `max_over_time(seyren_check_value{check_id="a"}[5m]) > 1`, "", "over a range"},
		{"not the value", `up == 0`, "", "does not read seyren_check_value"},
		{"unparsable", `seyren_check_value >=`, "", "alert condition"},
		{"scalar value", `seyren_check_value{check_id="a"} >= 100`, "", "with the value expression in place"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := value
			if tc.name == "scalar value" {
				v = "1"
			}
			got, err := substituteValue(tc.alert, v)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("got %q, %v; want an error with %q", got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got  %s\nwant %s", got, tc.want)
			}
		})
	}
}

// FuzzSubstituteValue: any alert condition and value expression (rule
// files are user input) give an error or a condition that parses, never
// a panic.
func FuzzSubstituteValue(f *testing.F) {
	f.Add(`seyren_check_value{check_id="a"} >= 100 < 200`, `last_over_time(x[19s] offset 1s) or last_over_time(seyren_check_value{check_id="a"}[6s])`)
	f.Add(`abs(seyren_check_value) > -seyren_check_value`, `sum by (a) (rate(x[1m]))`)
	f.Add(`max_over_time(seyren_check_value[5m]) > 1`, `x`)
	f.Fuzz(func(t *testing.T, alert, value string) {
		if len(alert)+len(value) > 4096 {
			return
		}
		got, err := substituteValue(alert, value)
		if err != nil {
			return
		}
		if _, err := parser.NewParser(parser.Options{}).ParseExpr(got); err != nil {
			t.Fatalf("substituteValue(%q, %q) = %q, which does not parse: %v", alert, value, got, err)
		}
	})
}
