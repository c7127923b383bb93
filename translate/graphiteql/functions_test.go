package graphiteql

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// The README's function coverage table is what users read to know what
// converts: it must list every function of the table, each under its
// status, and nothing else.
func TestREADMEFunctionTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n### Function coverage\n")
	if !ok {
		t.Fatal(`README.md has no "### Function coverage" section`)
	}
	section, _, _ = strings.Cut(section, "\n#")
	nameRE := regexp.MustCompile("`([A-Za-z]+)`")
	documented := map[Status][]string{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 4 {
			continue
		}
		st := Status(strings.TrimSpace(cells[1]))
		for _, m := range nameRE.FindAllStringSubmatch(cells[2], -1) {
			documented[st] = append(documented[st], m[1])
		}
	}
	want := map[Status][]string{}
	for _, f := range Functions() {
		want[f.Status] = append(want[f.Status], f.Name)
	}
	for _, st := range []Status{Translated, Partial, Untranslated} {
		got := documented[st]
		slices.Sort(got)
		if !slices.Equal(got, want[st]) {
			row := make([]string, len(want[st]))
			for i, n := range want[st] {
				row[i] = "`" + n + "`"
			}
			t.Errorf("README's %s row lists %v\nthe table has %v\nthe row should read:\n| %s | %s |", st, got, want[st], st, strings.Join(row, ", "))
		}
		delete(documented, st)
	}
	for st := range documented {
		t.Errorf("README's function table has a row %q, which is not a status", st)
	}
}

// Every entry translates or says why not, and an untranslated entry's
// call fails with its reason.
func TestFunctionTableEntries(t *testing.T) {
	for _, f := range Functions() {
		e := functions[f.Name]
		switch {
		case f.Status == Untranslated && (e.translate != nil || f.Reason == ""):
			t.Errorf("%s: untranslated entries have a reason and no translation", f.Name)
		case f.Status != Untranslated && e.translate == nil:
			t.Errorf("%s: %s without a translation", f.Name, f.Status)
		case f.Status == Partial && f.Reason == "":
			t.Errorf("%s: partial without a reason", f.Name)
		}
	}
	r := Translate("holtWintersForecast(a.b)", NewResolver(nil, nil, Options{}), TranslateOptions{})
	if r.Status != Untranslated || !strings.Contains(r.Reason, "holtWintersForecast has no PromQL equivalent") {
		t.Errorf("holtWintersForecast: %s %q", r.Status, r.Reason)
	}
	r = Translate("noSuchFunction(a.b)", NewResolver(nil, nil, Options{}), TranslateOptions{})
	if r.Status != Untranslated || !strings.Contains(r.Reason, "unknown or unsupported function noSuchFunction") {
		t.Errorf("unknown function: %s %q", r.Status, r.Reason)
	}
}
