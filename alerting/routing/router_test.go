package routing

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"
)

// receiver stands in for Slack, PagerDuty or a webhook consumer: it
// records every request body, answering status.
type fakeReceiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	bodies [][]byte
	paths  []string
	status int
	reply  string
}

// newPagerDutyV1 stands in for PagerDuty's Events v1 endpoint, which
// Alertmanager does not let configurations change (url applies to v2
// only): a TLS server that the integrations' HTTP clients are redirected
// to (see redirect).
func newPagerDutyV1(t *testing.T) *fakeReceiver {
	r := &fakeReceiver{t: t, status: http.StatusOK, reply: `{"status":"success","message":"Event processed","incident_key":"x"}`}
	r.srv = httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		r.paths = append(r.paths, req.Host+req.URL.Path)
		r.mu.Unlock()
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(r.reply))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

// redirect sends connections for events.pagerduty.com to r and trusts
// its certificate; other hosts are dialled normally.
func (r *fakeReceiver) redirect() []commoncfg.HTTPClientOption {
	addr := r.srv.Listener.Addr().String()
	var d net.Dialer
	return []commoncfg.HTTPClientOption{
		commoncfg.WithDialContextFunc(func(ctx context.Context, network, a string) (net.Conn, error) {
			if strings.HasPrefix(a, "events.pagerduty.com:") {
				a = addr
			}
			return d.DialContext(ctx, network, a)
		}),
		commoncfg.WithNewTLSConfigFunc(func(ctx context.Context, c *commoncfg.TLSConfig, o ...commoncfg.TLSConfigOption) (*tls.Config, error) {
			tc, err := commoncfg.NewTLSConfigWithContext(ctx, c, o...)
			if err == nil {
				tc.InsecureSkipVerify = true
			}
			return tc, err
		}),
	}
}

// newSlack answers like a Slack incoming webhook.
func newSlack(t *testing.T) *fakeReceiver {
	r := newReceiver(t)
	r.reply = "ok"
	return r
}

func newReceiver(t *testing.T) *fakeReceiver {
	r := &fakeReceiver{t: t, status: http.StatusOK, reply: `{"status":"success","message":"Event processed"}`}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.bodies = append(r.bodies, b)
		r.paths = append(r.paths, req.URL.Path)
		st, reply := r.status, r.reply
		r.mu.Unlock()
		w.WriteHeader(st)
		_, _ = w.Write([]byte(reply))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *fakeReceiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.bodies)
}

// waitFor waits until n requests arrived and returns them all.
func (r *fakeReceiver) waitFor(n int, within time.Duration) []map[string]any {
	r.t.Helper()
	deadline := time.Now().Add(within)
	for r.count() < n {
		if time.Now().After(deadline) {
			r.t.Fatalf("%d requests after %v, want %d", r.count(), within, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []map[string]any
	for _, b := range r.bodies {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			r.t.Fatalf("payload %s: %v", b, err)
		}
		out = append(out, m)
	}
	return out
}

// quiet asserts that nothing more than n requests arrives during d.
func (r *fakeReceiver) quiet(n int, d time.Duration) {
	r.t.Helper()
	time.Sleep(d)
	if c := r.count(); c != n {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.t.Fatalf("%d requests, want %d; last: %s", c, n, r.bodies[len(r.bodies)-1])
	}
}

func writeFileB(b *testing.B, path, content string) {
	b.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		b.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

type testRouter struct {
	*Router
	reg  *prometheus.Registry
	logs *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func startRouter(t *testing.T, configFile, dataDir string, httpOpts ...commoncfg.HTTPClientOption) *testRouter {
	t.Helper()
	logs := &syncBuffer{}
	reg := prometheus.NewRegistry()
	r, err := New(Options{
		ConfigFile:  configFile,
		DataDir:     dataDir,
		ExternalURL: &url.URL{Scheme: "http", Host: "copenhagen.test:9095"},
		Logger:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Registerer:  reg,
		httpOpts:    httpOpts,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	return &testRouter{Router: r, reg: reg, logs: logs}
}

// alert is what Prometheus's rules manager sends for one alert of the
// Seyren import: firing until endsAt.
func alert(checkID, check, severity, series, value string, startsAt, endsAt time.Time) *notifier.Alert {
	return &notifier.Alert{
		Labels: labels.FromStrings("alertname", "SeyrenCheck", "check_id", checkID, "check", check,
			"severity", severity, "seyren_series", series, "team", "catalog"),
		Annotations: labels.FromStrings("description", "Catalog API answers 500",
			"seyren_url", "https://seyren.example.org/#/checks/"+checkID,
			"summary", check+" is "+map[string]string{"critical": "ERROR (value >= 5)", "warning": "WARN (value >= 1)"}[severity],
			"target", "sumSeries(stats.catalog.http.*.500)", "value", value),
		StartsAt: startsAt,
		EndsAt:   endsAt,
	}
}

const fastTimings = `  group_wait: 100ms
  group_interval: 500ms
  repeat_interval: 1y
`

// seyrenFixture writes the alertmanager.yml generated by the Seyren
// import for rules/seyren-example, with its secrets laid out as the
// import does (a directory of *_file secrets), pointing at local
// receivers, and group_wait shortened for the test.
func seyrenFixture(t *testing.T, slack, _, hook *fakeReceiver) string {
	t.Helper()
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets")
	writeFile(t, filepath.Join(secrets, "slack-api-url"), slack.srv.URL+"/services/T000/B000/XXXXSECRETXXXX\n")
	writeFile(t, filepath.Join(secrets, "pagerduty-1.key"), "pd-service-key-1\n")
	writeFile(t, filepath.Join(secrets, "pagerduty-2.key"), "pd-service-key-2\n")
	writeFile(t, filepath.Join(secrets, "webhook-1.url"), hook.srv.URL+"/seyren-hook#seyren\n")
	b, err := os.ReadFile("testdata/seyren-example.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), "SECRETS", secrets)
	s = strings.Replace(s, "  group_wait: 10s\n  group_interval: 1m\n  repeat_interval: 1y\n", fastTimings, 1)
	if !strings.Contains(s, "group_wait: 100ms") {
		t.Fatal("fixture timings not replaced")
	}
	return writeFile(t, filepath.Join(dir, "alertmanager.yml"), s)
}

func attachment(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	atts, _ := m["attachments"].([]any)
	if len(atts) != 1 {
		t.Fatalf("attachments: %v", m)
	}
	return atts[0].(map[string]any)
}

// The import's own configuration: fire, no second notification after a
// restart on the same data directory, resolve; Slack and PagerDuty
// (Events v1, one incident per check) each hear about it once per change.
func TestSeyrenImportFireRestartResolve(t *testing.T) {
	slack, pd, hook := newSlack(t), newPagerDutyV1(t), newReceiver(t)
	cfg := seyrenFixture(t, slack, pd, hook)
	data := t.TempDir()
	r := startRouter(t, cfg, data, pd.redirect()...)

	start := time.Now().Add(-time.Minute)
	firing := []*notifier.Alert{alert("5a1f00000000000000000001", "catalog 500s", "critical", "app=catalog,", "7", start, time.Now().Add(time.Hour))}
	r.Send(firing...)
	msgs := slack.waitFor(1, 5*time.Second)
	a := attachment(t, msgs[0])
	if msgs[0]["channel"] != "#team-catalog" {
		t.Errorf("channel = %v", msgs[0]["channel"])
	}
	if got, want := a["title"], "ERROR: catalog 500s"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
	if got, want := a["title_link"], "https://seyren.example.org/#/checks/5a1f00000000000000000001"; got != want {
		t.Errorf("title_link = %q, want %q", got, want)
	}
	if got, want := a["text"], "Catalog API answers 500\nERROR app=catalog, = 7\n"; got != want {
		t.Errorf("text = %q, want %q", got, want)
	}
	pds := pd.waitFor(1, 5*time.Second)
	if got, want := pd.paths[0], "events.pagerduty.com/generic/2010-04-15/create_event.json"; got != want {
		t.Errorf("pagerduty v1 request to %s, want %s", got, want)
	}
	if pds[0]["event_type"] != "trigger" || pds[0]["service_key"] != "pd-service-key-1" || pds[0]["description"] != "ERROR: catalog 500s" {
		t.Errorf("pagerduty trigger: %v", pds[0])
	}
	incident := pds[0]["incident_key"]
	if incident == "" || incident == nil {
		t.Fatalf("no incident key: %v", pds[0])
	}
	slack.quiet(1, time.Second) // group_interval passes, nothing new
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}

	// Restart on the same data dir: the notification log remembers.
	r2 := startRouter(t, cfg, data, pd.redirect()...)
	r2.Send(firing...)
	slack.quiet(1, 1500*time.Millisecond)
	pd.quiet(1, 0)

	// Recovery: one resolve each, PagerDuty closes the same incident.
	resolved := alert("5a1f00000000000000000001", "catalog 500s", "critical", "app=catalog,", "7", start, time.Now())
	r2.Send(resolved)
	msgs = slack.waitFor(2, 5*time.Second)
	if got, want := attachment(t, msgs[1])["title"], "OK: catalog 500s"; got != want {
		t.Errorf("resolve title = %q, want %q", got, want)
	}
	pds = pd.waitFor(2, 5*time.Second)
	if pds[1]["event_type"] != "resolve" || pds[1]["incident_key"] != incident {
		t.Errorf("pagerduty resolve %v, want incident_key %v", pds[1], incident)
	}
	slack.quiet(2, time.Second)
	pd.quiet(2, 0)
	if n := testutil.ToFloat64(r2.received); n != 2 {
		t.Errorf("received = %v, want 2", n)
	}
}

// One PagerDuty incident per check: two series of a check share a dedup
// key, another check has its own; Events v2 with routing_key_file.
func TestPagerDutyOneIncidentPerCheck(t *testing.T) {
	pd := newReceiver(t)
	dir := t.TempDir()
	key := writeFile(t, filepath.Join(dir, "secrets", "pd.key"), "routing-key-v2\n")
	cfg := writeFile(t, filepath.Join(dir, "am.yml"), `
route:
  receiver: pd
  group_by: [check_id]
`+strings.ReplaceAll(fastTimings, "  group", "  group")+`
receivers:
  - name: pd
    pagerduty_configs:
      - routing_key_file: `+key+`
        url: `+pd.srv.URL+`/v2/enqueue
`)
	r := startRouter(t, cfg, t.TempDir())
	now := time.Now()
	r.Send(
		alert("c1", "one", "critical", "host=a,", "9", now, now.Add(time.Hour)),
		alert("c1", "one", "critical", "host=b,", "8", now, now.Add(time.Hour)),
		alert("c2", "two", "critical", "host=a,", "9", now, now.Add(time.Hour)),
	)
	evs := pd.waitFor(2, 5*time.Second)
	pd.quiet(2, time.Second)
	keys := map[any]bool{}
	for _, e := range evs {
		if e["routing_key"] != "routing-key-v2" || e["event_action"] != "trigger" {
			t.Errorf("event: %v", e)
		}
		keys[e["dedup_key"]] = true
	}
	if len(keys) != 2 {
		t.Fatalf("dedup keys %v, want one per check", keys)
	}
	r.Send(alert("c1", "one", "critical", "host=a,", "9", now, time.Now()), alert("c1", "one", "critical", "host=b,", "8", now, time.Now()))
	// The two resolved series may reach the dispatcher on either side of
	// a group flush: then an update (trigger) comes first and the
	// resolve at the next group_interval. Either way the check's incident
	// is resolved, under its own dedup key, and only once.
	for n := 3; ; n++ {
		evs = pd.waitFor(n, 5*time.Second)
		last := evs[n-1]
		if !keys[last["dedup_key"]] {
			t.Fatalf("event under a new dedup key: %v", last)
		}
		if last["event_action"] == "resolve" {
			break
		}
		if n == 4 {
			t.Fatalf("no resolve after %d events: %v", n, evs[2:])
		}
	}
	pd.quiet(len(evs), time.Second)
}

// Slack configs without title/text get Copenhagen's Seyren-like default:
// state emoji, *STATE*, check name linked to the check, description,
// `series = value` lines. Critical inhibits warning of the same series.
func TestSlackDefaultTemplateAndInhibition(t *testing.T) {
	slack := newSlack(t)
	dir := t.TempDir()
	cfg := writeFile(t, filepath.Join(dir, "am.yml"), `
route:
  receiver: slack
  group_by: [check_id]
`+fastTimings+`
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [check_id, seyren_series]
receivers:
  - name: slack
    slack_configs:
      - api_url: `+slack.srv.URL+`/hook
        channel: '#ops'
        send_resolved: true
`)
	r := startRouter(t, cfg, t.TempDir())
	now := time.Now()
	r.Send(
		alert("c1", "catalog 500s", "critical", "app=catalog,", "7", now, now.Add(time.Hour)),
		alert("c1", "catalog 500s", "warning", "app=catalog,", "7", now, now.Add(time.Hour)), // inhibited
		alert("c1", "catalog 500s", "warning", "app=search,", "2", now, now.Add(time.Hour)),
	)
	msgs := slack.waitFor(1, 5*time.Second)
	a := attachment(t, msgs[0])
	if got, want := a["title"], ":rotating_light: *ERROR* catalog 500s"; got != want {
		t.Errorf("title = %q, want %q", got, want)
	}
	if got, want := a["title_link"], "https://seyren.example.org/#/checks/c1"; got != want {
		t.Errorf("title_link = %q, want %q", got, want)
	}
	if got, want := a["text"], "Catalog API answers 500\nERROR app=catalog = 7\nWARN app=search = 2\n"; got != want {
		t.Errorf("text = %q, want %q (the inhibited warning must not appear)", got, want)
	}
	slack.quiet(1, time.Second)

	// An alert without check_id keeps Alertmanager's default title, and
	// the link goes to Copenhagen's /alerts page.
	r.Send(&notifier.Alert{Labels: labels.FromStrings("alertname", "DiskFull", "check_id", ""), StartsAt: now, EndsAt: now.Add(time.Hour)})
	msgs = slack.waitFor(2, 5*time.Second)
	a = attachment(t, msgs[1])
	if got, want := a["title"], "[FIRING:1]  (DiskFull)"; got != want {
		t.Errorf("plain title = %q, want %q", got, want)
	}
	if got, want := a["title_link"], "http://copenhagen.test:9095/alerts?receiver=slack"; got != want {
		t.Errorf("plain title_link = %q, want %q", got, want)
	}
}

// Schedules: a route active only on days other than today is muted, one
// active today delivers.
func TestTimeIntervals(t *testing.T) {
	hook := newReceiver(t)
	today := strings.ToLower(time.Now().UTC().Weekday().String())
	other := strings.ToLower(time.Now().UTC().Add(48 * time.Hour).Weekday().String())
	dir := t.TempDir()
	cfg := writeFile(t, filepath.Join(dir, "am.yml"), `
route:
  receiver: none
  group_by: [check_id]
`+fastTimings+`
  routes:
    - matchers: [check_id="today"]
      receiver: hook
      active_time_intervals: [today]
    - matchers: [check_id="other"]
      receiver: hook
      active_time_intervals: [other]
    - matchers: [check_id="muted"]
      receiver: hook
      mute_time_intervals: [today]
time_intervals:
  - name: today
    time_intervals:
      - weekdays: [`+today+`]
        location: UTC
  - name: other
    time_intervals:
      - weekdays: [`+other+`]
        location: UTC
receivers:
  - name: none
  - name: hook
    webhook_configs:
      - url: `+hook.srv.URL+`/am
`)
	r := startRouter(t, cfg, t.TempDir())
	now := time.Now()
	r.Send(alert("other", "x", "critical", "", "1", now, now.Add(time.Hour)),
		alert("muted", "x", "critical", "", "1", now, now.Add(time.Hour)),
		alert("today", "x", "critical", "", "1", now, now.Add(time.Hour)))
	msgs := hook.waitFor(1, 5*time.Second)
	hook.quiet(1, time.Second)
	if msgs[0]["version"] != "4" || msgs[0]["groupLabels"].(map[string]any)["check_id"] != "today" {
		t.Errorf("webhook payload: %v", msgs[0])
	}
}

// Seyren's HTTP subscription payload for webhook URLs ending in #seyren.
func TestSeyrenHTTPPayload(t *testing.T) {
	slack, pd, hook := newSlack(t), newReceiver(t), newReceiver(t)
	cfg := seyrenFixture(t, slack, pd, hook)
	r := startRouter(t, cfg, t.TempDir())
	start := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	r.Send(alert("5a1f00000000000000000004", "web front error ratio", "warning", "app=web,", "2.5", start, time.Now().Add(time.Hour)))
	msgs := hook.waitFor(1, 5*time.Second)
	if hook.paths[0] != "/seyren-hook" {
		t.Errorf("path %q", hook.paths[0])
	}
	got, _ := json.Marshal(msgs[0])
	want := `{"alerts":[{"checkId":"5a1f00000000000000000004","error":null,"fromType":"OK","id":"` +
		alertFingerprint(t, msgs[0]) + `-1767323045000","target":"app=web","timestamp":1767323045000,"toType":"WARN","value":2.5,"warn":"1"}],` +
		`"check":{"allowNoData":false,"description":"Catalog API answers 500","enabled":true,"error":null,"from":null,"id":"5a1f00000000000000000004",` +
		`"lastCheck":` + jsonNumber(msgs[0]["check"].(map[string]any)["lastCheck"]) + `,"live":false,"name":"web front error ratio","state":"WARN",` +
		`"subscriptions":[{"enabled":true,"fr":true,"fromTime":"0000","id":"","ignoreError":false,"ignoreOk":false,"ignoreWarn":false,"mo":true,"sa":true,"su":true,"target":"` + hook.srv.URL + `/seyren-hook","th":true,"toTime":"2359","tu":true,"type":"HTTP","we":true}],` +
		`"target":"sumSeries(stats.catalog.http.*.500)","until":null,"warn":"1"},` +
		`"preview":"\u003cbr /\u003e\u003ca href=\"https://seyren.example.org/#/checks/5a1f00000000000000000004\"\u003eweb front error ratio\u003c/a\u003e",` +
		`"seyrenUrl":"https://seyren.example.org",` +
		`"subscription":{"enabled":true,"fr":true,"fromTime":"0000","id":"","ignoreError":false,"ignoreOk":false,"ignoreWarn":false,"mo":true,"sa":true,"su":true,"target":"` + hook.srv.URL + `/seyren-hook","th":true,"toTime":"2359","tu":true,"type":"HTTP","we":true}}`
	if string(got) != want {
		t.Errorf("payload\n got %s\nwant %s", got, want)
	}
	// The same check also goes to its Slack subscription.
	slack.waitFor(1, 5*time.Second)
}

func alertFingerprint(t *testing.T, m map[string]any) string {
	id := m["alerts"].([]any)[0].(map[string]any)["id"].(string)
	return strings.SplitN(id, "-", 2)[0]
}

func jsonNumber(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A failing receiver is counted, logged without its secret URL, and
// does not hold up another receiver of the same alert.
func TestFailingReceiver(t *testing.T) {
	slack, hook := newSlack(t), newReceiver(t)
	slack.status = http.StatusNotFound
	dir := t.TempDir()
	secret := writeFile(t, filepath.Join(dir, "secrets", "slack-api-url"), slack.srv.URL+"/services/T0/B0/SUPERSECRETTOKEN\n")
	// A Slack URL nobody answers: connection errors carry the URL.
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	secretDown := writeFile(t, filepath.Join(dir, "secrets", "slack-down"), down.URL+"/services/T0/B0/OTHERSECRETTOKEN\n")
	cfg := writeFile(t, filepath.Join(dir, "am.yml"), `
route:
  receiver: both
  group_by: [check_id]
`+fastTimings+`
receivers:
  - name: both
    slack_configs:
      - api_url_file: `+secret+`
      - api_url_file: `+secretDown+`
    webhook_configs:
      - url: `+hook.srv.URL+`/ok
`)
	r := startRouter(t, cfg, t.TempDir())
	now := time.Now()
	r.Send(alert("c1", "x", "critical", "", "1", now, now.Add(time.Hour)))
	// The webhook does not wait for the Slack integration that keeps
	// retrying (up to group_interval, at least 10s).
	hook.waitFor(1, 2*time.Second)
	slack.waitFor(1, 5*time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for {
		n := counterValue(t, r.reg, "alertmanager_notifications_failed_total", "slack")
		if n >= 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alertmanager_notifications_failed_total{integration=slack} = %v", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitForLog := func(what string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(r.logs.String(), what) {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the logs:\n%s", what, r.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitForLog("404")
	waitForLog("connection refused")
	logs := r.logs.String()
	for _, s := range []string{"SUPERSECRETTOKEN", "OTHERSECRETTOKEN", "/services/T0"} {
		if strings.Contains(logs, s) {
			t.Errorf("logs contain the Slack URL (%s):\n%s", s, logs)
		}
	}
}

// counterValue sums the series of counter name with label integration.
func counterValue(t *testing.T, reg *prometheus.Registry, name, integration string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "integration" && l.GetValue() == integration {
					sum += m.GetCounter().GetValue()
				}
			}
		}
	}
	return sum
}

// Send never blocks: with the dispatcher's channel full and the queue
// full, alerts are dropped and counted.
func TestSendDoesNotBlock(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, filepath.Join(dir, "am.yml"), "route: {receiver: none}\nreceivers: [{name: none}]\n")
	logs := &syncBuffer{}
	r, err := New(Options{ConfigFile: cfg, DataDir: t.TempDir(), QueueSize: 1, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	now := time.Now()
	start := time.Now()
	for i := 0; i < 2000; i++ {
		r.Send(alert("c", "x", "critical", strings.Repeat("s", i%50), "1", now, now.Add(time.Hour)))
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("2000 sends took %v", d)
	}
	_ = r.Stop()
	r.Send(alert("c", "x", "critical", "", "1", now, now.Add(time.Hour))) // after Stop: dropped, no panic
	if testutil.ToFloat64(r.dropped.WithLabelValues("stopped")) != 1 {
		t.Errorf("send after stop not counted")
	}
}

// A reload with a broken file is refused and the running one stays.
func TestPrepareRefusesBadConfig(t *testing.T) {
	hook := newReceiver(t)
	dir := t.TempDir()
	good := "route: {receiver: hook, group_wait: 100ms}\nreceivers: [{name: hook, webhook_configs: [{url: '" + hook.srv.URL + "'}]}]\n"
	cfg := writeFile(t, filepath.Join(dir, "am.yml"), good)
	r := startRouter(t, cfg, t.TempDir())
	writeFile(t, cfg, "route: {receiver: nobody}\nreceivers: [{name: hook}]\n")
	if _, err := r.Prepare(cfg, Limits{}); err == nil || !strings.Contains(err.Error(), "nobody") {
		t.Fatalf("Prepare accepted a route to an undefined receiver: %v", err)
	}
	writeFile(t, cfg, strings.Replace(good, "group_wait: 100ms", "group_wait: 50ms", 1))
	commit, err := r.Prepare(cfg, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if err := commit(); err != nil {
		t.Fatal(err)
	}
	if r.Config().Route.GroupWait == nil || time.Duration(*r.Config().Route.GroupWait) != 50*time.Millisecond {
		t.Errorf("reload not applied: %+v", r.Config().Route)
	}
	now := time.Now()
	r.Send(alert("c", "x", "critical", "", "1", now, now.Add(time.Hour)))
	hook.waitFor(1, 5*time.Second)
}
