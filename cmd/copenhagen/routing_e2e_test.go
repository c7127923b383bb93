package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// slackHook stands in for a Slack incoming webhook and timestamps what
// it receives.
type slackHook struct {
	mu   sync.Mutex
	msgs []slackMsg
}

type slackMsg struct {
	at          time.Time
	Channel     string `json:"channel"`
	Attachments []struct {
		Title     string `json:"title"`
		TitleLink string `json:"title_link"`
		Text      string `json:"text"`
	} `json:"attachments"`
}

func (h *slackHook) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var m slackMsg
	if err := json.Unmarshal(b, &m); err == nil {
		m.at = time.Now()
		h.mu.Lock()
		h.msgs = append(h.msgs, m)
		h.mu.Unlock()
	}
	_, _ = w.Write([]byte("ok"))
}

func (h *slackHook) get() []slackMsg {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]slackMsg(nil), h.msgs...)
}

// TestRoutingEndToEnd: StatsD traffic crosses the threshold of an
// imported Seyren check, rules evaluate it, the in-process Alertmanager
// (alerting.config_file) posts a Seyren-like Slack message within two
// evaluation intervals; traffic recovers and the resolve arrives. The
// silences API answers on Copenhagen's HTTP port, and a broken
// Alertmanager file is refused at reload.
func TestRoutingEndToEnd(t *testing.T) {
	hook := &slackHook{}
	hs := httptest.NewServer(hook)
	defer hs.Close()
	dir := t.TempDir()
	rules := fastSeyrenRules(t, t.TempDir())
	amFile := filepath.Join(dir, "alertmanager.yml")
	am := fmt.Sprintf(`route:
  receiver: none
  group_by: [check_id]
  group_wait: 100ms
  group_interval: 500ms
  repeat_interval: 1y
  routes:
    - matchers: [check_id="5a1f00000000000000000003"]
      receiver: slack-thumbs
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [check_id, seyren_series]
receivers:
  - name: none
  - name: slack-thumbs
    slack_configs:
      - api_url: %s/services/T0/B0/SECRET
        channel: '#thumbs'
        send_resolved: true
`, hs.URL)
	must(t, os.WriteFile(amFile, []byte(am), 0o644))
	const interval, flush = time.Second, 200 * time.Millisecond
	r := start(t, fmt.Sprintf(`statsd:
  mapping_file: %s
  flush_interval: 200ms
rules:
  files: [%q]
  resend_delay: 1s
  # Rules evaluate from the start, the gauge comes once start returns: a
  # slow start (the race detector) would otherwise page "no data" first.
  # This test is about thresholds; alerting/evaluate tests no data.
  no_data_intervals: 0
alerting:
  config_file: %s
`, mappingFile(t), rules, amFile))
	const gauge = "thumbnails.worker.queue.resize.size:%d|g"
	sendUDP(t, r.udpAddr(), fmt.Sprintf(gauge, 100))
	time.Sleep(1500 * time.Millisecond)
	if n := len(hook.get()); n != 0 {
		t.Fatalf("%d Slack messages below the threshold: %+v", n, hook.get())
	}

	crossed := time.Now()
	sendUDP(t, r.udpAddr(), fmt.Sprintf(gauge, 2000))
	waitLong(t, "Slack WARN message", 5*time.Second, func() bool { return len(hook.get()) >= 1 })
	m := hook.get()[0]
	fireLatency := m.at.Sub(crossed)
	t.Logf("threshold crossing -> Slack: %v (statsd flush %v, evaluation interval %v, group_wait 100ms)", fireLatency, flush, interval)
	if fireLatency > 2*interval {
		t.Errorf("Slack message %v after the crossing, more than two evaluation intervals", fireLatency)
	}
	if len(m.Attachments) != 1 || m.Channel != "#thumbs" {
		t.Fatalf("slack message: %+v", m)
	}
	a := m.Attachments[0]
	if want := ":warning: *WARN* thumbnails resize backlog"; a.Title != want {
		t.Errorf("title %q, want %q", a.Title, want)
	}
	if want := "https://seyren.example.org/#/checks/5a1f00000000000000000003"; a.TitleLink != want {
		t.Errorf("title_link %q, want %q", a.TitleLink, want)
	}
	if want := "Messages waiting in the resize queue\nWARN app=thumbnails,queue=resize = 2000\n"; a.Text != want {
		t.Errorf("text %q, want %q", a.Text, want)
	}

	// The Alertmanager API answers on Copenhagen's port (amtool's
	// --alertmanager.url), and the alerts page lists the alert.
	code, body := httpGet(r.url("/api/v2/alerts?filter=check_id%3D%225a1f00000000000000000003%22"))
	if code != 200 || !strings.Contains(body, `"severity":"warning"`) {
		t.Errorf("/api/v2/alerts: %d %s", code, body)
	}
	if code, body := httpGet(r.url("/alerts")); code != 200 || !strings.Contains(body, "thumbnails resize backlog is WARN") {
		t.Errorf("/alerts: %d %s", code, body)
	}

	// A broken Alertmanager file is refused; the running one keeps going.
	must(t, os.WriteFile(amFile, []byte("route: {receiver: nobody}\n"), 0o644))
	if err := r.app.reload(); err == nil {
		t.Errorf("reload accepted a broken alertmanager.yml")
	}
	must(t, os.WriteFile(amFile, []byte(am), 0o644))

	// Recovery: one resolve, nothing else (no repeat while it stayed WARN).
	recovered := time.Now()
	sendUDP(t, r.udpAddr(), fmt.Sprintf(gauge, 10))
	waitLong(t, "Slack OK message", 5*time.Second, func() bool { return len(hook.get()) >= 2 })
	msgs := hook.get()
	t.Logf("recovery -> Slack resolve: %v", msgs[1].at.Sub(recovered))
	if got := msgs[1].Attachments[0].Title; got != ":white_check_mark: *OK* thumbnails resize backlog" {
		t.Errorf("resolve title %q", got)
	}
	if got, want := msgs[1].Attachments[0].Text, "Messages waiting in the resize queue\nOK app=thumbnails,queue=resize = 2000\n"; got != want {
		t.Errorf("resolve text %q, want %q", got, want)
	}
	time.Sleep(1500 * time.Millisecond)
	if n := len(hook.get()); n != 2 {
		t.Errorf("%d Slack messages, want 2 (fire, resolve)", n)
	}
	page := scrape(t, r)
	if v, ok := value(page, `alertmanager_notifications_total{integration="slack"}`); !ok || v != 2 {
		t.Errorf("alertmanager_notifications_total{integration=\"slack\"} = %v (found %v), want 2", v, ok)
	}
	if !strings.Contains(page, "alertmanager_notifications_failed_total{") {
		t.Errorf("/metrics lacks alertmanager_notifications_failed_total")
	}
}
