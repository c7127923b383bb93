package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/prometheus/storage/remote"
)

// query runs an instant query on the binary's Prometheus API and returns
// the raw "data" of the answer.
func query(t *testing.T, p *proc, q string, at time.Time) string {
	t.Helper()
	code, body := httpGet("http://" + p.http + "/api/v1/query?" + url.Values{"query": {q}, "time": {fmt.Sprintf("%.3f", float64(at.UnixMilli())/1000)}}.Encode())
	if code != 200 {
		t.Fatalf("query %s: %d %s\nlog:\n%s", q, code, body, p.stderr.String())
	}
	var r struct {
		Data json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		t.Fatal(err)
	}
	return string(r.Data)
}

// TestStatsDFlushesSurviveKill9 drives the real binary: StatsD gauges are
// flushed into the embedded TSDB every 100 ms and read back through the
// Prometheus API; the process is killed with SIGKILL while flushing, and
// after a restart every sample the API had shown (so, committed) is still
// there, unchanged.
func TestStatsDFlushesSurviveKill9(t *testing.T) {
	dir := t.TempDir()
	httpPort, udpPort := freePort(t), freePort(t)
	cfg := filepath.Join(dir, "copenhagen.yml")
	yml := fmt.Sprintf("http:\n  listen: 127.0.0.1:%d\nstatsd:\n  udp: 127.0.0.1:%d\n  tcp: \"\"\n  flush_interval: 100ms\ngraphite:\n  tcp: \"\"\n  udp: \"\"\n  pickle: \"\"\nstorage:\n  path: tsdb\n", httpPort, udpPort)
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	p := startBinary(t, "run", "--config", cfg)
	p.http = fmt.Sprintf("127.0.0.1:%d", httpPort)
	waitHTTP(t, p, "/-/ready", func(c int, _ string) bool { return c == 200 })

	conn, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", udpPort))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(conn, "crash.seq:%d|g\ncrash.hits:1|c", i)
		want := fmt.Sprintf(`"%d"]`, i)
		waitHTTP(t, p, "/api/v1/query?query=crash_seq", func(c int, body string) bool { return c == 200 && strings.Contains(body, want) })
	}
	// The families are in /api/v1/metadata, with their StatsD types.
	waitHTTP(t, p, "/api/v1/metadata", contains(`"crash_seq":[{"type":"gauge"`))
	waitHTTP(t, p, "/api/v1/metadata", contains(`"crash_hits":[{"type":"counter"`))

	// Flushes keep appending (every 100 ms); what the API shows now is
	// acknowledged.
	time.Sleep(time.Second)
	at := time.Now()
	before := query(t, p, `{__name__=~"crash_.*"}[1h]`, at)
	n := strings.Count(before, "],[") + strings.Count(before, `"values":[[`)
	if n < 20 {
		t.Fatalf("only %d samples after a second of 100 ms flushes: %s", n, before)
	}
	time.Sleep(150 * time.Millisecond) // kill while the next flushes are being written
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.cmd.Wait()

	p2 := startBinary(t, "run", "--config", cfg)
	p2.http = p.http
	waitHTTP(t, p2, "/-/ready", func(c int, _ string) bool { return c == 200 })
	after := query(t, p2, `{__name__=~"crash_.*"}[1h]`, at)
	if after != before {
		t.Fatalf("after kill -9 and restart the stored samples changed:\nbefore: %s\nafter:  %s", before, after)
	}
	t.Logf("%d acknowledged samples survived kill -9", n)
}

// TestRemoteWriteFromConfig checks the remote_write section end to end
// in-process: StatsD flushes reach a remote write receiver with the
// credentials read from files and the configured headers, and the queue's
// self-metrics are on /metrics.
func TestRemoteWriteFromConfig(t *testing.T) {
	type got struct{ auth, org, body string }
	reqs := make(chan got, 100)
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		wr, err := remote.DecodeWriteRequest(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		var names []string
		for _, ts := range wr.Timeseries {
			for _, l := range ts.Labels {
				if l.Name == "__name__" {
					names = append(names, fmt.Sprintf("%s=%v", l.Value, ts.Samples[len(ts.Samples)-1].Value))
				}
			}
		}
		select {
		case reqs <- got{r.Header.Get("Authorization"), r.Header.Get("X-Scope-OrgID"), strings.Join(names, " ")}:
		default:
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rcv.Close) // after the app stopped (cleanups run last-in first-out)
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	if err := os.WriteFile(pw, []byte("hunter2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := start(t, fmt.Sprintf(`graphite:
  tcp: ""
  udp: ""
  pickle: ""
storage:
  path: %s
  remote_flush_deadline: 2s
remote_write:
  - url: %s/api/v1/write
    name: test
    basic_auth: {username: copenhagen, password_file: %s}
    headers: {X-Scope-OrgID: team-a}
    queue: {batch_send_deadline: 100ms}
statsd:
  flush_interval: 100ms
`, filepath.Join(dir, "tsdb"), rcv.URL, pw))
	sendUDP(t, r.udpAddr(), "rw.temp:21.5|g")
	deadline := time.After(20 * time.Second)
	for {
		select {
		case g := <-reqs:
			if !strings.Contains(g.body, "rw_temp=21.5") {
				continue
			}
			if g.auth != "Basic Y29wZW5oYWdlbjpodW50ZXIy" { // copenhagen:hunter2
				t.Errorf("Authorization = %q", g.auth)
			}
			if g.org != "team-a" {
				t.Errorf("X-Scope-OrgID = %q", g.org)
			}
			page := scrape(t, r)
			for _, m := range []string{`prometheus_remote_storage_samples_total{remote_name="test"`, `copenhagen_storage_samples_appended_total{source="statsd"}`} {
				if !strings.Contains(page, m) {
					t.Errorf("/metrics lacks %s", m)
				}
			}
			if strings.Contains(page, "hunter2") {
				t.Error("/metrics shows the password")
			}
			return
		case <-deadline:
			t.Fatal("no remote write request with rw_temp within 20s")
		}
	}
}

// TestRemoteWriteReload replaces the remote write target with a reload:
// flushes after it go to the new receiver, and a reload with a missing
// credential file is refused as a whole.
func TestRemoteWriteReload(t *testing.T) {
	type hit struct{ who, body string }
	hits := make(chan hit, 1000)
	receiver := func(who string) *httptest.Server {
		s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			wr, err := remote.DecodeWriteRequest(r.Body)
			if err != nil {
				http.Error(w, err.Error(), 400)
				return
			}
			for _, ts := range wr.Timeseries {
				for _, l := range ts.Labels {
					if l.Name == "__name__" {
						select {
						case hits <- hit{who, l.Value}:
						default:
						}
					}
				}
			}
			w.WriteHeader(http.StatusNoContent)
		}))
		t.Cleanup(s.Close)
		return s
	}
	a, b := receiver("a"), receiver("b")
	dir := t.TempDir()
	r := start(t, fmt.Sprintf("graphite:\n  tcp: \"\"\n  udp: \"\"\n  pickle: \"\"\nstorage:\n  path: %s\n  remote_flush_deadline: 2s\n"+
		"remote_write:\n  - url: %s/api/v1/write\n    queue: {batch_send_deadline: 100ms}\nstatsd:\n  flush_interval: 100ms\n",
		filepath.Join(dir, "tsdb"), a.URL))
	waitFor := func(who, name string) {
		t.Helper()
		deadline := time.After(20 * time.Second)
		for {
			select {
			case h := <-hits:
				if h.who == who && h.body == name {
					return
				}
			case <-deadline:
				t.Fatalf("receiver %s never got %s", who, name)
			}
		}
	}
	sendUDP(t, r.udpAddr(), "before.reload:1|g")
	waitFor("a", "before_reload")

	// The file as start() wrote it, with the other target.
	cfgFile := r.app.configFile
	old, err := os.ReadFile(cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	bad := strings.Replace(string(old), a.URL+"/api/v1/write\n", a.URL+"/api/v1/write\n    bearer_token_file: missing-token\n", 1)
	if err := os.WriteFile(cfgFile, []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.app.reload(); err == nil || !strings.Contains(err.Error(), "bearer_token_file") {
		t.Fatalf("reload with a missing token file: %v", err)
	}
	if err := os.WriteFile(cfgFile, []byte(strings.ReplaceAll(string(old), a.URL, b.URL)), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := r.app.reload(); err != nil {
		t.Fatal(err)
	}
	sendUDP(t, r.udpAddr(), "after.reload:1|g")
	waitFor("b", "after_reload")
}

// TestAgentModeAPI: with storage.mode agent the query API refuses queries
// the way Prometheus's agent does, and buildinfo still answers.
func TestAgentModeAPI(t *testing.T) {
	dir := t.TempDir()
	r := start(t, fmt.Sprintf("graphite:\n  tcp: \"\"\n  udp: \"\"\n  pickle: \"\"\nstorage:\n  mode: agent\n  path: %s\n", filepath.Join(dir, "wal")))
	code, body := httpGet(r.url("/api/v1/query?query=up"))
	if code != 422 || !strings.Contains(body, `"errorType":"execution","error":"unavailable with Prometheus Agent"`) {
		t.Errorf("query in agent mode: %d %s", code, body)
	}
	code, body = httpGet(r.url("/api/v1/status/buildinfo"))
	if code != 200 || !strings.Contains(body, `"version":"`+version+`"`) {
		t.Errorf("buildinfo: %d %s", code, body)
	}
	if _, err := os.Stat(filepath.Join(dir, "wal", "wal")); err != nil {
		t.Errorf("agent WAL: %v", err)
	}
}
