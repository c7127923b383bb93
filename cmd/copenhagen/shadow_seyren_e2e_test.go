package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/copenhagen-obs/copenhagen/alerting/shadow"
	"github.com/copenhagen-obs/copenhagen/alerting/shadow/seyrentest"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb/legacytest"
	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

// seyrenSideChecks are the checks of TestShadowSeyrenThirdColumn, on a
// compressed clock ([-20s, -1s] windows, 3 s evaluations).
const seyrenSideChecks = `{"values": [
 {"id": "queue", "name": "seyrentest queue", "target": "stats.gauges.shadowtest.queue", "from": "-20s", "until": "-1s", "warn": "100", "error": "200", "enabled": true},
 {"id": "wrong", "name": "seyrentest load (wrong translation)", "target": "stats.gauges.shadowtest.load", "from": "-20s", "until": "-1s", "warn": "100", "error": "200", "enabled": true}
]}`

// TestShadowSeyrenThirdColumn: shadow.seyren_url adds Seyren's own state
// as a third column, live and in the replay.
//
// The Seyren side is the seyrentest stand-in reproducing Seyren's API
// (Seyren, Java 7 + MongoDB, cannot run here), behind basic auth; its
// rows are written by seyrentest.Recorder, i.e. by Copenhagen's port of
// Seyren's runner over the real graphite-web 1.1.8 fed by a real etsy
// statsd 0.9.0 through Copenhagen's relay, once per evaluation interval.
// Seyren vs emulator agreement here proves the plumbing, nothing about
// the emulator (the fixture histories of alerting/shadow test the
// reconstruction); Seyren vs PromQL still shows the deliberately wrong
// translation, unexplained.
func TestShadowSeyrenThirdColumn(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of real traffic through the legacy stack")
	}
	legacy := legacytest.Start(t)
	dir := t.TempDir()
	mapping := filepath.Join(dir, "mapping.yml")
	must(t, os.WriteFile(mapping, []byte("mappings: []\n"), 0o644))
	const interval = 3 * time.Second
	tr, _ := compressedTranslator(t, mapping)
	checks, err := seyren.ParseChecks([]byte(seyrenSideChecks))
	must(t, err)
	_, imported := importCompressed(t, dir, checks, seyren.Options{Translator: wrongTranslator{tr}, EvaluationInterval: interval})
	checksFile := filepath.Join(imported, seyren.ShadowChecksFile)

	// Seyren: the stand-in, its history recorded every interval over the
	// real graphite-web, behind basic auth.
	const seyrenPassword = "s3cret-seyren-pw"
	var fixture seyrentest.Fixture
	for _, c := range checks {
		fixture.Checks = append(fixture.Checks, shadow.SeyrenCheck{ID: c.ID, Name: c.Name, Target: c.Target, From: c.From, Until: c.Until,
			Warn: c.Warn.Text, Error: c.Error.Text, Enabled: true})
	}
	sey := seyrentest.New(t, fixture)
	sey.RequireBasicAuth("copenhagen", seyrenPassword)
	pwFile := filepath.Join(dir, "seyren.pw")
	must(t, os.WriteFile(pwFile, []byte(seyrenPassword+"\n"), 0o600))
	gw, err := graphiteweb.NewClient(legacy.GraphiteURL, nil)
	must(t, err)
	recCtx, stopRecorder := context.WithCancel(context.Background())
	defer stopRecorder()
	rec := &seyrentest.Recorder{Server: sey, Graphite: gw, Checks: checks}
	go rec.Run(recCtx, interval)

	dataDir := filepath.Join(dir, "data")
	shadowDir := filepath.Join(dir, "shadow-state")
	shadowSection := fmt.Sprintf(`shadow:
  graphite_url: %s
  seyren_url: %s
  basic_auth:
    username: copenhagen
    password_file: %s
  checks_file: %s
  timeout: 2s
  min_evaluations: 5
  dir: %s
`, legacy.GraphiteURL, sey.URL, pwFile, checksFile, shadowDir)
	r := start(t, fmt.Sprintf(`storage:
  path: %s
statsd:
  mapping_file: %s
  flush_interval: 200ms
  relay: [%q]
rules:
  evaluation_interval: 3s
  files: [%q]
%s`, dataDir, mapping, legacy.StatsdAddr, filepath.Join(imported, "rules", "*.yml"), shadowSection))
	p := promClient(t, r.url(""))

	report := func() map[string]shadow.CheckStats {
		t.Helper()
		m, body := shadowChecks(t, r)
		if strings.Contains(body, seyrenPassword) {
			t.Fatalf("/api/v1/shadow shows Seyren's password")
		}
		return m
	}
	send := func(d time.Duration, lines ...string) { sendFor(t, r, d, lines...) }
	trafficStart := time.Now()
	send(8*time.Second, "shadowtest.queue:50|g", "shadowtest.load:50|g")
	send(10*time.Second, "shadowtest.queue:150|g", "shadowtest.load:150|g")
	send(10*time.Second, "shadowtest.queue:250|g", "shadowtest.load:150|g")
	send(10*time.Second, "shadowtest.queue:50|g", "shadowtest.load:150|g")

	rep := report()
	q, w := rep["queue"], rep["wrong"]
	for _, c := range []shadow.CheckStats{q, w} {
		b, _ := json.Marshal(c.Seyren)
		t.Logf("live %s: evaluations %d agree %d disagree %d reasons %v; seyren %s", c.CheckID, c.Evaluations, c.Agree, c.Disagree, c.Reasons, b)
	}
	if q.Seyren == nil || w.Seyren == nil {
		t.Fatalf("no Seyren column: %+v %+v", q, w)
	}
	if !q.Seyren.Seeded {
		t.Errorf("queue: the emulator was not seeded from Seyren's rows")
	}
	if q.Seyren.VsPromQL.Agree < 4 || q.Seyren.VsPromQL.Reasons[shadow.ReasonUnexplained] != 0 {
		t.Errorf("queue: Seyren vs PromQL %+v, want >= 4 agreeing polls and nothing unexplained", q.Seyren.VsPromQL)
	}
	if q.Seyren.Observations < 8 {
		t.Errorf("queue: %d polls of Seyren, want one per 3 s interval", q.Seyren.Observations)
	}
	if w.Seyren.VsPromQL.Reasons[shadow.ReasonUnexplained] < 2 {
		t.Errorf("wrong translation: Seyren vs PromQL %+v, want unexplained disagreements (Seyren WARN at 150, PromQL ERROR at 450)", w.Seyren.VsPromQL)
	}
	if w.Seyren.VsEmulator.Agree < 2 {
		t.Errorf("wrong translation: Seyren vs emulator %+v, want agreement (the recorder is the emulator)", w.Seyren.VsEmulator)
	}
	if w.Last.Seyren == nil || *w.Last.Seyren != shadow.Warn {
		t.Errorf("wrong: last %+v, want last.seyren WARN", w.Last)
	}
	page := scrape(t, r)
	if v, ok := value(page, `copenhagen_shadow_seyren_requests_total{result="ok"}`); !ok || v < 8 {
		t.Errorf("copenhagen_shadow_seyren_requests_total{result=ok} %v %v", v, ok)
	}
	if v, ok := value(page, `copenhagen_shadow_state{check_id="wrong",side="seyren"}`); !ok || v != float64(shadow.Warn) {
		t.Errorf(`copenhagen_shadow_state{check_id="wrong",side="seyren"} %v %v, want %d`, v, ok, shadow.Warn)
	}
	if sey.Unauthorized() != 0 {
		t.Errorf("%d requests to Seyren without its credentials", sey.Unauthorized())
	}
	if code, body := httpGet(r.url("/shadow")); code != 200 || !strings.Contains(body, "Seyren (its API)") || !strings.Contains(body, "Seyren&#39;s API at "+sey.URL) {
		t.Errorf("/shadow lacks the Seyren column or its source: %d\n%s", code, body)
	}
	var stdout, stderr bytes.Buffer
	runCLI([]string{"shadow", "report", "--url", r.url("")}, &stdout, &stderr)
	if md := stdout.String(); !strings.Contains(md, "## Seyren's own state (third column)") || !strings.Contains(md, "| seyrentest load (wrong translation) (`wrong`) |") {
		t.Errorf("shadow report md lacks the Seyren section:\n%s", md)
	}

	// The replay, everything from the config file: graphite_url,
	// seyren_url with its basic auth, checks_file, storage.path. Seyren's
	// recorded history is the third column at every step.
	cfgFile := filepath.Join(dir, "replay.yml")
	must(t, os.WriteFile(cfgFile, []byte(fmt.Sprintf("storage:\n  path: %s\n%s", dataDir, shadowSection)), 0o644))
	replay := func(args ...string) (int, shadow.Report, string) {
		t.Helper()
		var rout, rerr bytes.Buffer
		code := runCLI(append([]string{"shadow", "replay", "--rules", filepath.Join(imported, "rules", "*.yml"),
			"--start", fmt.Sprint(trafficStart.Add(3 * time.Second).Unix()), "--end", fmt.Sprint(time.Now().Add(-2 * time.Second).Unix()),
			"--interval", "3s", "--min-evaluations", "5", "--format", "json"}, args...), &rout, &rerr)
		var rep shadow.Report
		if err := json.Unmarshal(rout.Bytes(), &rep); err != nil {
			t.Fatalf("replay output: %v\n%s\n%s", err, rout.String(), rerr.String())
		}
		return code, rep, rerr.String()
	}
	code, replayed, errOut := replay("--config", cfgFile)
	if code != exitDiverging {
		t.Errorf("replay exit %d, want %d; stderr %s", code, exitDiverging, errOut)
	}
	if !strings.Contains(replayed.Sources["seyren"], "alert history") {
		t.Errorf("replay sources %v, want the Seyren column labelled as its alert history", replayed.Sources)
	}
	for _, c := range replayed.Checks {
		b, _ := json.Marshal(c.Seyren)
		t.Logf("replay %s: evaluations %d agree %d disagree %d reasons %v nc %v; seyren %s", c.CheckID, c.Evaluations, c.Agree, c.Disagree, c.Reasons, c.NotComparableReasons, b)
		// The first steps used to be promql_error (replay_storage.go).
		if n := c.NotComparableReasons[shadow.NCPromQLError]; n != 0 {
			t.Errorf("replay %s: %d promql_error", c.CheckID, n)
		}
		if c.Seyren == nil || c.Seyren.Rows == 0 || c.Seyren.Observations < 8 || c.Seyren.PhaseSec == nil {
			t.Errorf("replay %s: Seyren column %+v, want its history read and compared at every step", c.CheckID, c.Seyren)
			continue
		}
		switch c.CheckID {
		case "queue":
			if c.Seyren.VsPromQL.Agree < 5 || c.Seyren.VsPromQL.Reasons[shadow.ReasonUnexplained] != 0 {
				t.Errorf("replay queue: Seyren vs PromQL %+v", c.Seyren.VsPromQL)
			}
			if c.Seyren.VsEmulator.Agree < 5 {
				t.Errorf("replay queue: Seyren vs emulator %+v", c.Seyren.VsEmulator)
			}
		case "wrong":
			if c.Seyren.VsPromQL.Reasons[shadow.ReasonUnexplained] < 3 {
				t.Errorf("replay wrong: Seyren vs PromQL %+v, want unexplained", c.Seyren.VsPromQL)
			}
		}
	}
	// Without the credentials Seyren refuses: counted per check as not
	// comparable, the two other columns unaffected.
	before := sey.Unauthorized()
	_, noAuth, _ := replay("--checks", checksFile, "--graphite", legacy.GraphiteURL, "--seyren", sey.URL, "--data", dataDir)
	if sey.Unauthorized() == before {
		t.Errorf("the replay without --config sent Seyren's credentials")
	}
	for _, c := range noAuth.Checks {
		if c.Seyren == nil || c.Seyren.VsPromQL.NotComparableReasons[shadow.SeyrenUnreachable] == 0 || c.Agree+c.Disagree == 0 {
			t.Errorf("replay %s with Seyren refusing: %+v / %+v, want seyren_unreachable counted and the others compared", c.CheckID, c.Seyren, c)
		}
	}

	// Seyren down live: counted; evaluation, alerting and the other two
	// columns go on.
	before503, _ := value(scrape(t, r), `copenhagen_shadow_seyren_requests_total{result="http_error"}`)
	evals := report()["queue"].Evaluations
	sey.SetDown(true)
	send(4*interval, "shadowtest.queue:150|g", "shadowtest.load:150|g")
	after503, _ := value(scrape(t, r), `copenhagen_shadow_seyren_requests_total{result="http_error"}`)
	if after503-before503 < 2 {
		t.Errorf("Seyren outage: %v http_error requests counted, want >= 2", after503-before503)
	}
	if e := report()["queue"].Evaluations; e < evals+2 {
		t.Errorf("during Seyren's outage the shadow evaluated %d times, want >= 2", e-evals)
	}
	if s, _ := alertState(t, p, "SeyrenSeyrentestQueue", "warning"); s != "firing" {
		t.Errorf("during Seyren's outage the queue warning is %q, want firing", s)
	}
}
