package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
)

// victoriaLogs is a real VictoriaLogs: it takes the Loki push API and
// answers LogsQL, so the tests check what a user would query.
type victoriaLogs struct {
	t    testing.TB
	bin  string
	dir  string
	port int
	cmd  *exec.Cmd
}

func startVictoriaLogs(t testing.TB) *victoriaLogs {
	t.Helper()
	wd, _ := os.Getwd()
	bin := filepath.Join(wd, "..", "..", ".bin", "victoria-logs")
	_, err := os.Stat(bin)
	storagetest.Need(t, "VictoriaLogs", "bash .ci/deps.d/logs.sh", err)
	v := &victoriaLogs{t: t, bin: bin, dir: t.TempDir(), port: freeTCPPort(t)}
	v.start()
	t.Cleanup(v.stop)
	return v
}

func (v *victoriaLogs) start() {
	v.t.Helper()
	v.cmd = exec.Command(v.bin, "-storageDataPath="+v.dir, fmt.Sprintf("-httpListenAddr=127.0.0.1:%d", v.port), "-retentionPeriod=100y", "-loggerLevel=ERROR")
	if err := v.cmd.Start(); err != nil {
		v.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if r, err := http.Get(v.base() + "/health"); err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	v.t.Fatal("victoria-logs did not start")
}

func (v *victoriaLogs) stop() {
	if v.cmd != nil && v.cmd.Process != nil {
		v.cmd.Process.Signal(syscall.SIGTERM)
		v.cmd.Wait()
		v.cmd = nil
	}
}

func (v *victoriaLogs) base() string { return fmt.Sprintf("http://127.0.0.1:%d", v.port) }

func (v *victoriaLogs) pushURL() string { return v.base() + "/insert/loki/api/v1/push" }

// query runs a LogsQL query and returns the rows.
func (v *victoriaLogs) query(q string) []map[string]string {
	v.t.Helper()
	resp, err := http.PostForm(v.base()+"/select/logsql/query", url.Values{"query": {q}})
	if err != nil {
		v.t.Fatal(err)
	}
	defer resp.Body.Close()
	var rows []map[string]string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var row map[string]string
		if json.Unmarshal(sc.Bytes(), &row) == nil {
			rows = append(rows, row)
		}
	}
	return rows
}

// forceFlush makes everything VictoriaLogs received searchable now.
func (v *victoriaLogs) forceFlush() {
	v.t.Helper()
	resp, err := http.Get(v.base() + "/internal/force_flush")
	if err != nil {
		v.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		v.t.Fatalf("force_flush: %s", resp.Status)
	}
}

// waitMessages polls until every message in want is stored (or the
// timeout), then returns how many times each stored message was seen.
func (v *victoriaLogs) waitMessages(q string, want []string, timeout time.Duration) (map[string]int, []map[string]string) {
	v.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		rows := v.query(q)
		seen := map[string]int{}
		for _, r := range rows {
			seen[r["_msg"]]++
		}
		missing := 0
		for _, w := range want {
			if seen[w] == 0 {
				missing++
			}
		}
		if missing == 0 || time.Now().After(deadline) {
			if missing > 0 {
				v.t.Errorf("%d of %d lines never arrived (query %q)", missing, len(want), q)
			}
			return seen, rows
		}
		time.Sleep(300 * time.Millisecond)
	}
}

type logsAgent struct {
	t    testing.TB
	cfg  string
	cmd  *exec.Cmd
	logs *strings.Builder
	mu   sync.Mutex
}

func startLogsAgent(t testing.TB, dir, body string) *logsAgent {
	t.Helper()
	cfg := filepath.Join(dir, "copenhagen.yml")
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	a := &logsAgent{t: t, cfg: cfg}
	a.start()
	t.Cleanup(func() {
		a.kill(syscall.SIGKILL)
		if t.Failed() {
			a.mu.Lock()
			t.Logf("agent log:\n%s", a.logs.String())
			a.mu.Unlock()
		}
	})
	return a
}

func (a *logsAgent) start() {
	a.cmd = exec.Command(binary, "run", "--config", a.cfg)
	a.logs = &strings.Builder{}
	a.cmd.Stderr = &logsLockedWriter{mu: &a.mu, w: a.logs}
	if err := a.cmd.Start(); err != nil {
		a.t.Fatal(err)
	}
}

func (a *logsAgent) kill(sig syscall.Signal) {
	if a.cmd != nil && a.cmd.Process != nil {
		a.cmd.Process.Signal(sig)
		a.cmd.Wait()
		a.cmd = nil
	}
}

type logsLockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l *logsLockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func logsAgentConfig(v *victoriaLogs, dir string, extra string) string {
	// Every listener but HTTP off: tests of other capabilities run at
	// the same time and hold the default ports.
	return fmt.Sprintf(`http: {listen: "127.0.0.1:0"}
statsd: {udp: "", tcp: ""}
graphite: {udp: "", tcp: "", pickle: ""}
logs:
  paths: [%s/pods/*/*/*.log]
  positions_file: %s/positions.json
  poll_interval: 100ms
  node: testnode
%s
loki:
  url: %s
  batch_wait: 200ms
  batch_size: 16KiB
  max_buffer: 64KiB
  min_backoff: 100ms
  max_backoff: 1s
`, dir, dir, extra, v.pushURL())
}

func appendLogFile(t *testing.T, path string, lines ...string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(lines, "")); err != nil {
		t.Fatal(err)
	}
}

func criLine(stream, tag, msg string) string {
	return time.Now().UTC().Format(time.RFC3339Nano) + " " + stream + " " + tag + " " + msg + "\n"
}

func dockerLine(stream, msg string) string {
	b, _ := json.Marshal(map[string]string{"log": msg, "stream": stream, "time": time.Now().UTC().Format(time.RFC3339Nano)})
	return string(b) + "\n"
}

// TestLogsShippedToVictoriaLogs writes CRI and Docker files, with split
// lines, a rotation by rename and a truncation, and finds every line back
// exactly once with its labels.
func TestLogsShippedToVictoriaLogs(t *testing.T) {
	v := startVictoriaLogs(t)
	dir := t.TempDir()
	criDir := filepath.Join(dir, "pods", "shop_web-7d4b9c8f6d-x2x9k_uid-1", "php")
	dockDir := filepath.Join(dir, "pods", "shop_worker-6f8d7c9b5d-bq7xz_uid-2", "node")
	os.MkdirAll(criDir, 0o755)
	os.MkdirAll(dockDir, 0o755)
	vmFile := filepath.Join(dir, "vm", "app.log")
	os.MkdirAll(filepath.Dir(vmFile), 0o755)
	cri := filepath.Join(criDir, "0.log")
	dock := filepath.Join(dockDir, "0.log")
	var want []string
	for i := range 300 {
		want = append(want, fmt.Sprintf("cri-%d", i))
		appendLogFile(t, cri, criLine("stdout", "F", fmt.Sprintf("cri-%d", i)))
	}
	long := "long-" + strings.Repeat("x", 40000)
	appendLogFile(t, cri, criLine("stderr", "P", long[:16384]), criLine("stderr", "P", long[16384:32768]), criLine("stderr", "F", long[32768:]))
	want = append(want, long)
	phpFile := filepath.Join(dir, "vm", "php-fpm.log")
	agent := startLogsAgent(t, dir, logsAgentConfig(v, dir, "  files:\n  - path: "+vmFile+"\n    labels: {job: vmapp}\n"+
		"  - path: "+phpFile+"\n    labels: {job: php}\n"+
		"  multiline:\n  - path: "+phpFile+"\n    first_line: '^\\['\n    max_wait: 500ms\n"))
	time.Sleep(500 * time.Millisecond)
	for i := range 300 {
		want = append(want, fmt.Sprintf("docker-%d", i))
		appendLogFile(t, dock, dockerLine("stderr", fmt.Sprintf("docker-%d\n", i)))
	}
	appendLogFile(t, dock, dockerLine("stdout", "split-"), dockerLine("stdout", "in-two\n"))
	want = append(want, "split-in-two")
	// Rotate once the agent follows the file (as with a real 10 MiB
	// rotation); a file created and renamed before the agent ever saw
	// it cannot be found again.
	v.waitMessages("*", []string{"docker-0"}, 10*time.Second)
	if err := os.Rename(dock, dock+".20261126-050000"); err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		appendLogFile(t, dock, dockerLine("stdout", fmt.Sprintf("docker-after-rotation-%d\n", i)))
		want = append(want, fmt.Sprintf("docker-after-rotation-%d", i))
	}
	// Rotation as kubelet does it: rename, then a new file.
	for i := range 100 {
		appendLogFile(t, cri, criLine("stdout", "F", fmt.Sprintf("before-rotation-%d", i)))
		want = append(want, fmt.Sprintf("before-rotation-%d", i))
	}
	if err := os.Rename(cri, cri+".20261126-050000"); err != nil {
		t.Fatal(err)
	}
	appendLogFile(t, cri+".20261126-050000", criLine("stdout", "F", "late-write-to-rotated"))
	want = append(want, "late-write-to-rotated")
	os.WriteFile(cri+".20261125-050000.gz", []byte("gzip garbage never-read\n"), 0o644)
	for i := range 100 {
		appendLogFile(t, cri, criLine("stdout", "F", fmt.Sprintf("after-rotation-%d", i)))
		want = append(want, fmt.Sprintf("after-rotation-%d", i))
	}
	// A VM file with copytruncate.
	for i := range 50 {
		appendLogFile(t, vmFile, fmt.Sprintf("vm-before-truncate-%d level=error\n", i))
		want = append(want, fmt.Sprintf("vm-before-truncate-%d level=error", i))
	}
	time.Sleep(time.Second)
	os.Truncate(vmFile, 0)
	for i := range 20 {
		appendLogFile(t, vmFile, fmt.Sprintf("vm-after-%d\n", i))
		want = append(want, fmt.Sprintf("vm-after-%d", i))
	}

	// A PHP fatal error with its stack trace is one entry.
	fatal := "[26-Nov-2026 05:00:01 UTC] PHP Fatal error:  Uncaught RuntimeException: boom in /app/src/Kernel.php:42\n" +
		"Stack trace:\n#0 /app/public/index.php(20): App\\Kernel->handle()\n#1 {main}\n  thrown in /app/src/Kernel.php on line 42"
	appendLogFile(t, phpFile, fatal+"\n", "[26-Nov-2026 05:00:02 UTC] PHP Warning:  next entry\n")
	want = append(want, fatal, "[26-Nov-2026 05:00:02 UTC] PHP Warning:  next entry")

	v.waitMessages("*", want, 30*time.Second)
	// Exactly once: count again after a graceful stop has flushed the
	// last batch and VictoriaLogs made everything searchable, so a late
	// duplicate (a retried batch) is seen.
	agent.kill(syscall.SIGTERM)
	v.forceFlush()
	rows := v.query("*")
	seen := map[string]int{}
	for _, r := range rows {
		seen[r["_msg"]]++
	}
	for _, w := range want {
		if seen[w] != 1 {
			t.Errorf("line %.40q stored %d times", w, seen[w])
		}
	}
	for m := range seen {
		if strings.Contains(m, "never-read") {
			t.Error("a .gz file was read")
		}
	}
	for _, r := range rows {
		switch {
		case r["_msg"] == "cri-1":
			if r["namespace"] != "shop" || r["app"] != "web" || r["container"] != "php" || r["stream"] != "stdout" ||
				r["pod"] != "web-7d4b9c8f6d-x2x9k" || r["node"] != "testnode" || r["job"] != "shop/web" {
				t.Errorf("CRI labels: %v", r)
			}
		case r["_msg"] == "docker-1":
			if r["app"] != "worker" || r["stream"] != "stderr" {
				t.Errorf("Docker labels: %v", r)
			}
		case r["_msg"] == "vm-before-truncate-1 level=error":
			if r["job"] != "vmapp" || r["level"] != "error" {
				t.Errorf("VM file labels: %v", r)
			}
		}
	}
}

// TestLogsKill9 kills the agent while it ships and checks that after a
// restart every line arrives, with duplicates bounded by what was not yet
// acknowledged (max_buffer plus one batch).
func TestLogsKill9(t *testing.T) {
	v := startVictoriaLogs(t)
	dir := t.TempDir()
	podDir := filepath.Join(dir, "pods", "ns_job-8v4kq_uid-3", "c")
	os.MkdirAll(podDir, 0o755)
	file := filepath.Join(podDir, "0.log")
	// positions_sync_interval 0: the file is rewritten after every
	// acknowledgement, so the only resent lines are unacknowledged ones.
	a := startLogsAgent(t, dir, logsAgentConfig(v, dir, "  positions_sync_interval: 0s"))
	var want []string
	pad := strings.Repeat("p", 100)
	write := func(from, to int) {
		var b []string
		for i := from; i < to; i++ {
			msg := fmt.Sprintf("k9-%06d-%s", i, pad)
			want = append(want, msg)
			b = append(b, criLine("stdout", "F", msg))
		}
		appendLogFile(t, file, b...)
	}
	for i := 0; i < 20; i++ {
		write(i*500, (i+1)*500)
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	a.kill(syscall.SIGKILL)
	time.Sleep(1500 * time.Millisecond) // VictoriaLogs makes new rows searchable within a second
	t.Logf("%d of 10000 lines stored when the agent was killed", len(v.query("*")))
	write(10000, 12000)
	a.start()
	write(12000, 14000)
	seen, _ := v.waitMessages("*", want, 60*time.Second)
	dups := 0
	for _, w := range want {
		if seen[w] > 1 {
			dups += seen[w] - 1
		}
	}
	// The unacknowledged window: max_buffer (64KiB, which includes the
	// batch in flight), what one file hands over at once (16KiB), and the
	// batch whose acknowledgement was being written to the positions
	// file (16KiB), in lines of 110 bytes.
	const window = (64<<10 + 16<<10 + 16<<10) / 110
	t.Logf("duplicates after kill -9: %d (bound %d)", dups, window)
	if dups > window {
		t.Errorf("%d duplicates, more than the unacknowledged window of %d lines", dups, window)
	}
	a.kill(syscall.SIGTERM)
}

// TestLogsServerDown30s stops VictoriaLogs for 30 s while lines are
// written; reading pauses and resumes, and every line arrives.
func TestLogsServerDown30s(t *testing.T) {
	if testing.Short() {
		t.Skip("30 s outage")
	}
	v := startVictoriaLogs(t)
	dir := t.TempDir()
	podDir := filepath.Join(dir, "pods", "ns_api-5c9d8f7b6d-k2j4m_uid-4", "api")
	os.MkdirAll(podDir, 0o755)
	file := filepath.Join(podDir, "0.log")
	a := startLogsAgent(t, dir, logsAgentConfig(v, dir, ""))
	var want []string
	n := 0
	write := func(k int) {
		var b []string
		for range k {
			msg := fmt.Sprintf("down-%06d", n)
			n++
			want = append(want, msg)
			b = append(b, criLine("stdout", "F", msg))
		}
		appendLogFile(t, file, b...)
	}
	write(1000)
	time.Sleep(time.Second)
	v.stop()
	for range 30 {
		write(1000) // 30 000 lines while down: more than max_buffer holds
		time.Sleep(time.Second)
	}
	v.start()
	write(1000)
	seen, _ := v.waitMessages("*", want, 60*time.Second)
	dups := 0
	for _, w := range want {
		if seen[w] > 1 {
			dups += seen[w] - 1
		}
	}
	t.Logf("duplicates after a 30 s outage: %d", dups)
	if dups > (64<<10)/60 {
		t.Errorf("%d duplicates, more than the buffered window", dups)
	}
	a.kill(syscall.SIGTERM)
}

func freeTCPPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
