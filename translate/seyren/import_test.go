package seyren

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteql"
)

// fakeTranslator stands in for translate/graphiteql in this package's
// tests: known targets get the given result, others are untranslated.
type fakeTranslator map[string]graphiteql.Result

func (f fakeTranslator) Translate(target string, _ Window) graphiteql.Result {
	if r, ok := f[target]; ok {
		r.Target = target
		return r
	}
	return graphiteql.Result{Target: target, Status: graphiteql.Untranslated, Reason: "fake: unknown target"}
}

func ok(promql string) graphiteql.Result {
	return graphiteql.Result{PromQL: promql, Status: graphiteql.Translated}
}

var fixtureTranslations = fakeTranslator{
	"sumSeries(stats.catalog.http.*.500)":                          ok(`sum(rate(http_requests_total{app="catalog",code="500"}[1m]))`),
	"stats.timers.catalog.http.get_program.response_time.upper_90": ok(`1000 * histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket{app="catalog",route="get_program"}[1m])))`),
	"stats.gauges.thumbnails.worker.queue.resize.size":             ok(`worker_queue_messages{app="thumbnails",queue="resize"}`),
	"sumSeries(stats.userprefs.http.*.200)":                        ok(`sum(rate(http_requests_total{app="userprefs",code="200"}[1m]))`),
	"sumSeries(stats_counts.backoffice.http.*.*)":                  ok(`sum(increase(http_requests_total{app="backoffice"}[1m])) / 6`),
	"maxSeries(servers.front*.load.load.midterm)":                  ok(`max(node_load{host=~"front.*",period="midterm"})`),
	"movingAverage(stats.timers.catalog.http.*.response_time.mean, '5min')": {
		PromQL: `avg_over_time((1000 * rate(http_request_duration_seconds_sum{app="catalog"}[1m]) / rate(http_request_duration_seconds_count{app="catalog"}[1m]))[5m:1m])`,
		Status: graphiteql.Partial, Notes: []string{"mean over the flush interval approximated by rate(sum)/rate(count)"},
	},
	"scale(nonNegativeDerivative(servers.db01.disk.sda.disk_octets.write), 0.000001)": ok(`rate(node_disk_bytes_total{host="db01",device="sda",direction="write"}[1m]) * 0.000001`),
	"holtWintersAberration(stats.catalog.http.get_program.200)":                       {Status: graphiteql.Untranslated, Reason: "holtWintersAberration has no PromQL equivalent"},
}

func loadFixture(t *testing.T) []Check {
	t.Helper()
	data, err := os.ReadFile("testdata/checks.json")
	if err != nil {
		t.Fatal(err)
	}
	checks, err := ParseChecks(data)
	if err != nil {
		t.Fatal(err)
	}
	return checks
}

func fixtureOptions() Options {
	return Options{
		Translator: fixtureTranslations, Source: "testdata/checks.json",
		SeyrenURL: "https://seyren.example.org", SecretsDir: "/etc/alertmanager/secrets",
	}
}

func TestImportFixture(t *testing.T) {
	out, err := Import(loadFixture(t), fixtureOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Validate(); err != nil {
		t.Fatal(err)
	}
	byID := map[string]*CheckReport{}
	for _, c := range out.Report.Checks {
		byID[c.ID] = c
	}
	if len(byID) != 12 {
		t.Fatalf("report has %d checks, want the 12 of the export", len(byID))
	}
	for id, want := range map[string]string{
		"5a1f00000000000000000001": StatusTranslated,
		"5a1f00000000000000000007": StatusPartial,
		"5a1f00000000000000000010": StatusUntranslated,
		"5a1f00000000000000000012": StatusDisabled,
	} {
		if got := byID[id].Status; got != want {
			t.Errorf("check %s: status %q, want %q (reason %q)", id, got, want, byID[id].Reason)
		}
	}
	if r := byID["5a1f00000000000000000010"].Reason; !strings.Contains(r, "holtWinters") {
		t.Errorf("untranslated check reason %q does not give the translator's reason", r)
	}
	// Disabled check: rules carried over where rules/*.yml does not load them.
	if f := byID["5a1f00000000000000000012"].RuleFile; !strings.HasPrefix(f, "rules/disabled/") {
		t.Errorf("disabled check rule file %q, want under rules/disabled/", f)
	}
	// Window and thresholds: default window -11min..-1min on a bare selector.
	c3 := byID["5a1f00000000000000000003"]
	if want := `label_replace(last_over_time(worker_queue_messages{app="thumbnails",queue="resize"}[10m] offset 1m), "check_id", "5a1f00000000000000000003", "", "") or last_over_time(seyren_check_value{check_id="5a1f00000000000000000003"}[2m])`; c3.ValueExpr != want {
		t.Errorf("value expr %q, want %q", c3.ValueExpr, want)
	}
	c5 := byID["5a1f00000000000000000005"] // warn 50 > error 10: lower is worse
	if !strings.Contains(c5.CriticalExpr, "<= 10") || !strings.Contains(c5.WarningExpr, "<= 50 > 10") {
		t.Errorf("lower-is-worse check: critical %q warning %q", c5.CriticalExpr, c5.WarningExpr)
	}
	// Secrets never inline, files 0600.
	am := string(out.File("alertmanager.yml"))
	for _, secret := range []string{"pd-catalog-service-key", "pd-userprefs-service-key", "https://hooks.example.org/seyren"} {
		if strings.Contains(am, secret) {
			t.Errorf("alertmanager.yml contains the secret %q", secret)
		}
		for _, f := range []string{"report.md", "report.json"} {
			if strings.Contains(string(out.File(f)), secret) {
				t.Errorf("%s contains the secret %q", f, secret)
			}
		}
	}
	for _, f := range out.Files {
		if strings.HasPrefix(f.Path, "secrets/") && f.Mode != 0o600 {
			t.Errorf("%s mode %o", f.Path, f.Mode)
		}
	}
	var rep Report
	if err := json.Unmarshal(out.File("report.json"), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Summary[StatusTranslated]+rep.Summary[StatusPartial]+rep.Summary[StatusUntranslated]+rep.Summary[StatusDisabled] != 12 {
		t.Errorf("summary %v does not count 12 checks", rep.Summary)
	}
}

// TestImportWithTools runs the real promtool and amtool on an import.
func TestImportWithTools(t *testing.T) {
	dir := t.TempDir()
	opts := fixtureOptions()
	opts.SecretsDir = filepath.Join(dir, "secrets")
	out, err := Import(loadFixture(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Write(dir); err != nil {
		t.Fatal(err)
	}
	checkWithTools(t, dir)
}

func BenchmarkImport(b *testing.B) {
	data, err := os.ReadFile("testdata/checks.json")
	if err != nil {
		b.Fatal(err)
	}
	checks, err := ParseChecks(data)
	if err != nil {
		b.Fatal(err)
	}
	opts := fixtureOptions()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Import(checks, opts); err != nil {
			b.Fatal(err)
		}
	}
}

// The generated unit tests must catch a wrong rule: a strict comparison
// where Seyren's is inclusive, a lost direction, or alerts that resolve
// when data stops.
func TestGeneratedUnitTestsCatchWrongRules(t *testing.T) {
	promtool := lookTool(t, "promtool")
	id := fixtureID("03")
	for name, mutate := range map[string]func(string) string{
		"strict error threshold": func(s string) string {
			return strings.Replace(s, `seyren_check_value{check_id="`+id+`"} >= 5000`, `seyren_check_value{check_id="`+id+`"} > 5000`, 1)
		},
		"strict warn threshold": func(s string) string {
			return strings.Replace(s, `seyren_check_value{check_id="`+id+`"} >= 1000 < 5000`, `seyren_check_value{check_id="`+id+`"} > 1000 < 5000`, 1)
		},
		"reversed direction": func(s string) string {
			return strings.Replace(s, `seyren_check_value{check_id="`+id+`"} >= 5000`, `seyren_check_value{check_id="`+id+`"} <= 5000`, 1)
		},
		"resolve on no data": func(s string) string {
			return strings.Replace(s, ` or last_over_time(seyren_check_value{check_id="`+id+`"}[2m])`, "", 1)
		},
	} {
		dir := t.TempDir()
		out, err := Import(loadFixture(t), fixtureOptions())
		if err != nil {
			t.Fatal(err)
		}
		if err := out.Write(dir); err != nil {
			t.Fatal(err)
		}
		rf := filepath.Join(dir, "rules", "unassigned.yml")
		data, err := os.ReadFile(rf)
		if err != nil {
			t.Fatal(err)
		}
		mutated := mutate(string(data))
		if mutated == string(data) {
			t.Fatalf("%s: mutation did not apply", name)
		}
		if err := os.WriteFile(rf, []byte(mutated), 0o644); err != nil {
			t.Fatal(err)
		}
		test := filepath.Join(dir, "tests", id+".yml")
		if err := runTool(context.Background(), promtool, "test", "rules", test); err == nil {
			t.Errorf("%s: promtool test rules passed on a wrong rule", name)
		}
	}
}

func TestResolveOnNoData(t *testing.T) {
	opts := fixtureOptions()
	opts.ResolveOnNoData = true
	out, err := Import(loadFixture(t), opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := out.Validate(); err != nil {
		t.Fatal(err)
	}
	for _, c := range out.Report.Checks {
		if strings.Contains(c.ValueExpr, " or last_over_time("+ValueMetric) {
			t.Errorf("check %s keeps its state without data: %s", c.ID, c.ValueExpr)
		}
	}
}

// TestReportEndsWithNextSteps: report.md ends with what to do next, in
// order (fill secrets, look at what was not translated, validate, load,
// shadow), with the commands that do it.
func TestReportEndsWithNextSteps(t *testing.T) {
	out, err := Import(loadFixture(t), fixtureOptions())
	if err != nil {
		t.Fatal(err)
	}
	md := string(out.File("report.md"))
	i := strings.LastIndex(md, "\n## ")
	if i < 0 || !strings.HasPrefix(md[i:], "\n## Next steps\n") {
		t.Fatalf("report.md does not end with a Next steps section:\n%s", md[max(0, len(md)-2000):])
	}
	steps := md[i:]
	last := -1
	for _, want := range []string{
		"1. Fill in the empty secret files: `secrets/",
		fmt.Sprintf("2. Read the %d untranslated and %d partial checks above", out.Report.Summary[StatusUntranslated], out.Report.Summary[StatusPartial]),
		"3. Validate what was written: `promtool check rules rules/*.yml`, `promtool test rules tests/*.yml`",
		"`amtool check-config alertmanager.yml`",
		"4. Load it",
		"files: [DIR/rules/*.yml]",
		"config_file: DIR/alertmanager.yml",
		"`copenhagen check config copenhagen.yml`",
		"5. Run the shadow",
		"`copenhagen shadow report --url http://localhost:9095`",
	} {
		j := strings.Index(steps, want)
		if j < 0 || j < last {
			t.Errorf("next steps lack %q (or have it out of order):\n%s", want, steps)
		}
		last = j
	}
}
