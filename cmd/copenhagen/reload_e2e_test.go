package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
)

// A reload that changes nothing says nothing needs a restart; one that
// changes a restart-only setting names the key, and again at the next
// reload while it still waits for the restart; a reload refused as a
// whole reports no change at all. TestRoutingEndToEnd's log used to say
// "storage settings changed" on reloads of an unchanged file.
func TestReloadReportsOnlyWhatChanged(t *testing.T) {
	dir := t.TempDir()
	am := filepath.Join(dir, "alertmanager.yml")
	must(t, os.WriteFile(am, []byte("route:\n  receiver: none\nreceivers:\n  - name: none\n"), 0o644))
	r := start(t, "alerting:\n  config_file: "+am+"\n")
	file := r.app.configFile
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// reload returns what the reload logged.
	reload := func(wantErr bool) string {
		t.Helper()
		mark := len(r.logs.String())
		err := r.app.reload()
		if (err != nil) != wantErr {
			t.Fatalf("reload: %v, want an error: %v", err, wantErr)
		}
		return r.logs.String()[mark:]
	}

	for i := range 2 {
		logged := reload(false)
		if !strings.Contains(logged, "configuration reloaded") {
			t.Fatalf("no-op reload %d logged:\n%s", i, logged)
		}
		if strings.Contains(logged, "changed") || strings.Contains(logged, "next restart") {
			t.Errorf("no-op reload %d reports a change:\n%s", i, logged)
		}
	}

	changed := topStorage.ReplaceAllString(string(orig), "storage:\n  retention: 24h\n")
	changed = strings.Replace(changed, "alerting:\n", "alerting:\n  queue_size: 50\n  max_silences: 5\n", 1)
	must(t, os.WriteFile(file, []byte(changed), 0o644))
	for i := range 2 {
		logged := reload(false)
		if !strings.Contains(logged, "storage settings changed") || !strings.Contains(logged, "storage.retention") ||
			strings.Contains(logged, "storage.path") {
			t.Errorf("reload %d with storage.retention changed logged:\n%s", i, logged)
		}
		// max_silences is applied, queue_size waits for a restart.
		if !strings.Contains(logged, "alerting settings changed") || !strings.Contains(logged, "alerting.queue_size") ||
			strings.Contains(logged, "alerting.max_silences") || !strings.Contains(logged, "max_silences=5") {
			t.Errorf("reload %d with alerting.queue_size and max_silences changed logged:\n%s", i, logged)
		}
	}

	// A reload that a later part refuses applies nothing and reports
	// nothing as changed, whatever the file changed.
	changed = strings.Replace(changed, "listen: 127.0.0.1:0\n", "listen: 127.0.0.1:1\n", 1)
	changed = strings.Replace(changed, "udp: 127.0.0.1:0\n", "udp: 127.0.0.1:2\n", 1)
	must(t, os.WriteFile(file, []byte(changed), 0o644))
	r.app.mu.Lock()
	r.app.reloaders = append(r.app.reloaders, func(*config.Config) (func(), error) {
		return nil, errors.New("refused by a later part")
	})
	r.app.mu.Unlock()
	if logged := reload(true); strings.Contains(logged, "changed") || strings.Contains(logged, "next restart") ||
		!strings.Contains(logged, "refused by a later part") {
		t.Errorf("a refused reload logged:\n%s", logged)
	}
}

// Agent mode keeps no queryable data: rules.files without rules.query_url
// are refused when the file is loaded, at start and at reload alike
// (buildRules relies on it and no longer checks again). Adding rules with
// a query URL to an agent that started without them waits for a restart.
func TestAgentRulesNeedQueryURL(t *testing.T) {
	dir := t.TempDir()
	rules := filepath.Join(dir, "rules.yml")
	must(t, os.WriteFile(rules, []byte("groups:\n- name: g\n  rules:\n  - alert: A\n    expr: vector(1)\n"), 0o644))
	agent := "storage:\n  mode: agent\n  path: " + filepath.Join(dir, "wal") + "\n"
	bad := filepath.Join(dir, "bad.yml")
	must(t, os.WriteFile(bad, []byte(agent+"rules:\n  files: ["+rules+"]\n"), 0o644))
	const want = "rules.files: storage.mode agent keeps no queryable data"
	if _, err := loadConfig(bad); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("loading agent mode with rules and no query_url: %v, want %q", err, want)
	}

	r := start(t, agent)
	file := r.app.configFile
	orig, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	must(t, os.WriteFile(file, append(orig, []byte("rules:\n  files: ["+rules+"]\n")...), 0o644))
	if err := r.app.reload(); err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("reload adding rules to an agent without query_url: %v, want %q", err, want)
	}
	must(t, os.WriteFile(file, append(orig, []byte("rules:\n  files: ["+rules+"]\n  query_url: http://127.0.0.1:1/\n")...), 0o644))
	mark := len(r.logs.String())
	if err := r.app.reload(); err != nil {
		t.Fatal(err)
	}
	if logged := r.logs.String()[mark:]; !strings.Contains(logged, "take effect at the next restart") {
		t.Errorf("reload adding rules and query_url to an agent logged:\n%s", logged)
	}
}
