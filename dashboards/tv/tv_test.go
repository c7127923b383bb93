package tv_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/copenhagen-obs/copenhagen/alerting/evaluate"
	"github.com/copenhagen-obs/copenhagen/dashboards/tv"
	"github.com/copenhagen-obs/copenhagen/dashboards/tv/tvbrowser"
)

// -tv-screenshots DIR keeps the browser tests' screenshots there (to look
// at them); by default they go to the test's temporary directory.
var screenshots = flag.String("tv-screenshots", "", "directory for the TV page screenshots")

func shotDir(t *testing.T) string {
	if *screenshots != "" {
		if err := os.MkdirAll(*screenshots, 0o755); err != nil {
			t.Fatal(err)
		}
		return *screenshots
	}
	return t.TempDir()
}

// env is Prometheus's rules manager (through alerting/evaluate) over a
// test TSDB, with the TV handler over both, served on a loopback port.
type env struct {
	st  *teststorage.TestStorage
	eng *promql.Engine
	ev  *evaluate.Evaluator
	srv *httptest.Server
	h   *tv.Handler
	reg *prometheus.Registry
}

type evRules struct{ ev *evaluate.Evaluator }

func (e evRules) RuleGroups() []*rules.Group    { return e.ev.Manager().RuleGroups() }
func (e evRules) SelfAlerts() []*notifier.Alert { return e.ev.SelfAlerts() }

func newEnv(t testing.TB, ruleFile string, now func() time.Time) *env {
	t.Helper()
	e := &env{st: teststorage.New(t), reg: prometheus.NewRegistry()}
	e.eng = promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	qf := evaluate.LocalQueryFunc(e.eng, e.st)
	ev, err := evaluate.New(evaluate.Options{
		Interval: 200 * time.Millisecond, QueryFunc: qf, Appendable: e.st, Queryable: e.st,
		NoDataIntervals: 2, Registerer: prometheus.NewRegistry(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := ev.Update([]string{ruleFile}, 0); err != nil {
		t.Fatal(err)
	}
	e.ev = ev
	go ev.Run()
	t.Cleanup(ev.Stop)
	e.h, err = tv.New(tv.Options{Rules: evRules{ev}, Values: tv.QueryFunc(qf), Now: now, Registerer: e.reg})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	e.h.Register(mux)
	e.srv = httptest.NewServer(mux)
	t.Cleanup(e.srv.Close)
	return e
}

func (e *env) set(t testing.TB, check string, v float64) {
	t.Helper()
	app := e.st.Appender(context.Background())
	if _, err := app.Append(0, labels.FromStrings("__name__", "tv_value", "check", check), time.Now().UnixMilli(), v); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

func (e *env) state(t *testing.T, query string) tv.Board {
	t.Helper()
	resp, err := http.Get(e.srv.URL + "/tv/state" + query)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /tv/state%s: %d %s", query, resp.StatusCode, body)
	}
	var b tv.Board
	if err := json.Unmarshal(body, &b); err != nil {
		t.Fatalf("%v in %s", err, body)
	}
	return b
}

func tileOf(b tv.Board, id string) (tv.Tile, bool) {
	for _, t := range b.Tiles {
		if t.ID == id {
			return t, true
		}
	}
	return tv.Tile{}, false
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// fixture feeds the values of testdata/rules.yml's checks.
func fixture(t *testing.T, e *env) {
	for check, v := range map[string]float64{"ok": 5, "warn": 15, "crit": 25, "inv": 5, "stop": 5, "beta": 1, "live": 1, "queue": 500} {
		e.set(t, check, v)
	}
}

// TestBoardStates: each tile's state follows its rules as the rules
// manager evaluates them: thresholds both ways, no value, data stopped
// (the evaluator's CopenhagenCheckNoData), a failing rule, and a rule that
// is not an imported check.
func TestBoardStates(t *testing.T) {
	e := newEnv(t, "testdata/rules.yml", nil)
	fixture(t, e)
	var b tv.Board
	waitFor(t, "the stopped check to go stale", 10*time.Second, func() bool {
		b = e.state(t, "?team=alpha")
		s, _ := tileOf(b, "c-stop")
		c, _ := tileOf(b, "c-crit")
		return s.State == tv.StateStale && c.State == tv.StateCritical
	})
	want := []struct {
		id, state, last, value, thresholds, reason string
	}{
		{"c-ok", "ok", "ok", "5", "warn ≥ 10 · error ≥ 20", ""},
		{"c-warn", "warning", "warning", "15", "warn ≥ 10 · error ≥ 20", ""},
		{"c-crit", "critical", "critical", "25", "warn ≥ 10 · error ≥ 20", ""},
		{"c-inv", "critical", "critical", "5", "warn ≤ 20 · error ≤ 10", ""},
		{"c-none", "nodata", "nodata", "NO DATA", "warn ≥ 10 · error ≥ 20", ""},
		{"c-stop", "stale", "ok", "5", "warn ≥ 10 · error ≥ 20", "data stopped"},
		{"c-live", "ok", "ok", "1", "warn ≥ 10 · error ≥ 20", ""},
		{"rule:custom/QueueTooLong", "warning", "warning", "500", "", ""},
		{"rule:custom/Broken", "stale", "ok", "FAILING", "", "evaluation fails: "},
	}
	for _, w := range want {
		got, ok := tileOf(b, w.id)
		if !ok {
			t.Errorf("no tile %s in %+v", w.id, b.Tiles)
			continue
		}
		if got.State != w.state || got.LastState != w.last || got.ValueText != w.value || got.Thresholds != w.thresholds || !strings.HasPrefix(got.Reason, w.reason) {
			t.Errorf("tile %s: state %s/%s value %q thresholds %q reason %q; want %s/%s %q %q %q...",
				w.id, got.State, got.LastState, got.ValueText, got.Thresholds, got.Reason, w.state, w.last, w.value, w.thresholds, w.reason)
		}
		if got.Team != "alpha" {
			t.Errorf("tile %s: team %q", w.id, got.Team)
		}
	}
	if len(b.Tiles) != len(want) {
		t.Errorf("%d tiles for team alpha, want %d (beta's are not on it)", len(b.Tiles), len(want))
	}
	if c, _ := tileOf(b, "c-crit"); c.Name != "payments 500s" || c.Kind != "check" || c.Since.IsZero() || c.Firing != 1 || c.Series != 1 {
		t.Errorf("critical tile: %+v", c)
	}
	if b.Counts["critical"] != 2 || b.Counts["stale"] != 2 || b.Counts["nodata"] != 1 {
		t.Errorf("counts %v", b.Counts)
	}
	all := e.state(t, "")
	if _, ok := tileOf(all, "c-beta"); !ok || len(all.Tiles) != len(want)+1 || strings.Join(all.Teams, ",") != "alpha,beta" {
		t.Errorf("all teams: %d tiles, teams %v", len(all.Tiles), all.Teams)
	}
	if b.LastEvaluation.IsZero() || time.Since(b.LastEvaluation) > 5*time.Second {
		t.Errorf("last evaluation %v", b.LastEvaluation)
	}

	// The value's crossing turns the tile red, and back.
	e.set(t, "live", 25)
	waitFor(t, "c-live critical", 5*time.Second, func() bool { l, _ := tileOf(e.state(t, "?team=alpha"), "c-live"); return l.State == "critical" })
	e.set(t, "live", 2)
	waitFor(t, "c-live ok", 5*time.Second, func() bool { l, _ := tileOf(e.state(t, "?team=alpha"), "c-live"); return l.State == "ok" })
}

// When the rule groups stop being evaluated, every tile says so.
func TestEvaluationStoppedIsStale(t *testing.T) {
	var shift time.Duration
	e := newEnv(t, "testdata/rules.yml", func() time.Time { return time.Now().Add(shift) })
	fixture(t, e)
	waitFor(t, "evaluations", 5*time.Second, func() bool {
		b := e.state(t, "")
		for _, tile := range b.Tiles {
			if tile.Evaluated.IsZero() {
				return false
			}
		}
		c, _ := tileOf(b, "c-crit")
		return c.State == "critical"
	})
	shift = time.Minute // as if the manager had stopped a minute ago
	b := e.state(t, "")
	for _, tile := range b.Tiles {
		if tile.State != tv.StateStale || !strings.HasPrefix(tile.Reason, "evaluation stopped") {
			t.Errorf("tile %s: %s %q, want stale: evaluation stopped", tile.ID, tile.State, tile.Reason)
		}
	}
	if c, _ := tileOf(b, "c-crit"); c.LastState != "critical" || c.ValueText != "25" {
		t.Errorf("a stale tile keeps its last state and value: %+v", c)
	}
}

// Bad parameters are refused; the page escapes what rules put in it.
func TestParamsAndEscaping(t *testing.T) {
	e := newEnv(t, "testdata/rules.yml", nil)
	for _, q := range []string{"?refresh=0s", "?refresh=forever", "?refresh=1h", "?team=" + strings.Repeat("x", 201)} {
		for _, p := range []string{"/tv", "/tv/state"} {
			resp, err := http.Get(e.srv.URL + p + q)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != 400 {
				t.Errorf("GET %s%s: %d, want 400", p, q[:min(len(q), 20)], resp.StatusCode)
			}
		}
	}
	resp, err := http.Get(e.srv.URL + "/tv?team=<script>alert(1)</script>")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(body), "<script>alert") || !strings.Contains(string(body), "&lt;script&gt;") {
		t.Errorf("team not escaped:\n%s", body)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") || !strings.Contains(csp, "script-src 'self'") {
		t.Errorf("CSP %q", csp)
	}
	resp, err = http.Get(e.srv.URL + "/tv/?team=alpha")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Request.URL.Path != "/tv" || resp.Request.URL.RawQuery != "team=alpha" {
		t.Errorf("/tv/ redirected to %s", resp.Request.URL)
	}
}

func TestFormatValue(t *testing.T) {
	for _, c := range []struct {
		v    float64
		want string
	}{
		{0, "0"}, {5, "5"}, {4.5678, "4.57"}, {78.94, "78.9"}, {123.4, "123"}, {1234.6, "1235"}, {12345, "12.3k"},
		{-12345, "-12.3k"}, {4567890, "4.57M"}, {2.5e9, "2.5G"}, {0.01234, "0.012"}, {0.00012, "0.00012"}, {1e14, "100T"}, {1e15, "1e+15"},
	} {
		if got := tv.FormatValue(c.v); got != c.want {
			t.Errorf("FormatValue(%v) = %q, want %q", c.v, got, c.want)
		}
	}
}

// manyChecks writes n checks in the imported shape, with long names, and
// returns the rule file.
func manyChecks(t testing.TB, n int) string {
	var b strings.Builder
	b.WriteString("groups:\n")
	names := []string{"catalog 500s", "catalog get_program p90 latency of the recommendations backend", "thumbnails resize backlog", "web front error ratio", "db"}
	for i := range n {
		id := fmt.Sprintf("m%03d", i)
		fmt.Fprintf(&b, `  - name: seyren-%[1]s
    interval: 200ms
    rules:
      - record: seyren_check_value
        expr: label_replace(tv_value{check=%[1]q}, "check_id", %[1]q, "", "") or last_over_time(seyren_check_value{check_id=%[1]q}[5s])
        labels: {check_id: %[1]s}
      - alert: SeyrenM%[1]s
        expr: seyren_check_value{check_id=%[1]q} >= 800
        labels: {check: %[2]q, check_id: %[1]s, severity: critical, team: big}
      - alert: SeyrenM%[1]s
        expr: seyren_check_value{check_id=%[1]q} >= 300 < 800
        labels: {check: %[2]q, check_id: %[1]s, severity: warning, team: big}
`, id, fmt.Sprintf("%s %d", names[i%len(names)], i))
	}
	p := filepath.Join(t.TempDir(), "many.yml")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPageFitsTheScreen opens the page in headless chromium at 1080p and
// 4K with 1 to 40 tiles: never a scroll bar, every tile inside the
// screen, no value clipped, and text that grows with the tiles: the value
// of a board of up to 12 tiles is at least 8% of the screen height (about
// 86 px at 1080p, 170 px at 4K), names at least 2.5%.
func TestPageFitsTheScreen(t *testing.T) {
	br := tvbrowser.Start(t)
	dir := shotDir(t)
	for _, n := range []int{1, 5, 12, 40} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { fits(t, br, dir, n) })
	}
}

func fits(t *testing.T, br *tvbrowser.Browser, dir string, n int) {
	{
		e := newEnv(t, manyChecks(t, n), nil)
		for i := range n {
			// Widest realistic values: a thousand-something, "NO DATA", 12.3k.
			switch i % 4 {
			case 0:
				e.set(t, fmt.Sprintf("m%03d", i), 1234.5)
			case 1:
				e.set(t, fmt.Sprintf("m%03d", i), 12345)
			case 2:
				e.set(t, fmt.Sprintf("m%03d", i), 450.25)
			}
		}
		waitFor(t, "tiles evaluated", 20*time.Second, func() bool {
			b := e.state(t, "")
			return len(b.Tiles) == n && b.Counts["critical"] == (n+3)/4+(n+2)/4
		})
		for _, scr := range []struct{ w, h int }{{1920, 1080}, {3840, 2160}} {
			p := br.Open(t, e.srv.URL+"/tv?team=big", scr.w, scr.h, nil)
			l := p.Measure(t)
			t.Logf("%d tiles: %s", n, l.Summary())
			if len(l.Tiles) != n {
				t.Fatalf("%d tiles shown, want %d", len(l.Tiles), n)
			}
			for _, prob := range l.CheckFits() {
				t.Errorf("%d tiles at %dx%d: %s", n, scr.w, scr.h, prob)
			}
			for _, tile := range l.Tiles {
				big := 0.08 // numbers; the words NO DATA may be smaller
				if tile.Value == "NO DATA" {
					big = 0.05
				}
				if n <= 12 && (tile.ValuePx < big*l.InnerHeight || tile.NamePx < 0.025*l.InnerHeight) {
					t.Errorf("%d tiles at %dx%d: tile %s value %vpx name %vpx: too small to read across a room", n, scr.w, scr.h, tile.ID, tile.ValuePx, tile.NamePx)
				}
				if tile.ValuePx < 0.03*l.InnerHeight || tile.NamePx < 12 {
					t.Errorf("%d tiles at %dx%d: tile %s value %vpx name %vpx", n, scr.w, scr.h, tile.ID, tile.ValuePx, tile.NamePx)
				}
			}
			if f := p.ForeignRequests(e.srv.URL); len(f) > 0 {
				t.Errorf("the page loads from elsewhere: %v", f)
			}
			p.Screenshot(t, filepath.Join(dir, fmt.Sprintf("tv-%d-tiles-%dx%d.png", n, scr.w, scr.h)))
		}
	}
}

// TestPageFollowsAlerts: in chromium, the tiles' data-state and colours
// are the rules' states; a tile changes state when its alert fires and
// resolves, and no tile's data-state is rewritten while its state stays
// the same (no flashing on refresh). When the server stops answering,
// the page says so and marks every tile stale.
func TestPageFollowsAlerts(t *testing.T) {
	br := tvbrowser.Start(t)
	e := newEnv(t, "testdata/rules.yml", nil)
	fixture(t, e)
	waitFor(t, "states settled", 10*time.Second, func() bool {
		s, _ := tileOf(e.state(t, "?team=alpha"), "c-stop")
		return s.State == tv.StateStale
	})
	dir := shotDir(t)
	p := br.Open(t, e.srv.URL+"/tv?team=alpha&refresh=1s", 1920, 1080, nil)
	l := p.Measure(t)
	colours := map[string]string{}
	for _, tile := range l.Tiles {
		colours[tile.State] = tile.Background
	}
	for state, rgb := range map[string]string{"ok": "rgb(31, 111, 58)", "warning": "rgb(242, 169, 0)", "critical": "rgb(211, 32, 47)", "nodata": "rgb(74, 79, 87)"} {
		if colours[state] != rgb {
			t.Errorf("%s tiles are %q, want %s", state, colours[state], rgb)
		}
	}
	if s, _ := l.Tile("c-stop"); s.State != "stale" || s.LastState != "ok" || !s.BadgeShown || !strings.Contains(s.Detail, "data stopped") {
		t.Errorf("stale tile: %+v", s)
	}
	if n, _ := l.Tile("c-none"); n.Value != "NO DATA" || n.Background == colours["ok"] {
		t.Errorf("no-data tile: %+v", n)
	}
	if l.Updated == "" {
		t.Error("no time of the last update")
	}
	p.Screenshot(t, filepath.Join(dir, "tv-alpha-1920x1080.png"))

	// Count data-state writes from now on.
	if _, err := tvbrowser.Eval[bool](p, `(() => { window.stateWrites = {};
	  new MutationObserver((ms) => { for (const m of ms) { const id = m.target.getAttribute('data-check-id'); window.stateWrites[id] = (window.stateWrites[id] || 0) + 1; } })
	    .observe(document.getElementById('tiles'), {subtree: true, attributes: true, attributeFilter: ['data-state']}); return true; })()`); err != nil {
		t.Fatal(err)
	}
	before := l.Updated
	e.set(t, "live", 25) // the check's critical alert fires
	l = p.WaitState(t, "c-live", "critical", 10*time.Second)
	if live, _ := l.Tile("c-live"); live.Value != "25" || live.Background != "rgb(211, 32, 47)" || !strings.HasPrefix(live.Detail, "CRITICAL") {
		t.Errorf("fired tile: %+v", live)
	}
	p.Screenshot(t, filepath.Join(dir, "tv-alpha-fired-1920x1080.png"))
	time.Sleep(3 * time.Second) // three more refreshes with no state change
	l = p.Measure(t)
	if l.Updated == before {
		t.Errorf("the time of the last update did not move: %s", l.Updated)
	}
	writes, err := tvbrowser.Eval[map[string]int](p, `window.stateWrites`)
	if err != nil {
		t.Fatal(err)
	}
	if len(writes) != 1 || writes["c-live"] != 1 {
		t.Errorf("data-state writes %v, want one, for c-live", writes)
	}
	e.set(t, "live", 2) // resolved
	p.WaitState(t, "c-live", "ok", 10*time.Second)

	// Copenhagen goes away: the page says so and every tile is stale.
	e.srv.CloseClientConnections()
	e.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "gone", 503) })
	l = p.WaitState(t, "c-ok", "stale", 10*time.Second)
	if l.Connection != "lost" {
		t.Errorf("connection %q, want lost", l.Connection)
	}
	for _, tile := range l.Tiles {
		if tile.State != "stale" || !tile.BadgeShown {
			t.Errorf("tile %s %s after the server stopped answering", tile.ID, tile.State)
		}
	}
	p.Screenshot(t, filepath.Join(dir, "tv-alpha-lost-1920x1080.png"))
}

// BenchmarkState is one /tv/state answer for a board of 200 imported
// checks (the rules manager's groups, one instant query of their values,
// the JSON): what each TV costs per refresh.
func BenchmarkState(b *testing.B) {
	e := newEnv(b, manyChecks(b, 200), nil)
	for i := range 200 {
		e.set(b, fmt.Sprintf("m%03d", i), float64(i*10))
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(e.srv.URL + "/tv/state")
		if err != nil {
			b.Fatal(err)
		}
		var bd tv.Board
		json.NewDecoder(resp.Body).Decode(&bd)
		resp.Body.Close()
		if len(bd.Tiles) == 200 && bd.Counts["nodata"] == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("board not evaluated: %v", bd.Counts)
		}
		time.Sleep(100 * time.Millisecond)
	}
	e.ev.Stop() // measure the page, not rule evaluation running beside it
	req := httptest.NewRequest("GET", "/tv/state", nil)
	mux := http.NewServeMux()
	e.h.Register(mux)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, req)
		if w.Code != 200 {
			b.Fatal(w.Code)
		}
	}
}
