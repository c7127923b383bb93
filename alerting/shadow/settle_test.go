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
	t0 := time.Now().Add(-5 * time.Second).Truncate(time.Second)

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
	const delay = 15 * time.Second
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
