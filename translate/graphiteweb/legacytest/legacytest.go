// Package legacytest starts the legacy stack users run before they switch
// to Copenhagen, for integration tests: etsy statsd 0.9.0 flushing to a
// carbon-cache (Debian graphite-carbon 1.1.7) whose whisper files a
// graphite-web 1.1.8 (Debian) renders. It is what the switchover shadow
// compares Copenhagen with, so tests need the real thing, not a stand-in.
//
// Each Stack has its own free loopback ports and temporary directories and
// is stopped by t.Cleanup. The parts are installed by
// .ci/deps.d/legacy.sh; without them a test skips, except under CI=true
// where it fails: CI must not pass by skipping.
package legacytest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
)

// Paths of the installed parts (.ci/deps.d/legacy.sh).
const (
	graphiteManage = "/usr/bin/graphite-manage"
	carbonCache    = "/usr/bin/carbon-cache"
	python         = "/usr/bin/python3"
	// statsdDir is relative to the repository root.
	statsdDir = ".bin/legacy-statsd/node_modules/statsd"
)

// Options change what Start sets up. The zero value is what Start uses.
type Options struct {
	// FlushInterval is statsd's flushInterval. Default 1s (users run 10s;
	// tests cannot wait that long).
	FlushInterval time.Duration
	// Schemas is carbon's storage-schemas.conf. Default: every metric at
	// 1s for 2 hours, then 10s for a day.
	Schemas string
	// Aggregation is carbon's storage-aggregation.conf. Default: statsd's
	// recommendation (sum for counts, max for upper, min for lower,
	// average otherwise).
	Aggregation string
	// PercentThreshold is statsd's percentThreshold. Default [90].
	PercentThreshold []int
}

// DefaultSchemas keeps tests fast: 1 s points for 2 h, then 10 s for a day.
const DefaultSchemas = `[default]
pattern = .*
retentions = 1s:2h,10s:1d
`

// DefaultAggregation is statsd's recommended storage-aggregation.conf
// (statsd docs/graphite.md), what users of statsd run.
const DefaultAggregation = `[min]
pattern = \.lower$
xFilesFactor = 0.1
aggregationMethod = min

[max]
pattern = \.upper(_\d+)?$
xFilesFactor = 0.1
aggregationMethod = max

[sum]
pattern = \.sum$
xFilesFactor = 0
aggregationMethod = sum

[count]
pattern = \.count$
xFilesFactor = 0
aggregationMethod = sum

[count_legacy]
pattern = ^stats_counts.*
xFilesFactor = 0
aggregationMethod = sum

[default_average]
pattern = .*
xFilesFactor = 0.3
aggregationMethod = average
`

// Stack is a running statsd -> carbon-cache -> graphite-web chain.
type Stack struct {
	// GraphiteURL is graphite-web's base URL ("http://127.0.0.1:PORT"),
	// serving /render and /metrics/find.
	GraphiteURL string
	// CarbonAddr is carbon-cache's plaintext TCP listener (host:port).
	CarbonAddr string
	// StatsdAddr is etsy statsd's UDP listener (host:port); it flushes to
	// CarbonAddr every FlushInterval.
	StatsdAddr string
	// FlushInterval is statsd's flush interval.
	FlushInterval time.Duration
	// WhisperDir is where carbon writes its whisper files.
	WhisperDir string

	t        testing.TB
	graphite *proc
}

// Need reports a missing part: the test skips, or fails under CI=true.
func need(t testing.TB, what string, err error) {
	t.Helper()
	storagetest.Need(t, what, "bash .ci/deps.d/legacy.sh", err)
}

// Start starts the whole stack with the default Options.
func Start(t testing.TB) *Stack { return StartWith(t, Options{}) }

// StartWith starts the stack with o, waiting until each part answers.
func StartWith(t testing.TB, o Options) *Stack {
	t.Helper()
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.Schemas == "" {
		o.Schemas = DefaultSchemas
	}
	if o.Aggregation == "" {
		o.Aggregation = DefaultAggregation
	}
	if len(o.PercentThreshold) == 0 {
		o.PercentThreshold = []int{90}
	}
	for _, p := range []string{graphiteManage, carbonCache, python} {
		if _, err := os.Stat(p); err != nil {
			need(t, p, err)
		}
	}
	node, err := exec.LookPath("node")
	if err != nil {
		need(t, "node", err)
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	statsd := filepath.Join(root, statsdDir)
	if _, err := os.Stat(filepath.Join(statsd, "stats.js")); err != nil {
		need(t, "etsy statsd 0.9.0", err)
	}

	dir := t.TempDir()
	s := &Stack{t: t, FlushInterval: o.FlushInterval, WhisperDir: filepath.Join(dir, "storage", "whisper")}
	lineP, pickleP, cacheP := storagetest.FreePort(t), storagetest.FreePort(t), storagetest.FreePort(t)
	s.CarbonAddr = fmt.Sprintf("127.0.0.1:%d", lineP)
	s.startCarbon(dir, lineP, pickleP, cacheP, o)
	s.startGraphite(dir, cacheP)
	s.startStatsd(node, statsd, dir, o)
	return s
}

func (s *Stack) startCarbon(dir string, lineP, pickleP, cacheP int, o Options) {
	t := s.t
	t.Helper()
	conf := filepath.Join(dir, "carbon")
	for _, d := range []string{conf, s.WhisperDir, filepath.Join(dir, "storage", "lists"), filepath.Join(dir, "log", "carbon"), filepath.Join(dir, "run")} {
		mustMkdir(t, d)
	}
	cfg := fmt.Sprintf(`[cache]
STORAGE_DIR = %[1]s/storage/
LOCAL_DATA_DIR = %[2]s/
WHITELISTS_DIR = %[1]s/storage/lists/
CONF_DIR = %[3]s/
LOG_DIR = %[1]s/log/carbon/
PID_DIR = %[1]s/run/
USER =
MAX_CACHE_SIZE = inf
MAX_UPDATES_PER_SECOND = inf
MAX_CREATES_PER_MINUTE = inf
LINE_RECEIVER_INTERFACE = 127.0.0.1
LINE_RECEIVER_PORT = %[4]d
ENABLE_UDP_LISTENER = False
PICKLE_RECEIVER_INTERFACE = 127.0.0.1
PICKLE_RECEIVER_PORT = %[5]d
CACHE_QUERY_INTERFACE = 127.0.0.1
CACHE_QUERY_PORT = %[6]d
LOG_UPDATES = False
LOG_CREATES = False
LOG_LISTENER_CONN_SUCCESS = False
ENABLE_LOGROTATION = False
WHISPER_AUTOFLUSH = False
`, dir, s.WhisperDir, conf, lineP, pickleP, cacheP)
	mustWrite(t, filepath.Join(conf, "carbon.conf"), cfg)
	mustWrite(t, filepath.Join(conf, "storage-schemas.conf"), o.Schemas)
	mustWrite(t, filepath.Join(conf, "storage-aggregation.conf"), o.Aggregation)
	p := startProc(t, "carbon-cache", dir, nil, carbonCache, "--config="+filepath.Join(conf, "carbon.conf"), "--nodaemon", "start")
	p.waitTCP(s.CarbonAddr)
}

func (s *Stack) startGraphite(dir string, cacheP int) {
	t := s.t
	t.Helper()
	web := filepath.Join(dir, "graphite")
	mustMkdir(t, filepath.Join(web, "log"))
	settings := fmt.Sprintf(`SECRET_KEY = 'legacytest-not-secret'
TIME_ZONE = 'UTC'
STORAGE_DIR = %[1]q
WHISPER_DIR = %[2]q
STANDARD_DIRS = [WHISPER_DIR]
LOG_DIR = %[3]q
INDEX_FILE = %[4]q
CARBONLINK_HOSTS = ['127.0.0.1:%[5]d']
CARBONLINK_TIMEOUT = 5.0
DATABASES = {'default': {'NAME': %[6]q, 'ENGINE': 'django.db.backends.sqlite3'}}
LOG_RENDERING_PERFORMANCE = False
LOG_CACHE_PERFORMANCE = False
DEFAULT_CACHE_DURATION = 0
`, filepath.Join(dir, "storage"), s.WhisperDir, filepath.Join(web, "log"), filepath.Join(web, "index"), cacheP, filepath.Join(web, "graphite.db"))
	mustWrite(t, filepath.Join(web, "legacytest_settings.py"), settings)
	env := []string{"PYTHONPATH=" + web, "GRAPHITE_SETTINGS_MODULE=legacytest_settings", "DJANGO_SETTINGS_MODULE=graphite.settings"}
	mig := exec.Command(python, graphiteManage, "migrate", "--run-syncdb", "--noinput")
	mig.Dir = web
	mig.Env = append(os.Environ(), env...)
	if out, err := mig.CombinedOutput(); err != nil {
		t.Fatalf("graphite-manage migrate: %v\n%s", err, out)
	}
	port := storagetest.FreePort(t)
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s.GraphiteURL = "http://" + addr
	s.graphite = startProc(t, "graphite-web", web, env, python, graphiteManage, "runserver", "--noreload", "--nothreading", addr)
	s.graphite.waitHTTP(s.GraphiteURL + "/render?target=none&format=json")
}

func (s *Stack) startStatsd(node, pkg, dir string, o Options) {
	t := s.t
	t.Helper()
	port, mgmt := freeUDPPort(t), storagetest.FreePort(t)
	host, cport, _ := net.SplitHostPort(s.CarbonAddr)
	pct, _ := json.Marshal(o.PercentThreshold)
	cfg := fmt.Sprintf(`{
  address: "127.0.0.1",
  port: %d,
  mgmt_address: "127.0.0.1",
  mgmt_port: %d,
  graphiteHost: %q,
  graphitePort: %s,
  flushInterval: %d,
  percentThreshold: %s,
  backends: ["./backends/graphite"]
}
`, port, mgmt, host, cport, o.FlushInterval.Milliseconds(), pct)
	file := filepath.Join(dir, "statsd-config.js")
	mustWrite(t, file, cfg)
	p := startProc(t, "statsd", pkg, nil, node, "stats.js", file)
	// The management port opens after the UDP listener.
	p.waitTCP(fmt.Sprintf("127.0.0.1:%d", mgmt))
	s.StatsdAddr = fmt.Sprintf("127.0.0.1:%d", port)
}

// StopGraphite stops graphite-web (carbon and statsd keep running), for
// outage tests; StartGraphite starts it again on the same address.
func (s *Stack) StopGraphite() { s.graphite.stop() }

// StartGraphite starts graphite-web again after StopGraphite.
func (s *Stack) StartGraphite() {
	s.t.Helper()
	s.graphite.start()
	s.graphite.waitHTTP(s.GraphiteURL + "/render?target=none&format=json")
}

// Render asks graphite-web for target in JSON with the given query
// parameters (from, until, now...) and returns its series, for tests
// that check what the legacy stack holds.
func (s *Stack) Render(target string, params url.Values) ([]RenderedSeries, error) {
	q := url.Values{}
	for k, v := range params {
		q[k] = v
	}
	q.Set("target", target)
	q.Set("format", "json")
	resp, err := http.Get(s.GraphiteURL + "/render?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("render %s: %s: %s", target, resp.Status, body)
	}
	var out []RenderedSeries
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, fmt.Errorf("render %s: %w: %s", target, err, body)
	}
	return out, nil
}

// RenderedSeries is one series of a JSON render, values nil where null.
type RenderedSeries struct {
	Target     string        `json:"target"`
	Datapoints [][2]*float64 `json:"datapoints"`
}

// Last returns the last non-null value and its timestamp.
func (r RenderedSeries) Last() (v float64, ts int64, ok bool) {
	for i := len(r.Datapoints) - 1; i >= 0; i-- {
		if p := r.Datapoints[i]; p[0] != nil && p[1] != nil {
			return *p[0], int64(*p[1]), true
		}
	}
	return 0, 0, false
}

// WaitValue polls graphite-web until target's last non-null point over
// the last from (e.g. "-5min") satisfies ok, or fails the test after
// timeout. It returns the value found.
func (s *Stack) WaitValue(target, from string, timeout time.Duration, ok func(float64) bool) float64 {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		series, err := s.Render(target, url.Values{"from": {from}})
		if err != nil {
			last = err.Error()
		} else {
			last = fmt.Sprint(len(series), " series")
			for _, r := range series {
				if v, _, found := r.Last(); found {
					last = fmt.Sprint("last value ", v)
					if ok(v) {
						return v
					}
				}
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.t.Fatalf("graphite-web: %s never had the expected value within %s (%s)", target, timeout, last)
	return 0
}

// proc is one child process, restartable, logs kept for failures.
type proc struct {
	t    testing.TB
	name string
	dir  string
	env  []string
	argv []string

	mu     sync.Mutex
	cmd    *exec.Cmd
	logs   *bytes.Buffer
	exited chan struct{}
}

func startProc(t testing.TB, name, dir string, env []string, argv ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, dir: dir, env: env, argv: argv}
	p.start()
	t.Cleanup(p.stop)
	return p
}

func (p *proc) start() {
	p.t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	cmd := exec.Command(p.argv[0], p.argv[1:]...)
	cmd.Dir = p.dir
	cmd.Env = append(os.Environ(), p.env...)
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &lockedWriter{w: logs, mu: &p.mu}, &lockedWriter{w: logs, mu: &p.mu}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	if err := cmd.Start(); err != nil {
		p.t.Fatalf("starting %s: %v", p.name, err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	p.cmd, p.logs, p.exited = cmd, logs, exited
}

// stop ends the process group with SIGTERM, SIGKILL after 10 s.
func (p *proc) stop() {
	p.mu.Lock()
	cmd, exited := p.cmd, p.exited
	p.cmd = nil
	p.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-exited
	}
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.logs == nil {
		return ""
	}
	s := p.logs.String()
	if len(s) > 8000 {
		s = "..." + s[len(s)-8000:]
	}
	return s
}

func (p *proc) exitedNow() bool {
	p.mu.Lock()
	ch := p.exited
	p.mu.Unlock()
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

const startTimeout = 90 * time.Second

func (p *proc) waitTCP(addr string) {
	p.t.Helper()
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		if p.exitedNow() {
			p.t.Fatalf("%s exited:\n%s", p.name, p.output())
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.t.Fatalf("%s not listening on %s after %s:\n%s", p.name, addr, startTimeout, p.output())
}

func (p *proc) waitHTTP(u string) {
	p.t.Helper()
	deadline := time.Now().Add(startTimeout)
	client := &http.Client{Timeout: 5 * time.Second}
	for time.Now().Before(deadline) {
		if p.exitedNow() {
			p.t.Fatalf("%s exited:\n%s", p.name, p.output())
		}
		if resp, err := client.Get(u); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(150 * time.Millisecond)
	}
	p.t.Fatalf("%s not answering %s after %s:\n%s", p.name, u, startTimeout, p.output())
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

// Write is called by exec's copying goroutines, which never hold p.mu.
func (l *lockedWriter) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(b)
}

func freeUDPPort(t testing.TB) int {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().(*net.UDPAddr).Port
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("legacytest: no go.mod above the working directory")
		}
		dir = parent
	}
}

func mustMkdir(t testing.TB, d string) {
	t.Helper()
	if err := os.MkdirAll(d, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustWrite(t testing.TB, p, data string) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}
