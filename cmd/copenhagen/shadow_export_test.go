package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/copenhagen-obs/copenhagen/alerting/shadow"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb/legacytest"
	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

// compressClock turns a Seyren export's minute windows into seconds
// ("-11minutes" -> "-11s", null -> "-11s"/"-1s"), so that the shared
// export can be shadowed in a test's minute.
func compressClock(t *testing.T, export []byte) []byte {
	t.Helper()
	var page map[string]any
	must(t, json.Unmarshal(export, &page))
	re := regexp.MustCompile(`^-(\d+)minutes?$`)
	for _, v := range page["values"].([]any) {
		c := v.(map[string]any)
		for k, def := range map[string]string{"from": "-11s", "until": "-1s"} {
			s, _ := c[k].(string)
			switch {
			case s == "":
				c[k] = def
			case re.MatchString(s):
				c[k] = re.ReplaceAllString(s, "-${1}s")
			}
		}
	}
	out, err := json.Marshal(page)
	must(t, err)
	return out
}

// exportPhase is one level of the traffic behind the shared export's
// checks, held for a while: below warn, between, beyond error, back.
type exportPhase struct {
	catalog500s  int // per second, over two routes
	p90ms        int // get_program latency
	queue        int
	web5xxPct    int // of 100 requests per second
	userprefs200 int // per second
	backoffice   int // per second
	hitPct       int // of 10 cache lookups per second
	users        int // distinct per second
}

var exportPhases = []exportPhase{
	{1, 100, 100, 0, 80, 5, 90, 150},
	{3, 500, 2000, 3, 30, 5, 70, 50},
	{8, 900, 6000, 10, 5, 0, 30, 10},
	{1, 100, 10, 0, 80, 5, 90, 150},
}

// lines is one second of that traffic, in StatsD lines.
func (p exportPhase) lines(sec int) []string {
	var l []string
	for i := 0; i < p.catalog500s; i++ {
		l = append(l, fmt.Sprintf("catalog.http.%s.500:1|c", []string{"get_program", "list"}[i%2]))
	}
	l = append(l, fmt.Sprintf("catalog.http.get_program.response_time:%d|ms", p.p90ms))
	l = append(l, fmt.Sprintf("thumbnails.worker.queue.resize.size:%d|g", p.queue))
	l = append(l, fmt.Sprintf("web.http.home.500:%d|c", p.web5xxPct), fmt.Sprintf("web.http.home.200:%d|c", 100-p.web5xxPct))
	l = append(l, fmt.Sprintf("userprefs.http.get.200:%d|c", p.userprefs200))
	if p.backoffice > 0 {
		l = append(l, fmt.Sprintf("backoffice.http.get.200:%d|c", p.backoffice))
	}
	l = append(l, fmt.Sprintf("thumbnails.cache.hit:%d|c", p.hitPct/10), fmt.Sprintf("thumbnails.cache.miss:%d|c", 10-p.hitPct/10))
	for i := 0; i < p.users; i++ {
		l = append(l, fmt.Sprintf("player.users.unique:u%d-%d|s", sec, i))
	}
	return l
}

// TestShadowSharedExport measures the agreement of the shared Seyren
// export's checks (translate/seyren/testdata/checks.json, a copy of the
// shared fixture), imported as `copenhagen import seyren` does and fed
// the same StatsD traffic on both sides (Copenhagen and, through its
// relay, the legacy stack), on a compressed clock: 1 s flushes, windows
// in seconds, 2 s evaluations. It logs the totals by reason (the figures
// in README "Switchover shadow") and asserts the accounting: every
// shadowed evaluation is counted once, the exactly translated gauge check
// has no unexplained disagreement, and untranslated checks are never
// counted as agreeing.
func TestShadowSharedExport(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of real traffic through the legacy stack")
	}
	legacy := legacytest.Start(t)
	dir := t.TempDir()
	export, err := os.ReadFile("../../translate/seyren/testdata/checks.json")
	must(t, err)
	export = compressClock(t, export)
	const interval = 2 * time.Second
	tr, _ := compressedTranslator(t, mappingFile(t))
	checks, err := seyren.ParseChecks(export)
	must(t, err)
	out, imported := importCompressed(t, dir, checks, seyren.Options{Translator: tr, EvaluationInterval: interval})
	status := map[string]string{}
	for _, c := range out.Report.Checks {
		status[c.ID] = c.Status
	}

	r := start(t, fmt.Sprintf(`statsd:
  mapping_file: %s
  flush_interval: 1s
  relay: [%q]
rules:
  files: [%q]
shadow:
  graphite_url: %s
  checks_file: %s
  timeout: 2s
  min_evaluations: 10
  settle_delay: 5s
  dir: %s
`, mappingFile(t), legacy.StatsdAddr, filepath.Join(imported, "rules", "*.yml"), legacy.GraphiteURL,
		filepath.Join(imported, seyren.ShadowChecksFile), filepath.Join(dir, "shadow")))

	sec := 0
	for _, ph := range exportPhases {
		for i := 0; i < 12; i++ {
			sendUDP(t, r.udpAddr(), strings.Join(ph.lines(sec), "\n"))
			sec++
			time.Sleep(time.Second)
		}
	}

	// The settled passes of the last disagreements (5 s after each).
	time.Sleep(6 * time.Second)
	code, body := httpGet(r.url("/api/v1/shadow"))
	if code != 200 {
		t.Fatalf("/api/v1/shadow: %d %s", code, body)
	}
	var rep shadow.Report
	must(t, json.Unmarshal([]byte(body), &rep))
	tot := rep.Totals()
	var settled shadow.SettleStats
	reclassed := map[string]int{}
	for _, c := range rep.Checks {
		settled.Pending += c.Settle.Pending
		settled.Timing += c.Settle.Timing
		settled.Persisted += c.Settle.Persisted
		settled.NotComparable += c.Settle.NotComparable
		settled.Dropped += c.Settle.Dropped
		for k, n := range c.Settle.Reclassed {
			reclassed[k] += n
		}
	}
	t.Logf("settled passes: timing %d, persisted %d, not comparable %d, dropped %d, pending %d; reclassed %v",
		settled.Timing, settled.Persisted, settled.NotComparable, settled.Dropped, settled.Pending, reclassed)
	if settled.Timing+settled.Persisted+settled.NotComparable+settled.Dropped+settled.Pending != tot.Disagree {
		t.Errorf("every disagreement is settled, dropped or pending once: %+v for %d disagreements", settled, tot.Disagree)
	}
	t.Logf("shared export: %d checks, %d evaluations: agree %d, disagree %d, not comparable %d; disagreements by reason %v; not comparable by reason %v",
		tot.Checks, tot.Evaluations, tot.Agree, tot.Disagree, tot.NotComparable, tot.Reasons, tot.NCReasons)
	t.Logf("\n%s", rep.Markdown())
	// The evidence of each unexplained disagreement, so that a figure
	// that moves can be read without rerunning.
	for _, c := range rep.Checks {
		if c.Reasons[shadow.ReasonUnexplained] == 0 {
			continue
		}
		evs, err := shadow.ReadEvidence(filepath.Join(dir, "shadow"), c.CheckID)
		must(t, err)
		for _, ev := range evs {
			if ev.Reason == shadow.ReasonUnexplained {
				t.Logf("unexplained %s at %s: graphite %s %+v, promql %s %+v (provisional %q)",
					c.CheckID, ev.At.Format(time.TimeOnly), ev.Graphite, ev.GraphiteValues, ev.PromQL, ev.PromQLValues, ev.ProvisionalReason)
			}
		}
	}
	if tot.Checks != len(checks) {
		t.Errorf("report has %d checks, the export %d", tot.Checks, len(checks))
	}
	for _, c := range rep.Checks {
		if c.Agree+c.Disagree+c.NotComparable != c.Evaluations {
			t.Errorf("%s: %d+%d+%d != %d evaluations", c.CheckID, c.Agree, c.Disagree, c.NotComparable, c.Evaluations)
		}
		sumR := 0
		for _, n := range c.Reasons {
			sumR += n
		}
		if sumR != c.Disagree {
			t.Errorf("%s: reasons %v do not add up to %d disagreements", c.CheckID, c.Reasons, c.Disagree)
		}
		if st := status[c.CheckID]; (st == seyren.StatusUntranslated || st == seyren.StatusDisabled) && c.Evaluations != 0 {
			t.Errorf("%s (%s) evaluated %d times: it has no rule group", c.CheckID, st, c.Evaluations)
		}
	}
	for _, c := range rep.Checks {
		if c.CheckID == "5a1f00000000000000000003" { // the queue gauge, translated exactly
			if c.Agree == 0 || c.Reasons[shadow.ReasonUnexplained] != 0 || c.Episodes == 0 {
				t.Errorf("thumbnails backlog: %+v", c)
			}
		}
	}
}
