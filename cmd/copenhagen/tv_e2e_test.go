package main

import (
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/copenhagen-obs/copenhagen/dashboards/tv/tvbrowser"
)

// stoppedLog stops the binary and returns its log: the buffer is written
// by os/exec's copying goroutine until the process has exited.
func stoppedLog(p *proc) string {
	if p.cmd.ProcessState == nil {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	}
	return p.stderr.String()
}

// -tv-screenshots DIR keeps the screenshots of TestTVPageInChromium.
var tvShots = flag.String("tv-screenshots", "", "directory for the TV page screenshots")

// TestTVPageInChromium drives the real binary with the imported example
// rules (evaluated every second) behind basic auth, and Debian's chromium
// on /tv?team=thumbnails at 1920x1080 and 3840x2160: the board fits the
// screen, shows a tile per imported check of the team, and the backlog
// check's tile turns amber then red as StatsD gauges cross its imported
// warn and error thresholds, and green again.
func TestTVPageInChromium(t *testing.T) {
	br := tvbrowser.Start(t)
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	must(t, os.Mkdir(rulesDir, 0o755))
	rules := fastSeyrenRules(t, rulesDir)
	hash, err := bcrypt.GenerateFromPassword([]byte("wall-secret"), bcrypt.MinCost)
	must(t, err)
	web := filepath.Join(dir, "web.yml")
	must(t, os.WriteFile(web, []byte("basic_auth_users:\n  tv: "+string(hash)+"\n"), 0o600))
	httpPort, udpPort := freePort(t), freePort(t)
	cfg := filepath.Join(dir, "copenhagen.yml")
	must(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`http:
  listen: 127.0.0.1:%d
  web_config_file: %s
graphite: {tcp: "", udp: "", pickle: ""}
statsd:
  udp: 127.0.0.1:%d
  tcp: ""
  mapping_file: %s
  flush_interval: 200ms
storage:
  path: %s
rules:
  files: [%q]
`, httpPort, web, udpPort, mappingFile(t), filepath.Join(dir, "data"), rules)), 0o644))
	p := startBinary(t, "run", "--config", cfg)
	base := fmt.Sprintf("http://127.0.0.1:%d", httpPort)
	get := func(path string, auth bool) (int, string) {
		req, _ := http.NewRequest("GET", base+path, nil)
		if auth {
			req.SetBasicAuth("tv", "wall-secret")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		var b strings.Builder
		buf := make([]byte, 32<<10)
		for {
			n, err := resp.Body.Read(buf)
			b.Write(buf[:n])
			if err != nil {
				break
			}
		}
		return resp.StatusCode, b.String()
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, _ := get("/-/ready", true); c == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready after 20s:\n%s", stoppedLog(p))
		}
	}
	for _, path := range []string{"/tv", "/tv/state", "/tv/tv.js"} {
		if c, _ := get(path, false); c != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d, want 401", path, c)
		}
	}
	if c, body := get("/", true); c != 200 || !strings.Contains(body, `href="/tv"`) {
		t.Errorf("the root page does not link /tv: %d", c)
	}

	const backlog = "5a1f00000000000000000003" // thumbnails resize backlog: warn 1000, error 5000
	gauge := func(v int) {
		sendUDP(t, fmt.Sprintf("127.0.0.1:%d", udpPort), fmt.Sprintf("thumbnails.worker.queue.resize.size:%d|g", v))
	}
	gauge(100)
	waitLong(t, "the check evaluated", 20*time.Second, func() bool {
		_, body := get("/tv/state?team=thumbnails", true)
		return strings.Contains(body, `"id":"`+backlog+`","name":"thumbnails resize backlog","team":"thumbnails","kind":"check","state":"ok"`)
	})

	auth := tvbrowser.BasicAuth("tv", "wall-secret")
	shots := *tvShots
	if shots == "" {
		shots = t.TempDir()
	}
	// 4K first: the 1080p pass then drives the alert through its states.
	for _, scr := range []struct{ w, h int }{{3840, 2160}, {1920, 1080}} {
		pg := br.Open(t, base+"/tv?team=thumbnails&refresh=1s", scr.w, scr.h, auth)
		l := pg.Measure(t)
		t.Logf("%dx%d: %s", scr.w, scr.h, l.Summary())
		for _, prob := range l.CheckFits() {
			t.Errorf("%dx%d: %s", scr.w, scr.h, prob)
		}
		tile, ok := l.Tile(backlog)
		if !ok || len(l.Tiles) < 2 {
			t.Fatalf("tiles %+v: want the team's imported checks, the backlog among them", l.Tiles)
		}
		for _, other := range l.Tiles {
			if other.ID != backlog && other.State != "nodata" {
				t.Errorf("tile %s (no traffic) is %s, want nodata", other.ID, other.State)
			}
		}
		if tile.State != "ok" || tile.Value != "100" || tile.ValuePx < 0.08*l.InnerHeight {
			t.Errorf("backlog tile %+v", tile)
		}
		if f := pg.ForeignRequests(base); len(f) > 0 {
			t.Errorf("the page loads from elsewhere: %v", f)
		}
		pg.Screenshot(t, filepath.Join(shots, fmt.Sprintf("binary-thumbnails-%dx%d.png", scr.w, scr.h)))
		if scr.w != 1920 {
			continue
		}
		// The imported rules fire: WARN from 1000, ERROR from 5000.
		gauge(2000)
		l = pg.WaitState(t, backlog, "warning", 15*time.Second)
		if tile, _ := l.Tile(backlog); tile.Value != "2000" || tile.Background != "rgb(242, 169, 0)" {
			t.Errorf("warning tile %+v", tile)
		}
		gauge(6000)
		l = pg.WaitState(t, backlog, "critical", 15*time.Second)
		if tile, _ := l.Tile(backlog); tile.Value != "6000" || tile.Background != "rgb(211, 32, 47)" {
			t.Errorf("critical tile %+v", tile)
		}
		pg.Screenshot(t, filepath.Join(shots, "binary-thumbnails-critical-1920x1080.png"))
		gauge(10)
		pg.WaitState(t, backlog, "ok", 15*time.Second)
	}
	if t.Failed() {
		t.Logf("copenhagen log:\n%s", stoppedLog(p))
	}
}
