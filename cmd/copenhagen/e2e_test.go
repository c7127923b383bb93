package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	ddstatsd "github.com/DataDog/datadog-go/v5/statsd"
	cactus "github.com/cactus/go-statsd-client/v5/statsd"

	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
)

// running is a Copenhagen started in-process on free ports.
type running struct {
	app    *app
	cancel context.CancelFunc
	done   chan error
	logs   *syncBuffer // everything it logged
}

var topStorage = regexp.MustCompile(`(?m)^storage:[ \t]*\n`)

// withStoragePath sets storage.path in yml, which has none.
func withStoragePath(t *testing.T, yml, path string) string {
	t.Helper()
	if loc := topStorage.FindStringIndex(yml); loc != nil {
		return yml[:loc[1]] + fmt.Sprintf("  path: %q\n", path) + yml[loc[1]:]
	}
	if regexp.MustCompile(`(?m)^storage:`).MatchString(yml) {
		t.Fatalf("write storage.path into this storage section yourself:\n%s", yml)
	}
	return yml + fmt.Sprintf("\nstorage:\n  path: %q\n", path)
}

func (r *running) udpAddr() string { return r.app.statsd.udp.Addr().String() }
func (r *running) tcpAddr() string { return r.app.statsd.tcp.Addr().String() }
func (r *running) url(path string) string {
	return "http://" + r.app.httpAddr() + path
}

// start runs Copenhagen with the given YAML (listeners default to free
// loopback ports) and stops it when the test ends.
func start(t *testing.T, yml string) *running {
	t.Helper()
	dir := t.TempDir()
	if !strings.Contains(yml, "statsd:") {
		yml += "\nstatsd:\n"
	}
	base := "http:\n  listen: 127.0.0.1:0\n"
	yml = base + strings.Replace(yml, "statsd:\n", "statsd:\n  udp: 127.0.0.1:0\n  tcp: 127.0.0.1:0\n", 1)
	if err := os.WriteFile(filepath.Join(dir, "mapping.yml"), []byte("mappings: []\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "copenhagen.yml")
	if err := os.WriteFile(file, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatalf("config:\n%s\n%v", yml, err)
	}
	// What the test did not choose must not touch the machine's well-known
	// ports or the working directory. storage.path goes into the file,
	// not into cfg: a reload reads the file again and must find what runs
	// (no reload compares the Graphite listener addresses).
	def := config.Default()
	if cfg.Storage.Path == def.Storage.Path {
		yml = withStoragePath(t, yml, filepath.Join(dir, "data"))
		if err := os.WriteFile(file, []byte(yml), 0o644); err != nil {
			t.Fatal(err)
		}
		if cfg, err = config.Load(file); err != nil {
			t.Fatalf("config:\n%s\n%v", yml, err)
		}
	}
	for _, l := range []*string{&cfg.Graphite.TCP, &cfg.Graphite.UDP, &cfg.Graphite.Pickle} {
		if *l != "" && (*l == def.Graphite.TCP || *l == def.Graphite.UDP || *l == def.Graphite.Pickle) {
			*l = "127.0.0.1:0"
		}
	}
	logs := &syncBuffer{}
	var logw io.Writer = logs
	if testing.Verbose() {
		logw = io.MultiWriter(logs, os.Stderr)
	}
	a, err := newApp(file, cfg, slog.New(slog.NewTextHandler(logw, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{app: a, cancel: cancel, done: make(chan error, 1), logs: logs}
	go func() { r.done <- a.run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Errorf("shutdown took more than 10s")
		}
	})
	waitFor(t, "ready", func() bool {
		resp, err := http.Get(r.url("/-/ready"))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == 200
	})
	return r
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func scrape(t *testing.T, r *running) string {
	t.Helper()
	resp, err := http.Get(r.url("/metrics"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// value returns the value of one exposed sample, given as it appears
// before the value (name{labels}), or NaN-like -1 when absent.
func value(page, series string) (float64, bool) {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(series) + ` (\S+)$`)
	m := re.FindStringSubmatch(page)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// expectSeries waits until every series has the wanted value.
func expectSeries(t *testing.T, r *running, want map[string]float64) {
	t.Helper()
	var page string
	deadline := time.Now().Add(10 * time.Second)
	for {
		page = scrape(t, r)
		missing := []string{}
		for s, v := range want {
			got, ok := value(page, s)
			if !ok || got != v {
				missing = append(missing, fmt.Sprintf("%s = %v (present %v), want %v", s, got, ok, v))
			}
		}
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("series not as expected:\n  %s\npage:\n%s", strings.Join(missing, "\n  "), page)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sendUDP(t *testing.T, addr string, datagrams ...string) {
	t.Helper()
	c, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, d := range datagrams {
		if _, err := c.Write([]byte(d)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestDatadogGoClient(t *testing.T) {
	r := start(t, "statsd:\n  mapping_file: mapping.yml\n")
	writeMapping(t, r, `defaults:
  observer_type: histogram
mappings:
- match: "shop.checkout.duration"
  name: "shop_checkout_duration_seconds"
`)
	c, err := ddstatsd.New(r.udpAddr(), ddstatsd.WithoutTelemetry(), ddstatsd.WithNamespace("shop."),
		ddstatsd.WithTags([]string{"env:test"}), ddstatsd.WithoutClientSideAggregation())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < 3; i++ {
		must(t, c.Count("orders", 2, []string{"country:dk"}, 1))
	}
	must(t, c.Incr("orders", []string{"country:se"}, 1))
	must(t, c.Gauge("queue.depth", 42, nil, 1))
	must(t, c.Timing("checkout.duration", 250*time.Millisecond, nil, 1))
	must(t, c.Histogram("basket.items", 3, nil, 1))
	must(t, c.Distribution("payload.bytes", 512, nil, 1))
	must(t, c.Set("visitors", "alice", nil, 1))
	must(t, c.Set("visitors", "bob", nil, 1))
	must(t, c.Set("visitors", "alice", nil, 1))
	must(t, c.SimpleEvent("deploy", "v1.2.3 rolled out"))
	must(t, c.SimpleServiceCheck("shop.up", ddstatsd.Ok))
	must(t, c.Flush())

	expectSeries(t, r, map[string]float64{
		`shop_orders{country="dk",env="test"}`:                         6,
		`shop_orders{country="se",env="test"}`:                         1,
		`shop_queue_depth{env="test"}`:                                 42,
		`shop_checkout_duration_seconds_sum{env="test"}`:               0.25,
		`shop_checkout_duration_seconds_bucket{env="test",le="0.25"}`:  1,
		`shop_checkout_duration_seconds_bucket{env="test",le="0.1"}`:   0,
		`shop_basket_items_count{env="test"}`:                          1,
		`shop_payload_bytes_sum{env="test"}`:                           512,
		`copenhagen_statsd_lines_received_total{type="event"}`:         1,
		`copenhagen_statsd_lines_received_total{type="service_check"}`: 1,
	})
	r.app.statsd.store.Flush(time.Now()) // close the set window
	expectSeries(t, r, map[string]float64{`shop_visitors{env="test"}`: 2})
}

func TestCactusClient(t *testing.T) {
	r := start(t, "")
	for _, tf := range []struct {
		name   string
		format cactus.TagFormat
	}{{"dog", cactus.SuffixOctothorpe}, {"influx", cactus.InfixComma}} {
		c, err := cactus.NewClientWithConfig(&cactus.ClientConfig{
			Address: r.udpAddr(), Prefix: "legacy." + tf.name, TagFormat: tf.format,
			UseBuffered: true, FlushInterval: 10 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		tag := cactus.Tag{"host", "vm1"}
		must(t, c.Inc("jobs", 5, 1, tag))
		must(t, c.Dec("jobs", 1, 1, tag))
		must(t, c.Gauge("temp", 20, 1))
		must(t, c.GaugeDelta("temp", -3, 1))
		must(t, c.GaugeDelta("temp", 1, 1))
		must(t, c.Timing("render", 1500, 1))
		must(t, c.SetInt("ids", 7, 1))
		must(t, c.Close())
		p := "legacy_" + tf.name + "_"
		// Dec sends a negative counter increment: Prometheus counters only
		// go up, so it is refused and counted, as statsd_exporter does.
		expectSeries(t, r, map[string]float64{
			p + `jobs{host="vm1"}`: 5,
			p + `temp`:             18,
			p + `render_sum`:       1.5,
			p + `render_count`:     1,
		})
	}
	expectSeries(t, r, map[string]float64{`copenhagen_series_rejected_total{reason="negative_counter",source="statsd"}`: 2})
}

// TestPythonStatsdClient talks to Copenhagen with Debian's python3-statsd,
// over UDP and TCP, as the PHP/Python apps of the migration do.
func TestPythonStatsdClient(t *testing.T) {
	py := "/usr/bin/python3"
	storagetest.Need(t, "python3-statsd", "bash .ci/install-deps", exec.Command(py, "-c", "import statsd").Run())
	r := start(t, "")
	uh, up, _ := net.SplitHostPort(r.udpAddr())
	th, tp, _ := net.SplitHostPort(r.tcpAddr())
	script := fmt.Sprintf(`
import statsd
u = statsd.StatsClient(%q, %s, prefix="py")
u.incr("hits", 3)
u.incr("hits")
u.gauge("load", 7)
u.gauge("load", 2, delta=True)
u.timing("q", 320)
u.set("users", "x")
with u.pipeline() as p:
    p.incr("piped", 2)
    p.incr("piped", 5)
t = statsd.TCPStatsClient(%q, %s, prefix="pytcp")
t.incr("hits", 11)
t.timing("q", 40)
t.close()
`, uh, up, th, tp)
	out, err := exec.Command(py, "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	expectSeries(t, r, map[string]float64{
		"py_hits":       4,
		"py_load":       9,
		"py_q_sum":      0.32,
		"py_piped":      7,
		"pytcp_hits":    11,
		"pytcp_q_count": 1,
		`copenhagen_statsd_lines_received_total{type="s"}`: 1,
	})
}

func TestBadLinesDoNotCostGoodOnes(t *testing.T) {
	r := start(t, "")
	sendUDP(t, r.udpAddr(),
		"good.one:1|c\nbroken\ngood.two:2|c\n:1|c\nbad.value:NaN|g\nbad.type:1|x\ngood.three:3|g\n\xff\xfe:1|c\ngood.four:4|ms",
	)
	expectSeries(t, r, map[string]float64{
		"good_one":        1,
		"good_two":        2,
		"good_three":      3,
		"good_four_count": 1,
		`copenhagen_statsd_lines_rejected_total{reason="missing_value"}`: 1,
		`copenhagen_statsd_lines_rejected_total{reason="empty_name"}`:    1,
		`copenhagen_statsd_lines_rejected_total{reason="bad_value"}`:     1,
		`copenhagen_statsd_lines_rejected_total{reason="unknown_type"}`:  1,
		`copenhagen_statsd_lines_rejected_total{reason="invalid_utf8"}`:  1,
	})
}

func TestTCPAndUnixgram(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "statsd.sock")
	r := start(t, "statsd:\n  unixgram: "+sock+"\n")
	c, err := net.Dial("tcp", r.tcpAddr())
	if err != nil {
		t.Fatal(err)
	}
	// One line split across writes, then two in one write.
	for _, part := range []string{"tcp.hi", "ts:2|c\ntcp.more:1|c\n", "tcp.last:5|g\n"} {
		if _, err := c.Write([]byte(part)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.Close()
	u, err := net.Dial("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := u.Write([]byte("unix.hits:9|c")); err != nil {
		t.Fatal(err)
	}
	u.Close()
	expectSeries(t, r, map[string]float64{"tcp_hits": 2, "tcp_more": 1, "tcp_last": 5, "unix_hits": 9})
}

func TestRelayForwardsEveryLineUnchanged(t *testing.T) {
	legacy, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer legacy.Close()
	r := start(t, "statsd:\n  relay: ["+legacy.LocalAddr().String()+"]\n")
	sent := "app.a:1|c\napp.b:2|ms|@0.5\nnot a valid line\napp.c:3|g|#k:v"
	sendUDP(t, r.udpAddr(), sent)
	got := ""
	buf := make([]byte, 65535)
	_ = legacy.SetReadDeadline(time.Now().Add(5 * time.Second))
	for strings.Count(got, "\n") < 3 {
		n, _, err := legacy.ReadFrom(buf)
		if err != nil {
			t.Fatalf("legacy daemon got %q, then %v", got, err)
		}
		got += strings.TrimSuffix(string(buf[:n]), "\n") + "\n"
	}
	if got != sent+"\n" {
		t.Fatalf("relayed %q, want %q", got, sent+"\n")
	}
	expectSeries(t, r, map[string]float64{`copenhagen_relay_lines_sent_total{target="` + legacy.LocalAddr().String() + `"}`: 4})
}

func TestMaxSeriesFromConfig(t *testing.T) {
	r := start(t, "statsd:\n  max_series: 3\n")
	sendUDP(t, r.udpAddr(), "s1:1|c\ns2:1|c\ns3:1|c\ns4:1|c\ns5:1|c\ns1:1|c")
	expectSeries(t, r, map[string]float64{
		"s1": 2, "s2": 1, "s3": 1,
		`copenhagen_series_rejected_total{reason="series_limit",source="statsd"}`: 2,
		`copenhagen_series_active{source="statsd"}`:                               3,
	})
}

func writeMapping(t *testing.T, r *running, yml string) {
	t.Helper()
	path := filepath.Join(filepath.Dir(r.app.configFile), "mapping.yml")
	if err := os.WriteFile(path, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	resp, err := http.Post(r.url("/-/reload"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("reload: %d %s", resp.StatusCode, body)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
