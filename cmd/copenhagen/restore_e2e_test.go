package main

import (
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
)

// TestRemoteForStateRestore is a replica of the HA alerting tier
// rescheduled on a fresh node: agent mode (no local queries), rules on a
// real VictoriaMetrics through rules.query_url, ALERTS_FOR_STATE
// remote-written there by the replica before. After a restart on an EMPTY data directory, the
// firing alert keeps its activeAt, read back through the query API;
// without the remote restore it would start pending again.
func TestRemoteForStateRestore(t *testing.T) {
	vm := storagetest.StartVictoriaMetrics(t)
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(`groups:
  - name: restore
    interval: 1s
    rules:
      - alert: RestoreMe
        expr: vector(1)
        for: 3s
        labels: {severity: page}
`), 0o644)
	port := freePort(t)
	// The first node evaluates on its own TSDB (server mode) and
	// remote-writes ALERTS_FOR_STATE; the fresh node is agent mode with
	// rules.query_url, so its only source of for state is the query API.
	// (Were the first node also on query_url, its own restore query at
	// start, before the series existed, could leave VictoriaMetrics 1.79
	// caching "no series" for that selector for a while: a test artefact,
	// seen in 1 of 4 runs.)
	writeCfg := func(data, mode, queryURL string) string {
		cfg := filepath.Join(dir, "copenhagen.yml")
		os.WriteFile(cfg, []byte(fmt.Sprintf(`http:
  listen: 127.0.0.1:%d
log: {level: debug} # the rules manager logs the restore at debug
statsd: {udp: "", tcp: ""}
graphite: {tcp: "", udp: "", pickle: ""}
storage:
  mode: %s
  path: %s
remote_write:
  - name: vm
    url: %s/api/v1/write
    queue: {batch_send_deadline: 200ms, min_backoff: 50ms, max_backoff: 1s}
rules:
  files: [rules.yml]
  query_url: %q
  for_grace_period: 1s
`, port, mode, data, vm.URL, queryURL)), 0o644)
		return cfg
	}
	type alert struct {
		Labels   map[string]string `json:"labels"`
		State    string            `json:"state"`
		ActiveAt time.Time         `json:"activeAt"`
	}
	restoreMe := func(p *proc) (alert, bool) {
		_, body := httpGet("http://" + p.http + "/api/v1/alerts")
		var r struct {
			Data struct {
				Alerts []alert `json:"alerts"`
			} `json:"data"`
		}
		json.Unmarshal([]byte(body), &r)
		for _, a := range r.Data.Alerts {
			if a.Labels["alertname"] == "RestoreMe" {
				return a, true
			}
		}
		return alert{}, false
	}
	wait := func(p *proc, what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				p.cmd.Process.Kill()
				p.cmd.Wait()
				t.Fatalf("not within 30s: %s\nlog:\n%s", what, lastLines(p.stderr.String(), 30))
			}
			time.Sleep(100 * time.Millisecond)
		}
	}

	p := startBinary(t, "run", "--config", writeCfg(filepath.Join(dir, "data-first-node"), "server", ""))
	p.http = fmt.Sprintf("127.0.0.1:%d", port)
	var first alert
	wait(p, "RestoreMe firing", func() bool {
		a, ok := restoreMe(p)
		first = a
		return ok && a.State == "firing"
	})
	// Stop once VictoriaMetrics holds a for-state sample of the firing
	// alert (at least `for` after activeAt, plus a second: the restore
	// works in whole seconds). An earlier last sample would be a pending
	// alert, whose `for` timer Prometheus pauses during the downtime.
	wait(p, "ALERTS_FOR_STATE of the firing alert in VictoriaMetrics", func() bool {
		_, body := httpGet(vm.URL + "/api/v1/query?query=" + url.QueryEscape(`ALERTS_FOR_STATE{alertname="RestoreMe"}[1m]`))
		var r struct {
			Data struct {
				Result []struct {
					Values [][2]any `json:"values"`
				} `json:"result"`
			} `json:"data"`
		}
		if json.Unmarshal([]byte(body), &r) != nil || len(r.Data.Result) != 1 || len(r.Data.Result[0].Values) == 0 {
			return false
		}
		v := r.Data.Result[0].Values
		last, ok := v[len(v)-1][0].(float64)
		return ok && time.Unix(int64(last), 0).After(first.ActiveAt.Add(4*time.Second))
	})
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()

	down := time.Now()
	time.Sleep(time.Second)
	p = startBinary(t, "run", "--config", writeCfg(filepath.Join(dir, "data-fresh-node"), "agent", vm.URL))
	p.http = fmt.Sprintf("127.0.0.1:%d", port)
	// The rules manager restores after its second evaluation; until
	// then the alert is pending since the restart. Restored, it fires
	// with its first activeAt (to the second: ALERTS_FOR_STATE holds
	// Unix seconds); not restored, it would fire `for` (3s) later with a
	// new one.
	var again alert
	wait(p, "RestoreMe firing after the restart", func() bool {
		a, ok := restoreMe(p)
		again = a
		return ok && a.State == "firing"
	})
	p.cmd.Process.Signal(syscall.SIGTERM)
	p.cmd.Wait()
	if !again.ActiveAt.Equal(first.ActiveAt.Truncate(time.Second)) {
		t.Fatalf("after a restart on an empty data dir: state %s activeAt %s; want firing since %s (restored from VictoriaMetrics; stopped at %s)\nlog:\n%s",
			again.State, again.ActiveAt, first.ActiveAt, down, p.stderr.String())
	}
}
