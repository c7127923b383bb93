package routing

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
)

func serveRouter(t *testing.T, r *Router) *httptest.Server {
	mux := http.NewServeMux()
	r.Register(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func httpDo(t *testing.T, method, u, body string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// Silences created through the Alertmanager API v2 paths mute
// notifications, survive a restart, show on /alerts and expire on DELETE.
func TestSilenceThroughAPI(t *testing.T) {
	hook := newReceiver(t)
	dir := t.TempDir()
	cfg := writeFile(t, filepath.Join(dir, "am.yml"), `
route:
  receiver: hook
  group_by: [check_id]
`+fastTimings+`
receivers:
  - name: hook
    webhook_configs:
      - url: `+hook.srv.URL+`/am
`)
	data := t.TempDir()
	r := startRouter(t, cfg, data)
	srv := serveRouter(t, r.Router)
	now := time.Now().UTC()
	code, body := httpDo(t, "POST", srv.URL+"/api/v2/silences", `{"matchers":[{"name":"check_id","value":"c1","isRegex":false,"isEqual":true}],`+
		`"startsAt":"`+now.Add(-time.Minute).Format(time.RFC3339)+`","endsAt":"`+now.Add(time.Hour).Format(time.RFC3339)+`","createdBy":"ops","comment":"maintenance of c1"}`)
	if code != http.StatusOK {
		t.Fatalf("POST /api/v2/silences: %d %s", code, body)
	}
	var created struct {
		SilenceID string `json:"silenceID"`
	}
	if err := json.Unmarshal(body, &created); err != nil || created.SilenceID == "" {
		t.Fatalf("POST /api/v2/silences: %s (%v)", body, err)
	}

	// Restart: the silence is read back from data_dir.
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	r = startRouter(t, cfg, data)
	srv = serveRouter(t, r.Router)

	r.Send(alert("c1", "silenced check", "critical", "", "1", now, now.Add(time.Hour)),
		alert("c2", "loud check", "critical", "", "1", now, now.Add(time.Hour)))
	msgs := hook.waitFor(1, 5*time.Second)
	hook.quiet(1, time.Second)
	if msgs[0]["groupLabels"].(map[string]any)["check_id"] != "c2" {
		t.Fatalf("notified %v, want only c2", msgs[0]["groupLabels"])
	}

	code, body = httpDo(t, "GET", srv.URL+"/api/v2/silences", "")
	if code != http.StatusOK || !strings.Contains(string(body), created.SilenceID) || !strings.Contains(string(body), `"state":"active"`) {
		t.Fatalf("GET /api/v2/silences: %d %s", code, body)
	}
	code, body = httpDo(t, "GET", srv.URL+"/api/v2/alerts?silenced=false", "")
	if code != http.StatusOK || strings.Contains(string(body), "silenced check") || !strings.Contains(string(body), "loud check") {
		t.Fatalf("GET /api/v2/alerts?silenced=false: %d %s", code, body)
	}
	code, body = httpDo(t, "GET", srv.URL+"/api/v2/alerts/groups", "")
	if code != http.StatusOK || !strings.Contains(string(body), `"check_id":"c2"`) {
		t.Fatalf("GET /api/v2/alerts/groups: %d %s", code, body)
	}
	code, body = httpDo(t, "GET", srv.URL+"/api/v2/status", "")
	if code != http.StatusOK || !strings.Contains(string(body), `"config"`) {
		t.Fatalf("GET /api/v2/status: %d %s", code, body)
	}
	code, body = httpDo(t, "GET", srv.URL+"/alerts", "")
	for _, want := range []string{"maintenance of c1", "silenced check", "loud check", `check_id=&#34;c1&#34;`, "suppressed"} {
		if code != http.StatusOK || !strings.Contains(string(body), want) {
			t.Errorf("/alerts page lacks %q: %d\n%s", want, code, body)
		}
	}

	code, body = httpDo(t, "DELETE", srv.URL+"/api/v2/silence/"+created.SilenceID, "")
	if code != http.StatusOK {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	_, body = httpDo(t, "GET", srv.URL+"/api/v2/silence/"+created.SilenceID, "")
	if !strings.Contains(string(body), `"state":"expired"`) {
		t.Fatalf("silence after DELETE: %s", body)
	}
	// Unsilenced, c1 notifies at the next evaluation's resend.
	r.Send(alert("c1", "silenced check", "critical", "", "1", now, now.Add(time.Hour)))
	hook.waitFor(2, 5*time.Second)
}

// amtool (Debian's 0.25, installed by .ci/deps.d/routing.sh) manages
// silences against Copenhagen as against an Alertmanager.
func TestAmtool(t *testing.T) {
	amtool := storagetest.NeedTool(t, "amtool", ".ci/deps.d/routing.sh")
	hook := newReceiver(t)
	dir := t.TempDir()
	cfg := writeFile(t, filepath.Join(dir, "am.yml"), `
route:
  receiver: hook
  group_by: [check_id]
`+fastTimings+`
receivers:
  - name: hook
    webhook_configs:
      - url: `+hook.srv.URL+`/am
`)
	r := startRouter(t, cfg, t.TempDir())
	srv := serveRouter(t, r.Router)
	run := func(args ...string) string {
		t.Helper()
		cmd := exec.Command(amtool, append([]string{"--alertmanager.url=" + srv.URL}, args...)...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		cmd.Env = append(os.Environ(), "HOME="+dir) // no user amtool config
		if err := cmd.Run(); err != nil {
			t.Fatalf("amtool %v: %v\n%s%s", args, err, out.String(), errb.String())
		}
		return strings.TrimSpace(out.String())
	}
	id := run("silence", "add", "check_id=c1", "--comment=deploy", "--author=ops", "--duration=1h")
	if len(id) < 10 {
		t.Fatalf("amtool silence add printed %q", id)
	}
	if q := run("silence", "query", "-q"); q != id {
		t.Fatalf("amtool silence query -q = %q, want %q", q, id)
	}
	now := time.Now()
	r.Send(alert("c1", "silenced", "critical", "", "1", now, now.Add(time.Hour)), alert("c2", "loud", "critical", "", "1", now, now.Add(time.Hour)))
	hook.waitFor(1, 5*time.Second)
	hook.quiet(1, time.Second)
	if out := run("alert", "query", "-o", "simple"); !strings.Contains(out, "SeyrenCheck") {
		t.Errorf("amtool alert query: %q", out)
	}
	run("silence", "expire", id)
	if q := run("silence", "query", "-q"); q != "" {
		t.Fatalf("after expire, amtool silence query -q = %q", q)
	}
	run("check-config", cfg)
}
