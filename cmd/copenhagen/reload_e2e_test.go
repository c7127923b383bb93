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
	// nothing as changed.
	r.app.mu.Lock()
	r.app.reloaders = append(r.app.reloaders, func(*config.Config) (func(), error) {
		return nil, errors.New("refused by a later part")
	})
	r.app.mu.Unlock()
	if logged := reload(true); strings.Contains(logged, "settings changed") || !strings.Contains(logged, "refused by a later part") {
		t.Errorf("a refused reload logged:\n%s", logged)
	}
}
