package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
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

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "copenhagen-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "copenhagen")
	// Static and -trimpath, as deploy/container/build.sh builds: the
	// container test's build then only relinks (same compile cache).
	build := exec.Command("go", "build", "-trimpath", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the binary: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func cli(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runCLI(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("good-mapping.yml", "mappings:\n- match: a.*\n  name: a_total\n  labels: {part: $1}\n")
	write("bad-mapping.yml", "mappings:\n- match: a.*\n  name: a\n- match: \"b..c\"\n  name: b\n")
	good := write("good.yml", "statsd:\n  mapping_file: good-mapping.yml\n  flush_interval: 15s\n")
	out, errs, code := cli(t, "check", "config", good)
	if code != 0 || !strings.Contains(out, "OK") || !strings.Contains(out, "1 rules") {
		t.Fatalf("good config: code %d\n%s%s", code, out, errs)
	}
	cases := []struct{ body, want string }{
		{"statsd:\n  udp: :8125\n  flush_intervall: 10s\n", `bad.yml:3: unknown key "statsd.flush_intervall"`},
		{"statsd:\n  flush_interval: ten\n", `bad.yml:2: statsd.flush_interval: expected a duration`},
		{"statsd:\n  mapping_file: bad-mapping.yml\n", `bad-mapping.yml:4: mappings[1] (match "b..c")`},
		{"http:\n  listen: nonsense\n", `bad.yml:2: http.listen`},
		{"alerting:\n  config_file: bad-am.yml\n", `alerting.config_file`},
		{"rules:\n  files: [bad-rules.yml]\n", `rules.files`},
	}
	write("bad-rules.yml", "groups:\n- name: g\n  rules:\n  - alert: X\n    expr: sum(\n")
	write("bad-am.yml", "route:\n  receiver: nobody\nreceivers: []\n")
	for _, c := range cases {
		p := write("bad.yml", c.body)
		_, errs, code := cli(t, "check", "config", p)
		if code != 1 || !strings.Contains(errs, c.want) {
			t.Errorf("config %q: code %d, stderr %q; want it to contain %q", c.body, code, errs, c.want)
		}
	}
}

func TestTranslateNameCLI(t *testing.T) {
	dir := t.TempDir()
	m := filepath.Join(dir, "m.yml")
	os.WriteFile(m, []byte(`mappings:
- match: "api.*.*.response_time"
  name: "api_response_time_seconds"
  observer_type: histogram
  labels: {app: "$1", route: "$2"}
- match: "app.debug.*"
  action: drop
  name: dropped
`), 0o644)
	out, _, code := cli(t, "translate", "name", "--mapping", m, "--type", "ms", "api.shop.get.response_time", "app.debug.x", "other.timer|#host:a")
	if code != 0 {
		t.Fatalf("code %d: %s", code, out)
	}
	for _, want := range []string{
		`api.shop.get.response_time (ms) -> api_response_time_seconds{app="shop",route="get"} histogram, value /1000 (ms to seconds) (rule match "api.*.*.response_time")`,
		`app.debug.x (ms) -> dropped by rule match "app.debug.*"`,
		`other.timer|#host:a (ms) -> other_timer{host="a"} summary`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	out, _, code = cli(t, "translate", "name", ":1")
	if code != 1 || !strings.Contains(out, "not a valid StatsD name") {
		t.Errorf("bad name: code %d %s", code, out)
	}
}

type proc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	http   string
}

// syncBuffer is the process's stderr: exec's copying goroutine writes it
// while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func startBinary(t *testing.T, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(binary, args...), stderr: &syncBuffer{}}
	p.cmd.Stderr = p.stderr
	p.cmd.Dir = t.TempDir() // the default storage.path "data" lands here
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

func httpGet(url string) (int, string) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func waitHTTP(t *testing.T, p *proc, path string, cond func(int, string) bool) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	var body string
	var code int
	for time.Now().Before(deadline) {
		code, body = httpGet("http://" + p.http + path)
		if cond(code, body) {
			return body
		}
		time.Sleep(30 * time.Millisecond)
	}
	t.Fatalf("GET %s: %d\n%s\nlog:\n%s", path, code, body, p.stderr.String())
	return ""
}

func contains(s string) func(int, string) bool {
	return func(code int, body string) bool { return code == 200 && strings.Contains(body, s) }
}

// TestBinaryReloadAndGracefulShutdown drives the real binary: SIGHUP and
// POST /-/reload pick up a new mapping file, a broken configuration is
// refused while the old one keeps working, and SIGTERM exits cleanly.
func TestBinaryReloadAndGracefulShutdown(t *testing.T) {
	dir := t.TempDir()
	httpPort, udpPort := freePort(t), freePort(t)
	cfg := filepath.Join(dir, "copenhagen.yml")
	mapping := filepath.Join(dir, "mapping.yml")
	goodCfg := fmt.Sprintf("http:\n  listen: 127.0.0.1:%d\ngraphite:\n  tcp: \"\"\n  udp: \"\"\n  pickle: \"\"\n"+
		"statsd:\n  udp: 127.0.0.1:%d\n  tcp: \"\"\n  mapping_file: mapping.yml\n", httpPort, udpPort)
	os.WriteFile(cfg, []byte(goodCfg), 0o644)
	os.WriteFile(mapping, []byte("mappings: []\n"), 0o644)
	p := startBinary(t, "run", "--config", cfg)
	p.http = fmt.Sprintf("127.0.0.1:%d", httpPort)
	waitHTTP(t, p, "/-/ready", func(c int, _ string) bool { return c == 200 })
	if code, _ := httpGet("http://" + p.http + "/-/healthy"); code != 200 {
		t.Fatalf("healthy: %d", code)
	}
	send := func(line string) {
		c, err := net.Dial("udp", fmt.Sprintf("127.0.0.1:%d", udpPort))
		if err != nil {
			t.Fatal(err)
		}
		c.Write([]byte(line))
		c.Close()
	}
	send("web.home.hits:1|c")
	waitHTTP(t, p, "/metrics", contains("web_home_hits 1"))

	os.WriteFile(mapping, []byte("mappings:\n- match: web.*.hits\n  name: web_hits_total\n  labels: {page: $1}\n"), 0o644)
	p.cmd.Process.Signal(syscall.SIGHUP)
	waitHTTP(t, p, "/metrics", contains(`copenhagen_config_reloads_total{result="success"} 1`))
	send("web.home.hits:1|c")
	waitHTTP(t, p, "/metrics", contains(`web_hits_total{page="home"} 1`))

	// A broken config is refused and the running one stays.
	os.WriteFile(cfg, []byte(goodCfg+"  bogus_key: 1\n"), 0o644)
	resp, err := http.Post("http://"+p.http+"/-/reload", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), `unknown key "statsd.bogus_key"`) {
		t.Fatalf("bad reload: %d %s", resp.StatusCode, body)
	}
	send("web.about.hits:1|c")
	waitHTTP(t, p, "/metrics", contains(`web_hits_total{page="about"} 1`))
	waitHTTP(t, p, "/metrics", contains("copenhagen_config_last_reload_successful 0"))
	if code, _ := httpGet("http://" + p.http + "/-/reload"); code != http.StatusMethodNotAllowed {
		t.Errorf("GET /-/reload = %d, want 405", code)
	}

	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, p.stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no exit 10s after SIGTERM\n%s", p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "stopped") {
		t.Errorf("log does not show a clean stop:\n%s", p.stderr.String())
	}
}

// TestDefaultsWithoutConfigFile is the README's first command: no file, no
// external server, StatsD on :8125 and HTTP on :9095.
func TestDefaultsWithoutConfigFile(t *testing.T) {
	for _, a := range []string{"127.0.0.1:9095", "127.0.0.1:8125", "127.0.0.1:2003", "127.0.0.1:2004"} {
		l, err := net.Listen("tcp", a)
		storagetest.Need(t, "free port "+a+" (the defaults)", "stop what listens there", err)
		l.Close()
	}
	p := startBinary(t, "run")
	p.http = "127.0.0.1:9095"
	waitHTTP(t, p, "/-/ready", func(c int, _ string) bool { return c == 200 })
	c, err := net.Dial("udp", "127.0.0.1:8125")
	if err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("defaults.work:3|c|#via:udp"))
	c.Close()
	tc, err := net.Dial("tcp", "127.0.0.1:8125")
	if err != nil {
		t.Fatal(err)
	}
	tc.Write([]byte("defaults.tcp:4|c\n"))
	tc.Close()
	waitHTTP(t, p, "/metrics", contains(`defaults_work{via="udp"} 3`))
	waitHTTP(t, p, "/metrics", contains(`defaults_tcp 4`))
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, p.stderr.String())
	}
}

// `copenhagen run --help` must print help, not start a server.
func TestHelpDoesNotRunTheCommand(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"run", "--help"}, {"check", "config", "--help"}, {"help", "run"}} {
		out, errs, code := cli(t, args...)
		if code != 0 || !strings.Contains(out+errs, "usage: copenhagen") {
			t.Errorf("%v: code %d\n%s%s", args, code, out, errs)
		}
	}
}
