package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/copenhagen-obs/copenhagen/translate/seyren"
	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
)

var updateSeyrenExample = flag.Bool("update-seyren-example", false, "regenerate rules/seyren-example from the Seyren fixture")

const (
	seyrenFixture   = "../../translate/seyren/testdata/checks.json"
	seyrenStatsdMap = "../../translate/seyren/testdata/statsd-mapping.yml"
	seyrenGraphMap  = "../../translate/seyren/testdata/graphite-mapping.yml"
	seyrenExample   = "../../rules/seyren-example"
)

// The checks of the fixture: which have a PromQL equivalent (translated or
// partial) and which not, and why.
var (
	seyrenTranslatable = []string{"01", "02", "03", "04", "05", "06", "07", "08", "09", "11"}
	seyrenNoEquivalent = map[string]string{"10": "holtWintersAberration"}
	seyrenDisabled     = "12"
)

func fixtureID(n string) string { return "5a1f000000000000000000" + n }

func readSeyrenReport(t *testing.T, dir string) seyren.Report {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r seyren.Report
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func seyrenTools(t *testing.T) seyren.Tools {
	t.Helper()
	look := func(name string) string { return storagetest.NeedTool(t, name, ".ci/deps.d/seyren.sh") }
	return seyren.Tools{Promtool: look("promtool"), Amtool: look("amtool")}
}

func TestImportSeyrenFromFile(t *testing.T) {
	dir := t.TempDir()
	out, errs, code := cli(t, "import", "seyren", "--from", seyrenFixture, "--out", dir,
		"--statsd-mapping", seyrenStatsdMap, "--graphite-mapping", seyrenGraphMap,
		"--seyren-url", "https://seyren.example.org", "--team-of", fixtureID("01")+"=catalog", "--location", "Europe/Paris")
	if code != 0 {
		t.Fatalf("code %d\n%s%s", code, out, errs)
	}
	if !strings.Contains(out, "12 checks:") || !strings.Contains(out, "1 disabled") {
		t.Errorf("summary line: %q", out)
	}
	rep := readSeyrenReport(t, dir)
	byID := map[string]*seyren.CheckReport{}
	for _, c := range rep.Checks {
		byID[c.ID] = c
	}
	if len(byID) != 12 {
		t.Fatalf("report has %d checks, want 12", len(byID))
	}
	// Every check with a faithful PromQL equivalent translates.
	for _, n := range seyrenTranslatable {
		c := byID[fixtureID(n)]
		if c.Status != seyren.StatusTranslated && c.Status != seyren.StatusPartial {
			t.Errorf("check %s (%s): %s: %s", c.ID, c.Target, c.Status, c.Reason)
			continue
		}
		if c.PromQL == "" || !strings.HasPrefix(c.RuleFile, "rules/") || strings.HasPrefix(c.RuleFile, "rules/disabled/") || c.TestFile == "" {
			t.Errorf("check %s: promql %q rule file %q test file %q", c.ID, c.PromQL, c.RuleFile, c.TestFile)
		}
	}
	for n, why := range seyrenNoEquivalent {
		c := byID[fixtureID(n)]
		if c.Status != seyren.StatusUntranslated || !strings.Contains(c.Reason, why) || c.RuleFile != "" {
			t.Errorf("check %s: %s %q (rule file %q), want untranslated because of %s", c.ID, c.Status, c.Reason, c.RuleFile, why)
		}
	}
	if c := byID[fixtureID(seyrenDisabled)]; c.Status != seyren.StatusDisabled || !strings.HasPrefix(c.RuleFile, "rules/disabled/") {
		t.Errorf("disabled check: %s in %q", c.Status, c.RuleFile)
	}
	if byID[fixtureID("01")].Team != "catalog" || byID[fixtureID("02")].Team != "unassigned" {
		t.Errorf("teams: %q %q", byID[fixtureID("01")].Team, byID[fixtureID("02")].Team)
	}
	// What Prometheus loads with rules/*.yml: enabled checks only.
	loaded, _ := filepath.Glob(filepath.Join(dir, "rules", "*.yml"))
	var all []byte
	for _, f := range loaded {
		b, _ := os.ReadFile(f)
		all = append(all, b...)
	}
	if bytes.Contains(all, []byte(fixtureID(seyrenDisabled))) || !bytes.Contains(all, []byte(fixtureID("03"))) {
		t.Error("rules/*.yml: disabled check loaded or enabled check missing")
	}
	// Secrets: in 0600 files, never in the configuration or the reports.
	for _, f := range []string{"alertmanager.yml", "report.md", "report.json"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		for _, secret := range []string{"pd-catalog-service-key", "pd-userprefs-service-key", "hooks.example.org"} {
			if bytes.Contains(b, []byte(secret)) || strings.Contains(out+errs, secret) {
				t.Errorf("%s (or the command output) contains %q", f, secret)
			}
		}
	}
	err := filepath.WalkDir(filepath.Join(dir, "secrets"), func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err == nil && info.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %o", p, info.Mode().Perm())
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	am, _ := os.ReadFile(filepath.Join(dir, "alertmanager.yml"))
	if !bytes.Contains(am, []byte("location: Europe/Paris")) || !bytes.Contains(am, []byte(filepath.Join(dir, "secrets", "pagerduty-1.key"))) {
		t.Errorf("alertmanager.yml: no Europe/Paris time interval or no absolute secret path:\n%s", am)
	}
	if err := seyrenTools(t).CheckDir(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
}

// The API path: all pages of GET /api/checks, same result as the export.
func TestImportSeyrenFromAPI(t *testing.T) {
	data, err := os.ReadFile(seyrenFixture)
	if err != nil {
		t.Fatal(err)
	}
	var page struct {
		Values []json.RawMessage `json:"values"`
	}
	if err := json.Unmarshal(data, &page); err != nil {
		t.Fatal(err)
	}
	var requests int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/checks" {
			http.NotFound(w, r)
			return
		}
		requests++
		start, _ := strconv.Atoi(r.URL.Query().Get("start"))
		end := min(start+5, len(page.Values)) // Seyren pages, 5 at a time here
		start = min(start, end)
		json.NewEncoder(w).Encode(map[string]any{"values": page.Values[start:end], "items": end - start, "start": start, "total": len(page.Values)})
	}))
	defer srv.Close()
	apiDir, fileDir := t.TempDir(), t.TempDir()
	for _, run := range [][]string{{"--from", srv.URL, "--out", apiDir}, {"--from", seyrenFixture, "--out", fileDir}} {
		args := append([]string{"import", "seyren", "--statsd-mapping", seyrenStatsdMap, "--graphite-mapping", seyrenGraphMap}, run...)
		if out, errs, code := cli(t, args...); code != 0 {
			t.Fatalf("%v: code %d\n%s%s", run, code, out, errs)
		}
	}
	if requests < 3 {
		t.Errorf("%d API requests for 12 checks served 5 at a time", requests)
	}
	api, file := readSeyrenReport(t, apiDir), readSeyrenReport(t, fileDir)
	if len(api.Checks) != 12 || len(file.Checks) != 12 {
		t.Fatalf("%d checks from the API, %d from the file", len(api.Checks), len(file.Checks))
	}
	for i := range api.Checks {
		a, f := api.Checks[i], file.Checks[i]
		if a.ID != f.ID || a.Status != f.Status || a.PromQL != f.PromQL {
			t.Errorf("check %d: API %s %s %q, file %s %s %q", i, a.ID, a.Status, a.PromQL, f.ID, f.Status, f.PromQL)
		}
		if a.Link != srv.URL+"/#/checks/"+a.ID {
			t.Errorf("link %q", a.Link)
		}
	}
}

func TestImportSeyrenErrors(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"--from", filepath.Join(dir, "missing.json"), "--out", dir},
		{"--from", seyrenFixture, "--out", dir, "--location", "Mars/Olympus"},
		{"--from", seyrenFixture, "--out", dir, "--statsd-mapping", filepath.Join(dir, "missing.yml")},
	} {
		if _, errs, code := cli(t, append([]string{"import", "seyren"}, args...)...); code != 1 || errs == "" {
			t.Errorf("%v: code %d, stderr %q", args, code, errs)
		}
	}
}

// exampleArgs generate rules/seyren-example: fixed links, teams and an
// absolute secrets directory so the output is stable.
func exampleArgs(out string) []string {
	args := []string{"import", "seyren", "--from", seyrenFixture, "--out", out,
		"--statsd-mapping", seyrenStatsdMap, "--graphite-mapping", seyrenGraphMap,
		"--seyren-url", "https://seyren.example.org", "--secrets-dir", "/etc/alertmanager/secrets", "--team", "ops"}
	for id, team := range map[string]string{"01": "catalog", "02": "catalog", "07": "catalog", "10": "catalog", "03": "thumbnails", "09": "thumbnails", "04": "front", "06": "front"} {
		args = append(args, "--team-of", fixtureID(id)+"="+team)
	}
	return args
}

// TestImportSeyrenExample keeps rules/seyren-example equal to what the
// command writes for the fixture (secrets excepted: they are not
// committed), and checks it with promtool and amtool.
// Regenerate: go test ./cmd/copenhagen -run TestImportSeyrenExample -update-seyren-example
func TestImportSeyrenExample(t *testing.T) {
	dir := t.TempDir()
	if out, errs, code := cli(t, exampleArgs(dir)...); code != 0 {
		t.Fatalf("code %d\n%s%s", code, out, errs)
	}
	os.RemoveAll(filepath.Join(dir, "secrets"))
	got := readTree(t, dir)
	if *updateSeyrenExample {
		os.RemoveAll(seyrenExample)
		for name, data := range got {
			p := filepath.Join(seyrenExample, name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, data, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	want := readTree(t, seyrenExample)
	for name, data := range got {
		if !bytes.Equal(want[name], data) {
			t.Errorf("%s differs from the committed example (regenerate with -update-seyren-example)", name)
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("%s is in the committed example but no longer generated", name)
		}
	}
	if err := seyrenTools(t).CheckDir(context.Background(), seyrenExample); err != nil {
		t.Fatal(err)
	}
}

func readTree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		data, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	return files
}
