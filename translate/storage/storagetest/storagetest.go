// Package storagetest starts real Prometheus and VictoriaMetrics servers
// for integration tests (the Debian packages installed by
// .ci/deps.d/storage.sh), each on a free loopback port with its own
// temporary data directory, and stops them when the test ends.
//
// Without the binaries a test skips, except under CI=true where it fails:
// CI must not pass by skipping. Need is that rule for every integration
// test of the project, whatever it needs (a binary, a Python module, a
// free port): one helper instead of a copy per package.
package storagetest

import (
	"bytes"
	"fmt"
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

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
)

// Need stops a test whose requirement is missing (err != nil): it skips
// locally and fails under CI=true, where every integration test must run.
// what names the requirement, fix how to get it ("bash
// .ci/deps.d/storage.sh").
func Need(t testing.TB, what, fix string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if UnderCI() {
		t.Fatalf("%s is required under CI=true (%s): %v", what, fix, err)
		return
	}
	t.Skipf("%s missing (%s): %v", what, fix, err)
}

// UnderCI reports whether the tests run under CI=true, where nothing may
// be skipped for want of an installed dependency.
func UnderCI() bool { return os.Getenv("CI") == "true" }

// NeedTool returns the path of an installed program, or skips the test
// (fails it under CI=true), naming the .ci script that installs it.
func NeedTool(t testing.TB, name, script string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Need(t, name, "bash "+script, err)
	return p
}

// NeedBinary returns the path of an installed server binary, or skips
// the test (fails it under CI=true).
func NeedBinary(t testing.TB, name string) string {
	t.Helper()
	return NeedTool(t, name, ".ci/deps.d/storage.sh")
}

// FreePort returns a TCP port free on 127.0.0.1 at the time of the call.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Server is a running Prometheus or VictoriaMetrics.
type Server struct {
	// Addr is host:port; URL is "http://"+Addr.
	Addr string
	URL  string
	// Name is "prometheus" or "victoria-metrics".
	Name string

	t      testing.TB
	bin    string
	args   []string
	ready  string
	mu     sync.Mutex
	cmd    *exec.Cmd
	logs   *lockedBuffer
	exited chan struct{}
}

// lockedBuffer is the server's output: os/exec copies into it from its
// own goroutine while a test reads it with Logs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Start starts the server (again, after Stop: same port and data) and
// waits until it is ready.
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	s.cmd = exec.Command(s.bin, s.args...)
	s.logs = &lockedBuffer{}
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		s.mu.Unlock()
		s.t.Fatalf("starting %s: %v", s.Name, err)
	}
	s.exited = make(chan struct{})
	go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(s.cmd, s.exited)
	s.mu.Unlock()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-s.exited:
			s.t.Fatalf("%s exited:\n%s", s.Name, s.logs.String())
		default:
		}
		resp, err := http.Get(s.URL + s.ready)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("%s not ready after 60s:\n%s", s.Name, s.logs.String())
}

// Stop ends the server with SIGTERM (SIGKILL after 20 s).
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(20 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
	s.cmd = nil
}

// Logs returns what the server wrote so far.
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logs == nil {
		return ""
	}
	return s.logs.String()
}

// StartPrometheus starts Prometheus (2.42 from Debian) as a remote write
// receiver (/api/v1/write) and query oracle, with extra flags appended.
func StartPrometheus(t testing.TB, flags ...string) *Server {
	t.Helper()
	return StartPrometheusWithConfig(t, "global: {}\n", flags...)
}

// StartPrometheusWithConfig is StartPrometheus with the given
// prometheus.yml (scrape_configs, say).
func StartPrometheusWithConfig(t testing.TB, config string, flags ...string) *Server {
	t.Helper()
	bin := NeedBinary(t, "prometheus")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	s := &Server{t: t, Name: "prometheus", bin: bin, Addr: addr, URL: "http://" + addr, ready: "/-/ready", args: append([]string{
		"--config.file=" + cfg, "--storage.tsdb.path=" + filepath.Join(dir, "data"),
		"--web.listen-address=" + addr, "--web.enable-remote-write-receiver",
		"--storage.tsdb.retention.time=100y", "--log.level=warn",
	}, flags...)}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// StartVictoriaMetrics starts VictoriaMetrics single node (1.79.5 from
// Debian): remote write on /api/v1/write, Prometheus query API, export
// on /api/v1/export. Results are not cached and new points are visible
// at once (-search.latencyOffset=0s). Extra flags are appended, e.g.
// "-graphiteListenAddr=127.0.0.1:2003".
func StartVictoriaMetrics(t testing.TB, flags ...string) *Server {
	t.Helper()
	bin := NeedBinary(t, "victoria-metrics")
	dir := t.TempDir()
	addr := fmt.Sprintf("127.0.0.1:%d", FreePort(t))
	s := &Server{t: t, Name: "victoria-metrics", bin: bin, Addr: addr, URL: "http://" + addr, ready: "/health", args: append([]string{
		"-httpListenAddr=" + addr, "-storageDataPath=" + filepath.Join(dir, "data"),
		"-retentionPeriod=100y", "-search.latencyOffset=0s", "-search.disableCache",
		"-loggerLevel=WARN",
	}, flags...)}
	s.Start()
	t.Cleanup(s.Stop)
	return s
}

// RemoteWrite is a remote write config for tests: 200 ms batches and
// short backoff (max 1 s), so that tests do not wait for production
// timings; 429 is retried.
func RemoteWrite(t testing.TB, name, rawURL string) *promconfig.RemoteWriteConfig {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	rw := promconfig.DefaultRemoteWriteConfig
	rw.Name = name
	rw.URL = &commoncfg.URL{URL: u}
	rw.MetadataConfig.Send = false
	rw.HTTPClientConfig = promconfig.DefaultRemoteWriteHTTPClientConfig
	rw.QueueConfig.BatchSendDeadline = model.Duration(200 * time.Millisecond)
	rw.QueueConfig.MinBackoff = model.Duration(50 * time.Millisecond)
	rw.QueueConfig.MaxBackoff = model.Duration(time.Second)
	rw.QueueConfig.RetryOnRateLimit = true
	return &rw
}
