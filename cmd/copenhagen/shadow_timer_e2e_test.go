package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/model"

	"github.com/copenhagen-obs/copenhagen/alerting/shadow"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb/legacytest"
	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

// `import seyren` says per timer check how far off the timer's layout can
// make histogram_quantile, from the layout ingestion stores: the width of
// the classic bucket around each threshold, or the native histogram's
// relative bound. (It used to read statsd_exporter's filled-in factor of
// 1.1 as a native histogram on every classic mapping.)
func TestImportSeyrenTimerNotes(t *testing.T) {
	for _, tc := range []struct{ mapping, want, not string }{
		{"testdata/timer_classic.yml", "warn 35 ms lies in bucket (10 ms, 100 ms]: off by up to 90 ms", "native histogram (bucket"},
		{"testdata/timer_native.yml", "from a native histogram (bucket factor 1.1, schema 3): histogram_quantile is within 9.1% of the true value at any value: warn 35 ms off by up to 3.168 ms", "lies in bucket"},
	} {
		dir := t.TempDir()
		out, errs, code := cli(t, "import", "seyren", "--from", "testdata/timer_checks.json", "--out", dir, "--statsd-mapping", tc.mapping)
		if code != 0 {
			t.Fatalf("%s: code %d\n%s%s", tc.mapping, code, out, errs)
		}
		rep := readSeyrenReport(t, dir)
		if len(rep.Checks) != 1 {
			t.Fatalf("%s: %d checks", tc.mapping, len(rep.Checks))
		}
		notes := strings.Join(rep.Checks[0].Notes, "\n")
		if !strings.Contains(notes, tc.want) || strings.Contains(notes, tc.not) {
			t.Errorf("%s: notes\n%s\nwant %q, not %q", tc.mapping, notes, tc.want, tc.not)
		}
	}
}

// shadowTimerRun is one Copenhagen with the timer check imported under
// one mapping file, shadowed against the shared legacy stack.
type shadowTimerRun struct {
	mapping string
	r       *running
	dir     string
}

// TestShadowTimerNativeVsClassic is the case end to end: a p90 of
// 30 ms (every request 30 ms) with thresholds warn 35 ms, error 100 ms.
// The same StatsD traffic goes to two Copenhagens, one per mapping file;
// the classic one relays it to a real etsy statsd 0.9.0 -> carbon-cache ->
// graphite-web 1.1.8, which both shadows read as Seyren would. Seyren sees
// upper_90 = 30 ms, OK. With classic buckets 10 ms/100 ms/1 s the imported
// rule computes 91 ms and WARNs: the shadow reports the disagreement,
// classed as histogram_bucket (percentile interpolation). With
// native_histogram_bucket_factor: 1.1 the rule computes 30.98 ms and the
// shadow reports agreement.
func TestShadowTimerNativeVsClassic(t *testing.T) {
	if testing.Short() {
		t.Skip("half a minute of real traffic through the legacy stack")
	}
	legacy := legacytest.Start(t)
	data, err := os.ReadFile("testdata/timer_checks.json")
	must(t, err)
	checks, err := seyren.ParseChecks(data)
	must(t, err)

	const interval = 3 * time.Second
	runs := []*shadowTimerRun{{mapping: "testdata/timer_classic.yml"}, {mapping: "testdata/timer_native.yml"}}
	for i, run := range runs {
		run.dir = t.TempDir()
		// The import as `copenhagen import seyren` runs it, on a 3 s clock.
		tr, sm := compressedTranslator(t, run.mapping)
		out, imported := importCompressed(t, run.dir, checks, seyren.Options{Translator: tr, EvaluationInterval: interval, TimerHistograms: seyren.TimerHistograms(sm)})
		t.Logf("%s: value %s\nnotes: %s", run.mapping, out.Report.Checks[0].ValueExpr, strings.Join(out.Report.Checks[0].Notes, "; "))
		// Only the classic one relays: Graphite gets the traffic once.
		relay := ""
		if i == 0 {
			relay = fmt.Sprintf("  relay: [%q]\n", legacy.StatsdAddr)
		}
		abs, err := filepath.Abs(run.mapping)
		must(t, err)
		run.r = start(t, fmt.Sprintf(`storage:
  path: %s
statsd:
  mapping_file: %s
  flush_interval: 200ms
%srules:
  files: [%q]
shadow:
  graphite_url: %s
  checks_file: %s
  timeout: 2s
  min_evaluations: 5
  min_episodes: 1
  timer_buckets: [0.01, 0.1, 1]
  dir: %s
`, filepath.Join(run.dir, "data"), abs, relay, filepath.Join(imported, "rules", "*.yml"), legacy.GraphiteURL,
			filepath.Join(imported, seyren.ShadowChecksFile), filepath.Join(run.dir, "shadow")))
	}

	// Every 200 ms, ten requests of 30 ms to both Copenhagens, for 30 s:
	// statsd's upper_90 of each flush is 30.
	lines := strings.TrimSuffix(strings.Repeat("shadowtest.lat:30|ms\n", 10), "\n")
	for end := time.Now().Add(30 * time.Second); time.Now().Before(end); {
		var wg sync.WaitGroup
		for _, run := range runs {
			wg.Go(func() { sendUDP(t, run.r.udpAddr(), lines) })
		}
		wg.Wait()
		time.Sleep(200 * time.Millisecond)
	}
	if v := legacy.WaitValue("stats.timers.shadowtest.lat.upper_90", "-20s", 10*time.Second, func(v float64) bool { return v == 30 }); v != 30 {
		t.Fatalf("graphite-web upper_90 = %v, want 30 (etsy statsd's nearest rank)", v)
	}

	stats := map[string]shadow.CheckStats{}
	values := map[string]float64{}
	for _, run := range runs {
		code, body := httpGet(run.r.url("/api/v1/shadow"))
		if code != 200 {
			t.Fatalf("%s: /api/v1/shadow: %d %s", run.mapping, code, body)
		}
		var rep shadow.Report
		must(t, json.Unmarshal([]byte(body), &rep))
		if len(rep.Checks) != 1 {
			t.Fatalf("%s: %d checks in the shadow", run.mapping, len(rep.Checks))
		}
		stats[run.mapping] = rep.Checks[0]
		res, _, _, err := promClient(t, run.r.url("")).Query(context.Background(), `seyren_check_value{check_id="lat"}`, time.Now())
		must(t, err)
		if vec, ok := res.(model.Vector); ok && len(vec) == 1 {
			values[run.mapping] = float64(vec[0].Value)
		} else {
			t.Errorf("%s: seyren_check_value = %v", run.mapping, res)
		}
		c := rep.Checks[0]
		t.Logf("FIGURE %s: value %.2f ms; evaluations %d agree %d disagree %d not comparable %d; reasons %v; not comparable %v; last %+v; verdict %s",
			run.mapping, values[run.mapping], c.Evaluations, c.Agree, c.Disagree, c.NotComparable, c.Reasons, c.NotComparableReasons, c.Last, c.Verdict)
	}

	classic, native := stats["testdata/timer_classic.yml"], stats["testdata/timer_native.yml"]
	// Classic buckets: 10 + 90·0.9 = 91 ms, WARN where Seyren says OK,
	// explained as interpolation within the (10 ms, 100 ms] bucket.
	if v := values["testdata/timer_classic.yml"]; math.Abs(v-91) > 0.5 {
		t.Errorf("classic: seyren_check_value %v, want 91 (interpolated in (10 ms, 100 ms])", v)
	}
	if classic.Last.Graphite != shadow.OK || classic.Last.PromQL != shadow.Warn {
		t.Errorf("classic: last %+v, want Graphite OK (30 ms) and PromQL WARN (91 ms)", classic.Last)
	}
	if classic.Reasons[shadow.ReasonHistogramBucket] < 5 || classic.Reasons[shadow.ReasonUnexplained] != 0 || classic.Agree > 1 {
		t.Errorf("classic: agree %d, reasons %v; want every steady evaluation disagreeing as %s, none unexplained",
			classic.Agree, classic.Reasons, shadow.ReasonHistogramBucket)
	}
	// Native histogram: within 9.1% of 30 ms, OK on both sides.
	if v := values["testdata/timer_native.yml"]; !(v >= 30 && v <= 30*1.0905) {
		t.Errorf("native: seyren_check_value %v, want within 9.1%% of 30", v)
	}
	if native.Last.Graphite != shadow.OK || native.Last.PromQL != shadow.OK {
		t.Errorf("native: last %+v, want OK on both sides", native.Last)
	}
	if native.Agree < 5 || native.Disagree != 0 {
		t.Errorf("native: agree %d disagree %d (reasons %v, evidence %s); want every comparable evaluation agreeing",
			native.Agree, native.Disagree, native.Reasons, evidence(t, filepath.Join(runs[1].dir, "shadow"), "lat"))
	}
}

// The rules imported over native timers must load in the Prometheus the
// tests run (2.42): promtool checks them and runs their unit tests. That is
// why the mean is histogram_sum / histogram_count and not histogram_avg,
// which promtool 2.42 refuses as an unknown function.
func TestImportSeyrenNativeTimerRulesPromtool(t *testing.T) {
	tools := seyrenTools(t)
	dir := t.TempDir()
	out, errs, code := cli(t, "import", "seyren", "--from", "testdata/timer_stats_checks.json", "--out", dir, "--statsd-mapping", "testdata/timer_native.yml")
	if code != 0 {
		t.Fatalf("code %d\n%s%s", code, out, errs)
	}
	rep := readSeyrenReport(t, dir)
	for _, c := range rep.Checks {
		if !strings.Contains(c.ValueExpr, "histogram_") || strings.Contains(c.ValueExpr, "_bucket") || strings.Contains(c.ValueExpr, "_count{") {
			t.Errorf("check %s: value %s, want the native histogram's functions", c.ID, c.ValueExpr)
		}
	}
	if err := tools.CheckDir(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
}
