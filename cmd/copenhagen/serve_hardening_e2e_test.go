package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Tests of issue 9 (hostile or broken input) against the real binary.

// hardProc is the binary started on a config written from a template:
// {{HTTP}} is a free HTTP address, {{UDP}} a free StatsD UDP address and
// {{DIR}} the test's directory. Every other listener is off.
type hardProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	logs strings.Builder
	base string
	udp  string
	dir  string
	cfg  string
}

func (p *hardProc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.Write(b)
}

func (p *hardProc) log() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *hardProc) expand(yml string) string {
	return strings.NewReplacer("{{HTTP}}", strings.TrimPrefix(p.base, "http://"), "{{UDP}}", p.udp, "{{DIR}}", p.dir).Replace(yml)
}

func startHard(t *testing.T, dir, yml string) *hardProc {
	t.Helper()
	p := &hardProc{t: t, dir: dir,
		base: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)),
		udp:  fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t)),
		cfg:  filepath.Join(dir, "copenhagen.yml")}
	must(t, os.WriteFile(p.cfg, []byte(p.expand(yml)), 0o644))
	p.start()
	t.Cleanup(func() {
		p.stop(syscall.SIGKILL)
		if t.Failed() {
			t.Logf("copenhagen log:\n%s", p.log())
		}
	})
	return p
}

func (p *hardProc) start() {
	p.t.Helper()
	p.cmd = exec.Command(binary, "run", "--config", p.cfg)
	p.cmd.Dir = p.dir
	p.cmd.Stderr = p
	if err := p.cmd.Start(); err != nil {
		p.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if code, _ := p.do("GET", "/-/ready", "", nil); code == 200 || code == 401 { // 401: up, behind basic auth
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("copenhagen did not get ready:\n%s", p.log())
}

func (p *hardProc) stop(sig syscall.Signal) {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(sig)
		_ = p.cmd.Wait()
		p.cmd = nil
	}
}

// do sends a request; hdr may set headers ("user" and "pass" set basic
// auth).
func (p *hardProc) do(method, path string, body any, hdr map[string]string) (int, string) {
	var r io.Reader
	switch b := body.(type) {
	case string:
		r = strings.NewReader(b)
	case io.Reader:
		r = b
	}
	req, err := http.NewRequest(method, p.base+path, r)
	if err != nil {
		return 0, err.Error()
	}
	if s, ok := body.(string); ok && s != "" {
		req.ContentLength = int64(len(s))
	}
	for k, v := range hdr {
		switch k {
		case "user", "pass":
		default:
			req.Header.Set(k, v)
		}
	}
	if u := hdr["user"]; u != "" {
		req.SetBasicAuth(u, hdr["pass"])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, string(b)
}

// peakRSS is the process's high-water resident set (VmHWM), in bytes.
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc status")
	return 0
}

const hardBase = `http:
  listen: {{HTTP}}
statsd:
  udp: {{UDP}}
  tcp: ""
  flush_interval: 200ms
graphite: {tcp: "", udp: "", pickle: ""}
storage:
  path: {{DIR}}/data
`

// Issue 9 item 2: PromQL that would hold the parser (150 000 nested
// parentheses took 50 s and 1.9 GB) is refused at once with bad_data on
// every endpoint that parses PromQL; the process stays small and answers.
func TestBinaryRefusesHostilePromQL(t *testing.T) {
	p := startHard(t, t.TempDir(), hardBase)
	huge := strings.Repeat("(", 150000) + "up" + strings.Repeat(")", 150000)
	deep := strings.Repeat("(", 20000) + "up" + strings.Repeat(")", 20000) // 40 KB: under the length limit
	chain := strings.Repeat("up+", 30000) + "up"                           // 90 KB of operators
	long := `up{job=~"` + strings.Repeat("a|", 40000) + `b"}`
	ops := strings.Repeat("1+", 5000) + "1"
	cases := []struct {
		path, param, q, want string
	}{
		{"/api/v1/query", "query", huge, "query is 300002 bytes long, more than the limit of 65536 (http.max_query_length)"},
		{"/api/v1/query", "query", deep, "query nests brackets deeper than the limit of 128 (http.max_query_depth)"},
		{"/api/v1/query_range", "query", deep, "deeper than the limit of 128"},
		{"/api/v1/query", "query", ops, "more than the limit of 1000 operators (http.max_query_operators)"},
		{"/api/v1/query", "query", chain, "bytes long"},
		{"/api/v1/query", "query", long, "bytes long"},
		{"/api/v1/format_query", "query", deep, "deeper"},
		{"/api/v1/parse_query", "query", huge, "bytes long"},
		{"/api/v1/series", "match[]", deep, "deeper"},
		{"/api/v1/labels", "match[]", huge, "bytes long"},
		{"/api/v1/rules", "match[]", deep, "deeper"},
	}
	for _, c := range cases {
		form := url.Values{c.param: {c.q}, "start": {"0"}, "end": {"60"}, "step": {"15"}}
		code, body := p.do("POST", c.path, form.Encode(), map[string]string{"Content-Type": "application/x-www-form-urlencoded"})
		if code != http.StatusBadRequest || !strings.Contains(body, `"errorType":"bad_data"`) || !strings.Contains(body, c.want) {
			t.Errorf("POST %s (%d bytes): %d %.300s; want 400 bad_data %q", c.path, len(c.q), code, body, c.want)
		}
	}
	code, body := p.do("GET", "/api/v1/label/__name__/values?match[]="+url.QueryEscape(deep), "", nil)
	if code != http.StatusBadRequest || !strings.Contains(body, "deeper") {
		t.Errorf("GET label values: %d %.300s", code, body)
	}
	// Still answering, good queries still work, and memory stayed small.
	code, body = p.do("GET", "/api/v1/query?query="+url.QueryEscape("sum(vector(1)) + 1"), "", nil)
	if code != 200 || !strings.Contains(body, `"2"`) {
		t.Fatalf("good query after the hostile ones: %d %s", code, body)
	}
	if code, _ := p.do("GET", "/-/healthy", "", nil); code != 200 {
		t.Fatalf("healthy: %d", code)
	}
	if rss := peakRSS(t, p.cmd.Process.Pid); rss > 400<<20 {
		t.Errorf("peak RSS %d MiB after the hostile queries, want under 400 MiB", rss>>20)
	}
}

// zeros is a reader of n bytes of 'x' that holds nothing in memory.
type zeros struct{ n int64 }

func (z *zeros) Read(b []byte) (int, error) {
	if z.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > z.n {
		b = b[:z.n]
	}
	for i := range b {
		b[i] = 'x'
	}
	z.n -= int64(len(b))
	return len(b), nil
}

// Issue 9 item 5: a 100 MB silence comment is refused (declared and
// chunked), so is one over alerting.max_silence_size; nothing is
// persisted and GET /api/v2/silences and /alerts stay small and fast.
func TestBinarySilenceAndBodyLimits(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "am.yml"), []byte("route:\n  receiver: none\nreceivers:\n  - name: none\n"), 0o644))
	p := startHard(t, dir, hardBase+"alerting:\n  config_file: am.yml\n  data_dir: {{DIR}}/alerting\n")

	now := time.Now().UTC()
	head := `{"matchers":[{"name":"job","value":"web","isRegex":false,"isEqual":true}],"startsAt":"` + now.Format(time.RFC3339) +
		`","endsAt":"` + now.Add(time.Hour).Format(time.RFC3339) + `","createdBy":"ops","comment":"`
	tail := `"}`
	const hundredMB = 100 << 20
	json := func(n int64) io.Reader {
		return io.MultiReader(strings.NewReader(head), &zeros{n}, strings.NewReader(tail))
	}
	// Declared length: 413 before anything is read.
	req, _ := http.NewRequest("POST", p.base+"/api/v2/silences", json(hundredMB))
	req.ContentLength = int64(len(head) + hundredMB + len(tail))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err == nil {
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(b), "http.max_request_body_size") {
			t.Errorf("100 MB silence with Content-Length: %d %s, want 413", resp.StatusCode, b)
		}
	} // else: the server closed the connection while we were still sending, which is a refusal too
	// Chunked: cut at the limit.
	code, body := p.do("POST", "/api/v2/silences", json(hundredMB), map[string]string{"Content-Type": "application/json"})
	if code == http.StatusOK {
		t.Errorf("chunked 100 MB silence accepted: %.200s", body)
	}
	// Under the body limit, over the silence size limit (64 KiB).
	code, body = p.do("POST", "/api/v2/silences", head+strings.Repeat("x", 1<<20)+tail, map[string]string{"Content-Type": "application/json"})
	if code != http.StatusBadRequest || !strings.Contains(body, "silence exceeded maximum size") {
		t.Errorf("1 MiB silence: %d %.300s, want 400 silence exceeded maximum size", code, body)
	}
	// A normal one goes through.
	code, body = p.do("POST", "/api/v2/silences", head+"maintenance"+tail, map[string]string{"Content-Type": "application/json"})
	if code != 200 || !strings.Contains(body, "silenceID") {
		t.Fatalf("normal silence: %d %s", code, body)
	}
	// alerting.max_silences follows a reload: lowered to the one stored,
	// the next silence is refused.
	must(t, os.WriteFile(p.cfg, []byte(p.expand(hardBase+"alerting:\n  config_file: am.yml\n  data_dir: {{DIR}}/alerting\n  max_silences: 1\n")), 0o644))
	if code, body := p.do("POST", "/-/reload", "", nil); code != http.StatusOK {
		t.Fatalf("POST /-/reload: %d %s", code, body)
	}
	code, body = p.do("POST", "/api/v2/silences", head+"second"+tail, map[string]string{"Content-Type": "application/json"})
	if code != http.StatusBadRequest || !strings.Contains(body, "exceeded maximum number of silences") {
		t.Errorf("a second silence after max_silences was reloaded to 1: %d %.300s, want 400", code, body)
	}
	// /-/reload and other writes are bounded too.
	req, _ = http.NewRequest("POST", p.base+"/-/reload", &zeros{20 << 20})
	req.ContentLength = 20 << 20
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("POST /-/reload with 20 MiB: %d, want 413", resp.StatusCode)
		}
	}

	for _, path := range []string{"/api/v2/silences", "/alerts"} {
		code, body := p.do("GET", path, "", nil)
		if code != 200 || strings.Contains(body, "xxxxxxxxxxxxxxxx") || !strings.Contains(body, "maintenance") || len(body) > 64<<10 {
			t.Errorf("GET %s: %d, %d bytes; want 200 with the one normal silence", path, code, len(body))
		}
	}
	// Nothing of the refused ones is persisted: the snapshot written at
	// shutdown holds one small silence.
	p.stop(syscall.SIGTERM)
	fi, err := os.Stat(filepath.Join(dir, "alerting", "silences"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() > 4<<10 {
		t.Errorf("silences snapshot is %d bytes, want one small silence", fi.Size())
	}
}

// echoServer answers 500 with everything it was sent, as a misbehaving
// receiver or proxy does; it records what it got.
type echoServer struct {
	mu   sync.Mutex
	hits map[string]int
}

func (e *echoServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	e.mu.Lock()
	e.hits[strings.SplitN(r.URL.Path, "/", 3)[1]]++
	e.mu.Unlock()
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, "echo: %s %s headers=%v body=%q", r.Method, r.URL.String(), r.Header, b)
}

func (e *echoServer) count(prefix string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.hits[prefix]
}

// Issue 9 item 8: with receivers that echo the request back in a 500, no
// Slack webhook path, token, query-string secret or header value appears
// in the log, in `check config --print` or in errors; loki.url with
// userinfo is refused.
func TestBinarySecretsStayOutOfLogs(t *testing.T) {
	echo := &echoServer{hits: map[string]int{}}
	es := httptest.NewServer(echo)
	defer es.Close()
	dir := t.TempDir()
	const (
		slackPath = "/services/T0SECRET/B0SECRET/slackWebhookSecret42"
		hookToken = "webhook-token-7f3e9a"
		rwToken   = "remote-write-token-81c2"
		rwHeader  = "header-secret-5d7e"
		lokiKey   = "loki-api-key-c0ffee"
	)
	secrets := []string{slackPath, "slackWebhookSecret42", "T0SECRET", hookToken, rwToken, rwHeader, lokiKey}
	must(t, os.WriteFile(filepath.Join(dir, "am.yml"), []byte(fmt.Sprintf(`route:
  receiver: echo
  group_wait: 100ms
  group_interval: 1s
  repeat_interval: 1y
receivers:
  - name: echo
    slack_configs:
      - api_url: %s/slack%s
        channel: '#ops'
    webhook_configs:
      - url: %s/hook/alert?token=%s
`, es.URL, slackPath, es.URL, hookToken)), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "rules.yml"), []byte(`groups:
  - name: always
    interval: 1s
    rules:
      - alert: AlwaysFiring
        expr: vector(1)
`), 0o644))
	podDir := filepath.Join(dir, "pods", "ns_app-5c9d8f7b6d-k2j4m_uid-1", "app")
	must(t, os.MkdirAll(podDir, 0o755))
	appendLogFile(t, filepath.Join(podDir, "0.log"), criLine("stdout", "F", "a line for loki"))
	yml := hardBase + fmt.Sprintf(`remote_write:
  - url: %s/rw/api/v1/write?token=%s
    headers:
      X-Scope-Token: %s
    queue: {min_backoff: 100ms, max_backoff: 500ms}
loki:
  url: %s/loki/api/v1/push?api_key=%s
  batch_wait: 100ms
  min_backoff: 100ms
  max_backoff: 500ms
logs:
  paths: [{{DIR}}/pods/*/*/*.log]
  positions_file: {{DIR}}/positions.json
rules:
  files: [rules.yml]
  evaluation_interval: 1s
alerting:
  config_file: am.yml
  data_dir: {{DIR}}/alerting
`, es.URL, rwToken, rwHeader, es.URL, lokiKey)
	p := startHard(t, dir, yml)

	// check config --print of the same file.
	out, errs, code := cli(t, "check", "config", "--print", p.cfg)
	if code != 0 {
		t.Fatalf("check config: %d %s %s", code, out, errs)
	}
	for _, s := range secrets {
		if strings.Contains(out+errs, s) {
			t.Errorf("check config --print shows %q", s)
		}
	}

	statsd, err := net.Dial("udp", p.udp)
	must(t, err)
	defer statsd.Close()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && (echo.count("slack") < 2 || echo.count("hook") < 2 || echo.count("rw") < 2 || echo.count("loki") < 2) {
		_, _ = statsd.Write([]byte("echo.test:1|c"))
		time.Sleep(200 * time.Millisecond)
	}
	for _, k := range []string{"slack", "hook", "rw", "loki"} {
		if echo.count(k) < 2 {
			t.Errorf("the %s receiver got %d requests, want at least 2 (retries)", k, echo.count(k))
		}
	}
	p.stop(syscall.SIGTERM)
	log := p.log()
	for _, s := range secrets {
		if n := strings.Count(log, s); n > 0 {
			i := strings.Index(log, s)
			t.Errorf("%q appears %d times in the log, e.g. %q", s, n, log[max(0, i-200):min(len(log), i+100)])
		}
	}
	// The failures themselves are logged, without the echoed bodies.
	if !strings.Contains(log, "unexpected status code 500 (response body of") {
		t.Errorf("no notifier failure in the log:\n%s", log)
	}

	// loki.url with credentials is refused.
	bad := filepath.Join(dir, "bad.yml")
	must(t, os.WriteFile(bad, []byte("loki:\n  url: http://user:pa55w0rd@loki:3100/loki/api/v1/push\n"), 0o644))
	_, errs, code = cli(t, "check", "config", bad)
	if code == 0 || !strings.Contains(errs, "loki.url: must not contain credentials") || strings.Contains(errs, "pa55w0rd") {
		t.Errorf("loki.url with userinfo: code %d %s", code, errs)
	}
}

// Issue 9 item 10: the web config is loaded at start and on reload only:
// a broken hash written to it does not lock users out, removing the users
// does not open the server until a reload accepts it, and a bad file is
// refused at reload with the old one kept. A Slack template that does not
// parse, a bad mapping file and a bad Alertmanager file are refused by
// check config and by reload with file:line.
func TestBinaryWebConfigAndReloadErrors(t *testing.T) {
	dir := t.TempDir()
	hash, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	must(t, err)
	web := filepath.Join(dir, "web.yml")
	must(t, os.WriteFile(web, []byte("basic_auth_users:\n  ops: "+string(hash)+"\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "mapping.yml"), []byte("mappings: []\n"), 0o644))
	am := filepath.Join(dir, "am.yml")
	goodAM := "route:\n  receiver: slack\nreceivers:\n  - name: slack\n    slack_configs:\n      - api_url: http://127.0.0.1:1/hook\n        text: '{{ .CommonLabels.alertname }}'\n"
	must(t, os.WriteFile(am, []byte(goodAM), 0o644))
	yml := strings.Replace(hardBase, "http:\n  listen: {{HTTP}}\n", "http:\n  listen: {{HTTP}}\n  web_config_file: web.yml\n", 1) +
		"alerting:\n  config_file: am.yml\n  data_dir: {{DIR}}/alerting\n"
	yml = strings.Replace(yml, "  flush_interval: 200ms\n", "  flush_interval: 200ms\n  mapping_file: mapping.yml\n", 1)
	p := startHard(t, dir, yml)
	auth := map[string]string{"user": "ops", "pass": "s3cret"}
	status := func(h map[string]string) int { c, _ := p.do("GET", "/metrics", "", h); return c }
	reload := func() (int, string) { return p.do("POST", "/-/reload", "", auth) }

	if c := status(nil); c != 401 {
		t.Fatalf("no credentials: %d, want 401", c)
	}
	if c := status(auth); c != 200 {
		t.Fatalf("credentials: %d, want 200", c)
	}
	// A broken hash: nothing changes without a reload; the reload is refused.
	must(t, os.WriteFile(web, []byte("basic_auth_users:\n  ops: $2y$10$broken\n"), 0o600))
	if c := status(auth); c != 200 {
		t.Fatalf("broken hash written, no reload: %d, want 200", c)
	}
	if c, body := reload(); c != 400 || !strings.Contains(body, "http.web_config_file") {
		t.Fatalf("reload with a broken hash: %d %s", c, body)
	}
	if c := status(auth); c != 200 {
		t.Fatalf("after the refused reload: %d, want 200", c)
	}
	// Users removed: still closed until a reload accepts it.
	must(t, os.WriteFile(web, []byte("# no users\n"), 0o600))
	if c := status(nil); c != 401 {
		t.Fatalf("users removed, no reload: %d, want 401", c)
	}
	if c, body := reload(); c != 200 {
		t.Fatalf("reload without users: %d %s", c, body)
	}
	if c := status(nil); c != 200 {
		t.Fatalf("users removed and reloaded: %d, want 200", c)
	}

	// Reload errors name file and line.
	badAM := strings.Replace(goodAM, "'{{ .CommonLabels.alertname }}'", "'{{ .CommonLabels.alertname '", 1)
	must(t, os.WriteFile(am, []byte(badAM), 0o644))
	if c, body := reload(); c != 400 || !strings.Contains(body, "am.yml:7: receiver slack slack_configs[0].text: template does not parse") {
		t.Errorf("reload with a broken Slack template: %d %s", c, body)
	}
	_, errs, code := cli(t, "check", "config", p.cfg)
	if code == 0 || !strings.Contains(errs, "am.yml:7: receiver slack slack_configs[0].text: template does not parse") {
		t.Errorf("check config with a broken Slack template: %d %s", code, errs)
	}
	must(t, os.WriteFile(am, []byte("route:\n  receiver: nobody\nreceivers:\n  - name: slack\n"), 0o644))
	if c, body := reload(); c != 400 || !strings.Contains(body, `am.yml:2: undefined receiver "nobody"`) {
		t.Errorf("reload with an undefined receiver: %d %s", c, body)
	}
	must(t, os.WriteFile(am, []byte(goodAM), 0o644))
	must(t, os.WriteFile(filepath.Join(dir, "mapping.yml"), []byte("mappings:\n- match: a.*\n  name: a\n- match: \"b..c\"\n  name: b\n"), 0o644))
	if c, body := reload(); c != 400 || !strings.Contains(body, "mapping.yml:4: mappings[1]") {
		t.Errorf("reload with a bad mapping file: %d %s", c, body)
	}

	// A rejected StatsD line is logged with its example.
	c, err := net.Dial("udp", p.udp)
	must(t, err)
	_, _ = c.Write([]byte("bad line without a type\n"))
	c.Close()
	waitLong(t, "rejection log line", 10*time.Second, func() bool { return strings.Contains(p.log(), "rejected malformed StatsD lines") })
	for _, l := range strings.Split(p.log(), "\n") {
		if strings.Contains(l, "rejected") && strings.Contains(l, "example_") && strings.Contains(l, `="\"\""`) {
			t.Errorf("rejection line with an empty example: %s", l)
		}
	}
}

// Issue 9 item 7: VictoriaLogs is down, reading pauses, the file is
// copytruncated and the application writes more than the old offset
// before reading resumes. Every new line arrives exactly once (before,
// the first ~1 000 of 3 000 were skipped silently), and the event is
// counted.
func TestLogsCopytruncateRegrownWhileServerDown(t *testing.T) {
	v := startVictoriaLogs(t)
	dir := t.TempDir()
	podDir := filepath.Join(dir, "pods", "ns_web-5c9d8f7b6d-k2j4m_uid-7", "web")
	must(t, os.MkdirAll(podDir, 0o755))
	file := filepath.Join(podDir, "0.log")
	port := freeTCPPort(t)
	cfg := strings.Replace(logsAgentConfig(v, dir, ""), `http: {listen: "127.0.0.1:0"}`, fmt.Sprintf(`http: {listen: "127.0.0.1:%d"}`, port), 1)
	a := startLogsAgent(t, dir, cfg)
	lines := func(prefix string, from, to int, pad int) ([]string, []string) {
		var raw, msgs []string
		for i := from; i < to; i++ {
			m := fmt.Sprintf("%s-%06d%s", prefix, i, strings.Repeat(".", pad))
			msgs = append(msgs, m)
			raw = append(raw, criLine("stdout", "F", m))
		}
		return raw, msgs
	}
	raw, before := lines("ct-before", 0, 1000, 0)
	appendLogFile(t, file, raw...)
	v.waitMessages("ct-before", before, 30*time.Second)

	v.stop()
	raw, _ = lines("ct-paused", 0, 6000, 0) // more than max_buffer (64 KiB): reading pauses
	appendLogFile(t, file, raw...)
	// Wait until reading has paused (the pusher's buffer is full): the
	// bytes read stop moving, short of the file's size.
	metric := func(name string) float64 {
		_, body := httpGet(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
		for _, l := range strings.Split(body, "\n") {
			if v, ok := strings.CutPrefix(l, name+" "); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return f
			}
		}
		return -1
	}
	fi, err := os.Stat(file)
	must(t, err)
	last := -1.0
	waitLong(t, "reading paused at loki.max_buffer", 30*time.Second, func() bool {
		time.Sleep(time.Second)
		n := metric("copenhagen_logs_read_bytes_total")
		paused := n == last && n > 0 && n < float64(fi.Size())
		last = n
		return paused
	})
	time.Sleep(500 * time.Millisecond)
	must(t, os.Truncate(file, 0))
	// 3 000 lines of 200 bytes: past the old offset (7 000 lines of 60).
	raw, after := lines("ct-after-the-truncation", 0, 3000, 150)
	appendLogFile(t, file, raw...)
	time.Sleep(time.Second)
	v.start()

	seen, _ := v.waitMessages("ct-after-the-truncation", after, 60*time.Second)
	for _, m := range after {
		if seen[m] != 1 {
			t.Errorf("%s arrived %d times, want once", m, seen[m])
			break
		}
	}
	_, body := httpGet(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
	if !strings.Contains(body, `copenhagen_logs_rotations_total{kind="truncate_regrown"} 1`) {
		t.Errorf("truncate_regrown not counted:\n%s", grepLines(body, "rotations"))
	}
	a.mu.Lock()
	logged := strings.Contains(a.logs.String(), "file truncated and rewritten past the read offset")
	a.mu.Unlock()
	if !logged {
		t.Error("the re-read is not logged")
	}
	a.kill(syscall.SIGTERM)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
