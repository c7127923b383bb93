package routing

import (
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func silenceJSON(comment string) string {
	now := time.Now().UTC()
	return `{"matchers":[{"name":"check_id","value":"c1","isRegex":false,"isEqual":true}],` +
		`"startsAt":"` + now.Add(-time.Minute).Format(time.RFC3339) + `","endsAt":"` + now.Add(time.Hour).Format(time.RFC3339) +
		`","createdBy":"ops","comment":"` + comment + `"}`
}

// A silence larger than MaxSilenceSize and one beyond MaxSilences are
// refused by the API with 400; nothing of them is listed or persisted.
func TestSilenceLimits(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, filepath.Join(dir, "am.yml"), `
route:
  receiver: hook
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:1/hook
`)
	data := t.TempDir()
	r, err := New(Options{ConfigFile: cfg, DataDir: data, Logger: slog.New(slog.DiscardHandler),
		Limits: Limits{MaxSilences: 2, MaxSilenceSize: 4 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	srv := serveRouter(t, r)

	big := strings.Repeat("x", 8<<10)
	code, body := httpDo(t, "POST", srv.URL+"/api/v2/silences", silenceJSON(big))
	if code != http.StatusBadRequest || !strings.Contains(string(body), "silence exceeded maximum size") {
		t.Fatalf("POST of an 8 KiB silence with a 4 KiB limit: %d %.300s, want 400", code, body)
	}
	for i := range 2 {
		if code, body := httpDo(t, "POST", srv.URL+"/api/v2/silences", silenceJSON("maintenance")); code != http.StatusOK {
			t.Fatalf("silence %d: %d %s", i, code, body)
		}
	}
	code, body = httpDo(t, "POST", srv.URL+"/api/v2/silences", silenceJSON("one too many"))
	if code != http.StatusBadRequest || !strings.Contains(string(body), "exceeded maximum number of silences") {
		t.Fatalf("third silence with a limit of 2: %d %.300s, want 400", code, body)
	}
	code, body = httpDo(t, "GET", srv.URL+"/api/v2/silences", "")
	if code != http.StatusOK || strings.Contains(string(body), big) || strings.Contains(string(body), "one too many") || strings.Count(string(body), `"id"`) != 2 {
		t.Fatalf("GET /api/v2/silences: %d %.300s, want the two accepted silences only", code, body)
	}
	if err := r.Stop(); err != nil {
		t.Fatal(err)
	}
	snap, err := os.ReadFile(filepath.Join(data, "silences"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(snap), "xxxxxxxx") || strings.Contains(string(snap), "one too many") {
		t.Fatal("a refused silence was persisted")
	}
}

func TestLimitsDefaults(t *testing.T) {
	l, err := Limits{}.withDefaults()
	if err != nil || l.MaxSilences != DefaultMaxSilences || l.MaxSilenceSize != DefaultMaxSilenceSize {
		t.Fatalf("defaults: %+v %v", l, err)
	}
	if _, err := (Limits{MaxSilences: -1}).withDefaults(); err == nil {
		t.Error("a negative max_silences was accepted")
	}
}

// The silence limits follow a reload: nothing changes at Prepare, the
// commit's lower limits refuse the next silence (the stored ones stay),
// higher ones accept again, and limits that are not valid or come with a
// file that does not load change nothing.
func TestReloadSilenceLimits(t *testing.T) {
	dir := t.TempDir()
	cfg := writeFile(t, filepath.Join(dir, "am.yml"), `
route:
  receiver: hook
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:1/hook
`)
	r, err := New(Options{ConfigFile: cfg, DataDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler),
		Limits: Limits{MaxSilences: 3, MaxSilenceSize: 8 << 10}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Stop() })
	srv := serveRouter(t, r)
	post := func(comment string) (int, string) {
		code, body := httpDo(t, "POST", srv.URL+"/api/v2/silences", silenceJSON(comment))
		return code, string(body)
	}
	for i := range 2 {
		if code, body := post("maintenance"); code != http.StatusOK {
			t.Fatalf("silence %d: %d %s", i, code, body)
		}
	}
	commit, err := r.Prepare(cfg, Limits{MaxSilences: 2, MaxSilenceSize: 2 << 10})
	if err != nil {
		t.Fatal(err)
	}
	// Prepared, not committed: the running limits hold.
	if code, body := post(strings.Repeat("m", 4<<10)); code != http.StatusOK {
		t.Fatalf("third silence of 4 KiB before the commit: %d %s, want 200 (limits 3 and 8 KiB)", code, body)
	}
	if err := commit(); err != nil {
		t.Fatal(err)
	}
	if got := r.Limits(); got != (Limits{MaxSilences: 2, MaxSilenceSize: 2 << 10}) {
		t.Fatalf("limits after the reload: %+v", got)
	}
	if code, body := post("one too many"); code != http.StatusBadRequest || !strings.Contains(body, "exceeded maximum number of silences") {
		t.Fatalf("a fourth silence with max_silences reloaded to 2: %d %.300s, want 400", code, body)
	}
	code, body := httpDo(t, "GET", srv.URL+"/api/v2/silences", "")
	if code != http.StatusOK || strings.Count(string(body), `"id"`) != 3 {
		t.Fatalf("GET /api/v2/silences: %d %.300s, want the three stored before", code, body)
	}

	// Higher limits accept again, and the size limit is the new one.
	commit, err = r.Prepare(cfg, Limits{MaxSilences: 10, MaxSilenceSize: 2 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := commit(); err != nil {
		t.Fatal(err)
	}
	if code, body := post(strings.Repeat("m", 4<<10)); code != http.StatusBadRequest || !strings.Contains(body, "silence exceeded maximum size") {
		t.Fatalf("a 4 KiB silence with max_silence_size reloaded to 2 KiB: %d %.300s, want 400", code, body)
	}
	if code, body := post("room again"); code != http.StatusOK {
		t.Fatalf("a silence with max_silences reloaded to 10: %d %s", code, body)
	}

	// Refused reloads leave the limits alone.
	if _, err := r.Prepare(cfg, Limits{MaxSilences: -1}); err == nil {
		t.Error("Prepare accepted max_silences -1")
	}
	writeFile(t, cfg, "route: {receiver: nobody}\n")
	if _, err := r.Prepare(cfg, Limits{MaxSilences: 1}); err == nil {
		t.Error("Prepare accepted a file that does not load")
	}
	if got := r.Limits(); got != (Limits{MaxSilences: 10, MaxSilenceSize: 2 << 10}) {
		t.Fatalf("limits after refused reloads: %+v", got)
	}
}

// An inline template that does not parse, an undefined receiver and an
// unknown key are refused by Validate, each with the file and line.
func TestValidateLocatesErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct{ body, want string }{
		{"route:\n  receiver: x\nreceivers:\n- name: x\n  slack_configs:\n  - api_url: http://slack.test/hook\n    text: '{{ .CommonLabels.alertname '\n",
			"am.yml:7: receiver x slack_configs[0].text: template does not parse"},
		{"route:\n  receiver: x\nreceivers:\n- name: x\n  slack_configs:\n  - api_url: http://slack.test/hook\n    title: '{{ range .Alerts }}'\n",
			"am.yml:7: receiver x slack_configs[0].title: template does not parse"},
		{"route:\n  receiver: y\nreceivers:\n- name: x\n", `am.yml:2: undefined receiver "y" used in route`},
		{"route:\n  receiver: x\n  bogus: 1\nreceivers:\n- name: x\n", "am.yml:3: field bogus not found"},
	}
	for _, tt := range tests {
		f := writeFile(t, filepath.Join(dir, "am.yml"), tt.body)
		_, err := Validate(f)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Validate(%q) = %v, want %q", tt.body, err, tt.want)
		}
	}
	good := writeFile(t, filepath.Join(dir, "good.yml"), "route:\n  receiver: x\nreceivers:\n- name: x\n  slack_configs:\n  - api_url: http://slack.test/hook\n    text: '{{ template \"slack.default.text\" . }} {{ .CommonLabels.alertname }}'\n")
	if _, err := Validate(good); err != nil {
		t.Fatalf("good template refused: %v", err)
	}
}
