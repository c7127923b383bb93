package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/copenhagen-obs/copenhagen/alerting/shadow"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteql"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb/legacytest"
	"github.com/copenhagen-obs/copenhagen/translate/names"
	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

// shadowChecks are the test's Seyren checks, on a compressed clock: a
// [-20s, -1s] window instead of [-11minutes, -1minutes].
const shadowChecksJSON = `{"values": [
 {"id": "queue", "name": "shadowtest queue", "target": "stats.gauges.shadowtest.queue", "from": "-20s", "until": "-1s", "warn": "100", "error": "200", "enabled": true},
 {"id": "wrong", "name": "shadowtest load (wrong translation)", "target": "stats.gauges.shadowtest.load", "from": "-20s", "until": "-1s", "warn": "100", "error": "200", "enabled": true},
 {"id": "idle", "name": "shadowtest api p90", "target": "stats.timers.shadowtest.api.upper_90", "from": "-20s", "until": "-1s", "warn": "500", "error": "800", "enabled": true}
]}`

const shadowMapping = `defaults:
  observer_type: histogram
  histogram_options:
    buckets: [0.01, 0.1, 1]
mappings:
- match: "shadowtest.api"
  name: "shadowtest_api_seconds"
`

// wrongTranslator translates like the real import, except for one target
// whose PromQL is deliberately wrong (three times the value): the shadow
// must report it as disagreeing, unexplained.
type wrongTranslator struct{ seyrenTranslator }

func (w wrongTranslator) Translate(target string, win seyren.Window) graphiteql.Result {
	r := w.seyrenTranslator.Translate(target, win)
	if target == "stats.gauges.shadowtest.load" {
		r.PromQL = "3 * " + r.PromQL
	}
	return r
}

// TranslateLast gives no window translation for the wrong target, so
// that the import takes the wrong Translate result.
func (w wrongTranslator) TranslateLast(target string, win seyren.Window) graphiteql.Result {
	if target == "stats.gauges.shadowtest.load" {
		return graphiteql.Result{}
	}
	return w.seyrenTranslator.TranslateLast(target, win)
}

// TestShadowAgainstLegacyStack: StatsD traffic sent to Copenhagen is
// relayed to a real etsy statsd 0.9.0 -> carbon-cache -> graphite-web
// 1.1.8; the checks imported from the same Seyren export are evaluated by
// Copenhagen's rules and, by the shadow, Seyren's way over graphite-web at
// the same instants. A faithful check agrees (its transitions at most
// one evaluation apart), a wrong translation is reported unexplained, an
// idle timer stays ERROR on both sides (the imported rule skips
// histogram_quantile's NaN as Graphite skips nulls), and a graphite-web
// outage is counted while alerting goes on.
func TestShadowAgainstLegacyStack(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of real traffic through the legacy stack")
	}
	legacy := legacytest.Start(t)
	dir := t.TempDir()
	mapping := filepath.Join(dir, "mapping.yml")
	must(t, os.WriteFile(mapping, []byte(shadowMapping), 0o644))
	checksFile := filepath.Join(dir, "export.json")
	must(t, os.WriteFile(checksFile, []byte(shadowChecksJSON), 0o644))

	// The import, as `copenhagen import seyren` runs it, on a 3 s clock.
	const interval = 3 * time.Second
	tr, _ := compressedTranslator(t, mapping)
	checks, err := seyren.ParseChecks([]byte(shadowChecksJSON))
	must(t, err)
	out, imported := importCompressed(t, dir, checks, seyren.Options{Translator: wrongTranslator{tr}, EvaluationInterval: interval})
	for _, c := range out.Report.Checks {
		if c.Status != seyren.StatusTranslated && c.Status != seyren.StatusPartial {
			t.Fatalf("check %s not translated: %s", c.ID, c.Reason)
		}
	}

	shadowDir := filepath.Join(dir, "shadow-state")
	dataDir := filepath.Join(dir, "data")
	r := start(t, fmt.Sprintf(`storage:
  path: %s
statsd:
  mapping_file: %s
  flush_interval: 200ms
  relay: [%q]
rules:
  files: [%q]
shadow:
  graphite_url: %s
  checks_file: %s
  timeout: 2s
  min_evaluations: 5
  min_episodes: 1
  dir: %s
`, dataDir, mapping, legacy.StatsdAddr, filepath.Join(imported, "rules", "*.yml"), legacy.GraphiteURL,
		filepath.Join(imported, seyren.ShadowChecksFile), shadowDir))
	p := promClient(t, r.url(""))

	report := func() map[string]shadow.CheckStats { t.Helper(); m, _ := shadowChecks(t, r); return m }
	send := func(d time.Duration, lines ...string) { sendFor(t, r, d, lines...) }

	// OK, then WARN, ERROR and OK again; the timer is slow (ERROR).
	trafficStart := time.Now()
	send(8*time.Second, "shadowtest.queue:50|g", "shadowtest.load:50|g", "shadowtest.api:900|ms")
	send(10*time.Second, "shadowtest.queue:150|g", "shadowtest.load:150|g", "shadowtest.api:900|ms")
	if s, _ := alertState(t, p, "SeyrenShadowtestQueue", "warning"); s != "firing" {
		t.Errorf("queue warning is %q, want firing", s)
	}
	send(10*time.Second, "shadowtest.queue:250|g", "shadowtest.load:150|g", "shadowtest.api:900|ms")
	// The timer goes idle from here: statsd sends no upper_90 for it.
	send(12*time.Second, "shadowtest.queue:50|g", "shadowtest.load:150|g")

	rep := report()
	q, w, idle := rep["queue"], rep["wrong"], rep["idle"]
	t.Logf("queue: %+v", q)
	t.Logf("wrong: %+v", w)
	t.Logf("idle: %+v", idle)
	if q.Agree < 5 {
		t.Errorf("queue: %d evaluations agree, want the steady ones (>= 5)", q.Agree)
	}
	if q.Reasons[shadow.ReasonUnexplained] != 0 {
		t.Errorf("queue: unexplained disagreements %v (evidence: %s)", q.Reasons, evidence(t, shadowDir, "queue"))
	}
	if q.Episodes < 1 {
		t.Errorf("queue: %d non-OK episodes, want the WARN/ERROR one", q.Episodes)
	}
	if w.Reasons[shadow.ReasonUnexplained] < 3 || w.Verdict != shadow.VerdictDiverging {
		t.Errorf("wrong translation: reasons %v verdict %s, want unexplained disagreements and diverging", w.Reasons, w.Verdict)
	}
	if w.Last.Graphite != shadow.Warn || w.Last.PromQL != shadow.Error {
		t.Errorf("wrong translation: last %+v, want Graphite WARN (150) and PromQL ERROR (450)", w.Last)
	}
	// The idle timer: Seyren keeps ERROR on the last non-null upper_90;
	// the imported rule skips the NaN of histogram_quantile over no
	// observation (as Graphite skips nulls) and keeps ERROR too.
	if idle.Last.Graphite != shadow.Error || idle.Last.PromQL != shadow.Error {
		t.Errorf("idle timer: last %+v, want ERROR kept on both sides (last real p90 900)", idle.Last)
	}
	if idle.Reasons[shadow.ReasonNaN] != 0 || idle.Reasons[shadow.ReasonUnexplained] != 0 {
		t.Errorf("idle timer: disagreements %v (evidence: %s)", idle.Reasons, evidence(t, shadowDir, "idle"))
	}
	if s, _ := alertState(t, p, "SeyrenShadowtestApiP90", "critical"); s != "firing" {
		t.Errorf("idle timer alert is %q, want still firing as in Seyren", s)
	}
	// The evidence of a disagreement names both sides.
	ev, err := shadow.ReadEvidence(shadowDir, "wrong")
	must(t, err)
	if len(ev) == 0 {
		t.Fatal("no evidence kept for the wrong translation")
	}
	last := ev[len(ev)-1]
	if !strings.Contains(last.RenderURL, "now=") || !strings.Contains(last.PromQLExpr, "3 *") || len(last.GraphiteValues) != 1 || last.GraphiteValues[0].Value != "150.0" && last.GraphiteValues[0].Value != "150" {
		t.Errorf("evidence: %+v", last)
	}

	// The backtest over the same window: the rules stepped over the
	// stored data (read-only, while Copenhagen runs), Seyren's side from
	// graphite-web's history. It finds the same: the wrong translation
	// diverges, the faithful check agrees.
	var rout, rerr bytes.Buffer
	code := runCLI([]string{"shadow", "replay", "--checks", filepath.Join(imported, seyren.ShadowChecksFile),
		"--graphite", legacy.GraphiteURL, "--rules", filepath.Join(imported, "rules", "*.yml"), "--data", dataDir,
		"--start", fmt.Sprint(trafficStart.Add(3 * time.Second).Unix()), "--end", fmt.Sprint(time.Now().Add(-2 * time.Second).Unix()),
		"--interval", "3s", "--min-evaluations", "5", "--format", "json"}, &rout, &rerr)
	if code != exitDiverging {
		t.Errorf("shadow replay exit %d, want %d (the wrong translation diverges); stderr %s", code, exitDiverging, rerr.String())
	}
	var replayed shadow.Report
	if err := json.Unmarshal(rout.Bytes(), &replayed); err != nil {
		t.Fatalf("replay output: %v\n%s\n%s", err, rout.String(), rerr.String())
	}
	for _, c := range replayed.Checks {
		t.Logf("replay %s: evaluations %d agree %d disagree %d reasons %v nc %v", c.CheckID, c.Evaluations, c.Agree, c.Disagree, c.Reasons, c.NotComparableReasons)
		switch c.CheckID {
		case "queue":
			if c.Agree < 5 || c.Reasons[shadow.ReasonUnexplained] != 0 {
				t.Errorf("replay queue: %+v", c)
			}
		case "wrong":
			if c.Reasons[shadow.ReasonUnexplained] < 3 {
				t.Errorf("replay wrong: %+v", c)
			}
		}
	}

	// graphite-web down: shadow evaluations are counted not comparable,
	// while the rules keep evaluating and the alert keeps its state.
	before := report()["wrong"].NotComparableReasons[shadow.NCGraphiteUnreachable]
	legacy.StopGraphite()
	send(4*interval, "shadowtest.queue:150|g", "shadowtest.load:150|g")
	after := report()["wrong"].NotComparableReasons[shadow.NCGraphiteUnreachable]
	if after-before < 2 {
		t.Errorf("outage: %d graphite_unreachable evaluations counted, want >= 2", after-before)
	}
	if s, _ := alertState(t, p, "SeyrenShadowtestQueue", "warning"); s != "firing" {
		t.Errorf("during the outage the queue warning is %q, want firing", s)
	}
	page := scrape(t, r)
	for _, want := range []string{
		`copenhagen_shadow_evaluations_total{check_id="queue",result="agree"}`,
		`copenhagen_shadow_disagreements_total{check_id="wrong",reason="unexplained"}`,
		`copenhagen_shadow_graphite_requests_total{outcome="network_error"}`,
		`copenhagen_shadow_graphite_request_duration_seconds_count`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if v, ok := value(page, `copenhagen_rules_self_alerts_firing{alertname="CopenhagenRuleEvaluationFailing"}`); !ok || v != 0 {
		t.Errorf("rules failing during the outage: %v %v", v, ok)
	}

	// The page and the CLI read the same report; the CLI's exit status
	// gates the switch: not every check is ready, one diverges.
	if code, body := httpGet(r.url("/shadow")); code != 200 || !strings.Contains(body, "shadowtest load (wrong translation)") || !strings.Contains(body, "diverging") {
		t.Errorf("/shadow: %d\n%s", code, body)
	}
	var stdout, stderr bytes.Buffer
	if code := runCLI([]string{"shadow", "report", "--url", r.url(""), "--format", "json"}, &stdout, &stderr); code != exitDiverging {
		t.Errorf("shadow report exit %d, want %d (diverging); stderr %s", code, exitDiverging, stderr.String())
	}
	var cli struct {
		Checks []map[string]any `json:"checks"`
	}
	must(t, json.Unmarshal(stdout.Bytes(), &cli))
	if len(cli.Checks) != 3 {
		t.Fatalf("shadow report: %d checks", len(cli.Checks))
	}
	for _, k := range []string{"check_id", "name", "evaluations", "agree", "disagree", "last", "reasons", "verdict"} {
		if _, ok := cli.Checks[0][k]; !ok {
			t.Errorf("report JSON lacks %q: %v", k, cli.Checks[0])
		}
	}
	stdout.Reset()
	if code := runCLI([]string{"shadow", "report", "--url", r.url(""), "--check", "queue"}, &stdout, &stderr); code != exitReady {
		t.Errorf("shadow report --check queue exit %d, want %d (5 comparable evaluations and a WARN/ERROR episode, nothing unexplained)", code, exitReady)
	}
	if !strings.Contains(stdout.String(), "| shadowtest queue (`queue`) | ready |") {
		t.Errorf("markdown report:\n%s", stdout.String())
	}
}

func evidence(t *testing.T, dir, id string) string {
	ev, err := shadow.ReadEvidence(dir, id)
	if err != nil {
		return err.Error()
	}
	b, _ := json.MarshalIndent(ev, "", " ")
	return string(b)
}

// shadowChecks reads /api/v1/shadow, by check id, and its body.
func shadowChecks(t *testing.T, r *running) (map[string]shadow.CheckStats, string) {
	t.Helper()
	code, body := httpGet(r.url("/api/v1/shadow"))
	if code != 200 {
		t.Fatalf("/api/v1/shadow: %d %s", code, body)
	}
	var rep shadow.Report
	must(t, json.Unmarshal([]byte(body), &rep))
	m := map[string]shadow.CheckStats{}
	for _, c := range rep.Checks {
		m[c.CheckID] = c
	}
	return m, body
}

// sendFor keeps values flowing for d: the lines every 200 ms, through
// Copenhagen (and its relay).
func sendFor(t *testing.T, r *running, d time.Duration, lines ...string) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); {
		sendUDP(t, r.udpAddr(), strings.Join(lines, "\n"))
		time.Sleep(200 * time.Millisecond)
	}
}

// compressedTranslator is `copenhagen import seyren`'s translator on the
// shadow tests' compressed clock (1 s flushes and steps, 3 s rate
// windows), over the statsd mapping file mapping.
func compressedTranslator(t *testing.T, mapping string) (seyrenTranslator, *names.Mapper) {
	t.Helper()
	sm, err := names.Load(mapping)
	must(t, err)
	opts := graphiteql.DefaultOptions()
	opts.FlushInterval = time.Second
	opts.RateWindow = 3 * time.Second
	return seyrenTranslator{r: graphiteql.NewResolver(sm, nil, opts), step: time.Second}, sm
}

// importCompressed imports checks as `copenhagen import seyren` does, at
// 1 s steps, into dir/imported, and returns the output and that path.
func importCompressed(t *testing.T, dir string, checks []seyren.Check, o seyren.Options) (*seyren.Output, string) {
	t.Helper()
	o.Step = time.Second
	out, err := seyren.Import(checks, o)
	must(t, err)
	imported := filepath.Join(dir, "imported")
	must(t, out.Write(imported))
	return out, imported
}
