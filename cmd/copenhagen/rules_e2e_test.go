package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"

	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
)

// fastSeyrenRules copies the rules `copenhagen import seyren` wrote for
// the shared example export into dir, compressed in time so that a test
// runs in seconds: groups evaluate every second instead of every minute,
// and the thumbnails backlog check (a plain selector) looks at the last
// 3 s instead of [-11minutes, -1minutes]. Thresholds, labels and
// annotations are the generated ones.
func fastSeyrenRules(t *testing.T, dir string) string {
	t.Helper()
	src, err := filepath.Glob("../../rules/seyren-example/rules/*.yml")
	if err != nil || len(src) == 0 {
		t.Fatalf("example rules: %v %v", src, err)
	}
	for _, f := range src {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "interval: 1m", "interval: 1s")
		s = strings.ReplaceAll(s, `worker_queue_messages{app="thumbnails",queue="resize"}[10m] offset 1m`, `worker_queue_messages{app="thumbnails",queue="resize"}[3s]`)
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "*.yml")
}

// mappingFile is the StatsD mapping the example's checks were translated with.
func mappingFile(t *testing.T) string {
	t.Helper()
	p, err := filepath.Abs("../../translate/seyren/testdata/statsd-mapping.yml")
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// webhook collects what an Alertmanager webhook receiver gets.
type webhook struct {
	mu   sync.Mutex
	msgs []webhookMsg
}

type webhookMsg struct {
	Status string `json:"status"`
	Alerts []struct {
		Status string            `json:"status"`
		Labels map[string]string `json:"labels"`
	} `json:"alerts"`
}

func (h *webhook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var m webhookMsg
	if err := json.NewDecoder(r.Body).Decode(&m); err == nil {
		h.mu.Lock()
		h.msgs = append(h.msgs, m)
		h.mu.Unlock()
	}
}

// got reports whether an alert named name with the given severity arrived
// with status ("firing" or "resolved").
func (h *webhook) got(name, severity, status string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, m := range h.msgs {
		for _, a := range m.Alerts {
			if a.Labels["alertname"] == name && a.Labels["severity"] == severity && a.Status == status {
				return true
			}
		}
	}
	return false
}

// startAlertmanager runs Debian's Alertmanager 0.25 on a free port with
// its own storage, clustering off, sending everything to hook.
func startAlertmanager(t *testing.T, hook string) string {
	t.Helper()
	bin := storagetest.NeedTool(t, "prometheus-alertmanager", ".ci/deps.d/alerting.sh")
	dir := t.TempDir()
	cfg := fmt.Sprintf(`route:
  receiver: hook
  group_by: [check_id, severity]
  group_wait: 100ms
  group_interval: 500ms
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: %s
        send_resolved: true
`, hook)
	if err := os.WriteFile(filepath.Join(dir, "am.yml"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "am.yml"), "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("alertmanager log:\n%s", stderr.String())
		}
	})
	waitFor(t, "alertmanager ready", func() bool {
		code, _ := httpGet("http://" + addr + "/-/ready")
		return code == 200
	})
	return "http://" + addr
}

func promClient(t *testing.T, base string) v1.API {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: base})
	if err != nil {
		t.Fatal(err)
	}
	return v1.NewAPI(c)
}

// alertState returns the state of the alert named name with the given
// severity in /api/v1/alerts ("" when absent).
func alertState(t *testing.T, p v1.API, name, severity string) (string, time.Time) {
	t.Helper()
	res, err := p.Alerts(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range res.Alerts {
		if string(a.Labels["alertname"]) == name && string(a.Labels["severity"]) == severity {
			return string(a.State), a.ActiveAt
		}
	}
	return "", time.Time{}
}

func ruleHealth(r any) v1.RuleHealth {
	switch r := r.(type) {
	case v1.AlertingRule:
		return r.Health
	case v1.RecordingRule:
		return r.Health
	}
	return ""
}

func waitLong(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestSeyrenRulesEndToEnd: the imported example rules, evaluated against
// StatsD traffic, fire and resolve in /api/v1/alerts and at a real
// Alertmanager 0.25 configured under alerting.alertmanagers, within two
// evaluation intervals (plus the StatsD flush) of the crossing.
func TestSeyrenRulesEndToEnd(t *testing.T) {
	hook := &webhook{}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	am := startAlertmanager(t, hs.URL)
	rules := fastSeyrenRules(t, t.TempDir())
	r := start(t, fmt.Sprintf(`statsd:
  mapping_file: %s
  flush_interval: 200ms
rules:
  files: [%q]
  resend_delay: 1s
alerting:
  alertmanagers:
    - urls: [%s]
      timeout: 5s
`, mappingFile(t), rules, am))
	p := promClient(t, r.url(""))
	const name = "SeyrenThumbnailsResizeBacklog"
	const gauge = "thumbnails.worker.queue.resize.size:%d|g"

	// All imported groups load and evaluate healthily (the other checks
	// have no data: their rules return nothing, which is not an error).
	rs, err := p.Rules(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(rules)
	want := 0
	for _, f := range files {
		b, _ := os.ReadFile(f)
		want += strings.Count(string(b), "\n  - name: ")
	}
	if len(rs.Groups) != want || want < 10 {
		t.Errorf("%d rule groups loaded, want the example's %d", len(rs.Groups), want)
	}
	for _, g := range rs.Groups {
		for _, rule := range g.Rules {
			if h := ruleHealth(rule); h == v1.RuleHealthBad {
				t.Errorf("group %s: a rule fails: %+v", g.Name, rule)
			}
		}
	}

	sendUDP(t, r.udpAddr(), fmt.Sprintf(gauge, 100))
	time.Sleep(1500 * time.Millisecond)
	if s, _ := alertState(t, p, name, "warning"); s != "" {
		t.Fatalf("alert %s below the threshold", s)
	}

	// WARN: 1000 <= value < 5000.
	crossed := time.Now()
	sendUDP(t, r.udpAddr(), fmt.Sprintf(gauge, 2000))
	waitLong(t, "warning firing", 5*time.Second, func() bool { s, _ := alertState(t, p, name, "warning"); return s == "firing" })
	// Two evaluation intervals + one flush, with 500 ms for a loaded
	// machine (polling every 50 ms).
	if d := time.Since(crossed); d > 2*time.Second+200*time.Millisecond+500*time.Millisecond {
		t.Errorf("warning fired %v after the crossing, more than two intervals + flush", d)
	} else {
		t.Logf("threshold crossing to firing in /api/v1/alerts: %v", d)
	}
	// ERROR: the warning resolves (states are exclusive) and critical fires.
	sendUDP(t, r.udpAddr(), fmt.Sprintf(gauge, 6000))
	waitLong(t, "critical firing", 5*time.Second, func() bool { s, _ := alertState(t, p, name, "critical"); return s == "firing" })
	waitLong(t, "warning gone", 5*time.Second, func() bool { s, _ := alertState(t, p, name, "warning"); return s == "" })

	// The external Alertmanager has it, with the generated labels.
	waitLong(t, "alert at the Alertmanager", 10*time.Second, func() bool {
		_, body := httpGet(am + "/api/v2/alerts?filter=alertname%3D%22" + name + "%22")
		return strings.Contains(body, `"severity":"critical"`) && strings.Contains(body, `"check_id":"5a1f00000000000000000003"`) &&
			strings.Contains(body, `"state":"active"`)
	})
	waitLong(t, "firing webhook", 10*time.Second, func() bool { return hook.got(name, "critical", "firing") })

	// Traffic recovers: resolved everywhere.
	sendUDP(t, r.udpAddr(), fmt.Sprintf(gauge, 10))
	waitLong(t, "resolution", 5*time.Second, func() bool { s, _ := alertState(t, p, name, "critical"); return s == "" })
	waitLong(t, "resolved webhook", 10*time.Second, func() bool { return hook.got(name, "critical", "resolved") })
	waitLong(t, "resolved webhook (warning)", 10*time.Second, func() bool { return hook.got(name, "warning", "resolved") })

	page := scrape(t, r)
	for _, want := range []string{"prometheus_notifications_sent_total{alertmanager=\"" + am + "/api/v2/alerts\"}", "prometheus_rule_group_last_duration_seconds{", "copenhagen_rules_self_alerts_firing{alertname=\"CopenhagenRuleEvaluationFailing\"} 0"} {
		if !strings.Contains(page, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if v, ok := value(page, `prometheus_rule_evaluation_failures_total{rule_group="`+strings.TrimSuffix(rules, "*.yml")+`thumbnails.yml;seyren-5a1f00000000000000000003"}`); !ok || v != 0 {
		t.Errorf("evaluation failures of the thumbnails group: %v %v", v, ok)
	}
}

// A rule that fails raises CopenhagenRuleEvaluationFailing through the
// same path as any alert (here the external Alertmanager), and a reload
// keeps the state of alerts that are firing.
func TestRulesReloadKeepsStateAndFailuresAlert(t *testing.T) {
	hook := &webhook{}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	am := startAlertmanager(t, hs.URL)
	dir := t.TempDir()
	rulesFile := filepath.Join(dir, "rules.yml")
	good := `groups:
  - name: queue
    interval: 500ms
    rules:
      - alert: QueueLong
        expr: max_over_time(worker_queue_messages[2s]) > 100
        for: 1s
        labels: {severity: critical, check_id: q1}
`
	must(t, os.WriteFile(rulesFile, []byte(good), 0o644))
	cfgTail := fmt.Sprintf(`statsd:
  mapping_file: %s
  flush_interval: 200ms
rules:
  files: [%q]
  resend_delay: 1s
alerting:
  alertmanagers:
    - urls: [%s]
`, mappingFile(t), filepath.Join(dir, "*.yml"), am)
	r := start(t, cfgTail)
	p := promClient(t, r.url(""))
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
				sendUDP(t, r.udpAddr(), "thumbnails.worker.queue.resize.size:500|g", "catalog.worker.queue.import.size:1|g")
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	waitLong(t, "QueueLong firing", 10*time.Second, func() bool { s, _ := alertState(t, p, "QueueLong", "critical"); return s == "firing" })
	_, activeAt := alertState(t, p, "QueueLong", "critical")

	reload := func() (int, string) {
		resp, err := http.Post(r.url("/-/reload"), "", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// A broken file is refused and the running rules stay.
	must(t, os.WriteFile(filepath.Join(dir, "broken.yml"), []byte("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: sum(\n"), 0o644))
	if code, body := reload(); code != 400 || !strings.Contains(body, "broken.yml") {
		t.Errorf("broken rule file: reload answered %d %s", code, body)
	}
	must(t, os.Remove(filepath.Join(dir, "broken.yml")))

	// A reload that adds a group (one that fails: many-to-one matching
	// without group_left, as soon as two queues report) keeps QueueLong
	// firing with its original activeAt, no pending restart.
	must(t, os.WriteFile(filepath.Join(dir, "ratio.yml"), []byte(`groups:
  - name: ratio
    interval: 500ms
    rules:
      - alert: QueueRatio
        expr: worker_queue_messages / on () group_left vector(1) > 0 and on() worker_queue_messages * on () vector(1)
        labels: {check_id: q2}
`), 0o644))
	if code, body := reload(); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	s, after := alertState(t, p, "QueueLong", "critical")
	if s != "firing" || !after.Equal(activeAt) {
		t.Errorf("after reload: %s since %v, want firing since %v", s, after, activeAt)
	}
	waitLong(t, "CopenhagenRuleEvaluationFailing at the Alertmanager", 10*time.Second, func() bool {
		return hook.got("CopenhagenRuleEvaluationFailing", "warning", "firing")
	})
	_, body := httpGet(am + "/api/v2/alerts?filter=alertname%3D%22CopenhagenRuleEvaluationFailing%22")
	for _, want := range []string{`"rule":"QueueRatio"`, `"rule_group":"ratio"`, `"check_id":"q2"`, `many-to-one`} {
		if !strings.Contains(body, want) {
			t.Errorf("CopenhagenRuleEvaluationFailing lacks %s: %s", want, body)
		}
	}
	rs, err := p.Rules(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range rs.Groups {
		for _, rule := range g.Rules {
			if ar, ok := rule.(v1.AlertingRule); ok && ar.Name == "QueueRatio" && (ar.Health != v1.RuleHealthBad || ar.LastError == "") {
				t.Errorf("QueueRatio in /api/v1/rules: %+v", ar)
			}
		}
	}
	// Removing the failing group resolves its alert.
	must(t, os.Remove(filepath.Join(dir, "ratio.yml")))
	if code, body := reload(); code != 200 {
		t.Fatalf("reload: %d %s", code, body)
	}
	waitLong(t, "CopenhagenRuleEvaluationFailing resolved", 10*time.Second, func() bool {
		return hook.got("CopenhagenRuleEvaluationFailing", "warning", "resolved")
	})
}

// TestBinaryRestartRestoresForState: the real binary is stopped and
// started again; an alert that was firing is firing again at the first
// evaluation with its original activeAt (no new `for` wait), and one
// that was pending keeps the time it had already spent pending
// (Prometheus's ALERTS_FOR_STATE restoration, from the embedded TSDB).
func TestBinaryRestartRestoresForState(t *testing.T) {
	dir := t.TempDir()
	httpPort, udpPort := freePort(t), freePort(t)
	must(t, os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(`groups:
  - name: queue
    interval: 500ms
    rules:
      - alert: QueueLong
        expr: max_over_time(worker_queue_messages[1m]) > 100
        for: 2s
        labels: {severity: critical}
      - alert: QueueStuck
        expr: max_over_time(worker_queue_messages[1m]) > 100
        for: 1h
        labels: {severity: warning}
`), 0o644))
	cfg := filepath.Join(dir, "copenhagen.yml")
	must(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`http:
  listen: 127.0.0.1:%d
graphite: {tcp: "", udp: "", pickle: ""}
statsd:
  udp: 127.0.0.1:%d
  tcp: ""
  mapping_file: %s
  flush_interval: 200ms
storage:
  path: %s
rules:
  files: [rules.yml]
  for_grace_period: 1s
`, httpPort, udpPort, mappingFile(t), filepath.Join(dir, "data"))), 0o644))
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	p := promClient(t, base)
	run := func() *proc {
		pr := startBinary(t, "run", "--config", cfg)
		pr.http = fmt.Sprintf("127.0.0.1:%d", httpPort)
		waitHTTP(t, pr, "/-/ready", func(code int, _ string) bool { return code == 200 })
		return pr
	}
	pr := run()
	sendUDP(t, fmt.Sprintf("127.0.0.1:%d", udpPort), "thumbnails.worker.queue.resize.size:500|g")
	waitLong(t, "QueueLong firing", 10*time.Second, func() bool { s, _ := alertState(t, p, "QueueLong", "critical"); return s == "firing" })
	_, firingSince := alertState(t, p, "QueueLong", "critical")
	s, pendingSince := alertState(t, p, "QueueStuck", "warning")
	if s != "pending" {
		t.Fatalf("QueueStuck %s, want pending", s)
	}
	time.Sleep(time.Second) // ALERTS_FOR_STATE written by a few evaluations
	must(t, pr.cmd.Process.Signal(os.Interrupt))
	if err := pr.cmd.Wait(); err != nil {
		t.Fatalf("stop: %v\n%s", err, pr.stderr.String())
	}
	stoppedAt := time.Now()
	time.Sleep(time.Second)

	pr = run()
	restarted := time.Now()
	// The gauge is not sent again: max_over_time reads the samples
	// written before the restart from the TSDB.
	// Prometheus restores after the group's second evaluation (1 s
	// here); a fresh QueueLong would need its 2 s `for` again.
	var s2 string
	var since time.Time
	for time.Since(restarted) < 1800*time.Millisecond {
		s2, since = alertState(t, p, "QueueLong", "critical")
		if s2 == "firing" {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	// ALERTS_FOR_STATE keeps whole seconds.
	if s2 != "firing" || !since.Equal(firingSince.Truncate(time.Second)) {
		t.Errorf("QueueLong 1.8 s after restart: %q since %v, want firing since %v (restored)\n%s", s2, since, firingSince, pr.stderr.String())
	}
	s, since = alertState(t, p, "QueueStuck", "warning")
	// Restored: activeAt moves forward by the downtime only, so the time
	// already spent pending counts; a fresh alert would start at or after
	// the restart.
	spent := stoppedAt.Sub(pendingSince)
	if s != "pending" || !since.Before(restarted.Add(-spent/2)) {
		t.Errorf("QueueStuck after restart: %s since %v; it was pending since %v, stopped %v, restarted %v", s, since, pendingSince, stoppedAt, restarted)
	}
	if !strings.Contains(pr.stderr.String(), "rules loaded") {
		t.Errorf("no rules loaded line in the log:\n%s", pr.stderr.String())
	}
}

// With rules.query_url, rules read another Prometheus-compatible API (here
// a second Copenhagen's) and the alert fires from that data; the
// evaluating instance has none of it.
func TestRulesQueryURL(t *testing.T) {
	data := start(t, fmt.Sprintf("statsd:\n  mapping_file: %s\n  flush_interval: 200ms\n", mappingFile(t)))
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(`groups:
  - name: remote
    interval: 500ms
    rules:
      - record: queue:max
        expr: max(worker_queue_messages)
      - alert: QueueLong
        expr: max(worker_queue_messages) > 100
        labels: {severity: critical}
`), 0o644))
	eval := start(t, fmt.Sprintf("rules:\n  files: [%q]\n  query_url: %s\n", filepath.Join(dir, "rules.yml"), data.url("")))
	sendUDP(t, data.udpAddr(), "thumbnails.worker.queue.resize.size:500|g")
	p := promClient(t, eval.url(""))
	waitLong(t, "QueueLong firing from the remote data", 10*time.Second, func() bool {
		s, _ := alertState(t, p, "QueueLong", "critical")
		return s == "firing"
	})
	// The recording rule's result is written locally.
	v, _, _, err := p.Query(context.Background(), "queue:max", time.Now())
	if err != nil || !strings.Contains(v.String(), "=> 500") {
		t.Errorf("queue:max in the evaluating instance: %v %v", v, err)
	}
	v, _, _, err = p.Query(context.Background(), "worker_queue_messages", time.Now())
	if err != nil || v.String() != "" {
		t.Errorf("the evaluating instance has the raw data itself: %q %v", v, err)
	}
}
