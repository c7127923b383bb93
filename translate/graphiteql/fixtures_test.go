package graphiteql

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The shared Seyren export: every check is translated with Seyren's
// semantics over its own window. The expected status of each check, and
// the reason of those that cannot be translated, are what the import
// report shows users.
func TestSeyrenExport(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "seyren_checks.json"))
	if err != nil {
		t.Fatal(err)
	}
	var export struct {
		Values []struct {
			ID, Name, Target string
			From, Until      *string
		}
	}
	if err := json.Unmarshal(data, &export); err != nil {
		t.Fatal(err)
	}
	want := map[string]struct {
		status Status
		reason string
	}{
		"5a1f00000000000000000001": {Partial, ""},
		"5a1f00000000000000000002": {Partial, ""},
		"5a1f00000000000000000003": {Translated, ""},
		"5a1f00000000000000000004": {Partial, ""},
		"5a1f00000000000000000005": {Partial, ""},
		"5a1f00000000000000000006": {Translated, ""},
		"5a1f00000000000000000007": {Partial, ""},
		"5a1f00000000000000000008": {Partial, ""},
		"5a1f00000000000000000009": {Partial, ""},
		"5a1f00000000000000000010": {Untranslated, "untranslated: holtWintersAberration has no PromQL equivalent"},
		"5a1f00000000000000000011": {Translated, ""},
		"5a1f00000000000000000012": {Partial, ""},
	}
	r := resolvers(t)[""]
	counts := map[Status]int{}
	for _, c := range export.Values {
		from, until := "-11minutes", "-1minutes"
		if c.From != nil {
			from = *c.From
		}
		if c.Until != nil {
			until = *c.Until
		}
		f, err1 := ParseOffset(from)
		u, err2 := ParseOffset(until)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: window %s %s: %v %v", c.ID, from, until, err1, err2)
		}
		res := TranslateLast(c.Target, r, TranslateOptions{From: f, Until: u})
		counts[res.Status]++
		w, ok := want[c.ID]
		if !ok {
			t.Errorf("unexpected check %s", c.ID)
			continue
		}
		if res.Status != w.status || res.Reason != w.reason {
			t.Errorf("check %s %q: %s %q, want %s %q\n%s", c.ID, c.Target, res.Status, res.Reason, w.status, w.reason, res.PromQL)
		}
		if res.Status != Untranslated {
			if err := CheckPromQL(res.PromQL); err != nil {
				t.Errorf("check %s: %v", c.ID, err)
			}
			if !strings.HasPrefix(res.PromQL, "last_over_time(") {
				t.Errorf("check %s: the value is not the window's last one: %s", c.ID, res.PromQL)
			}
		}
		if res.Status == Partial && len(res.Notes) == 0 {
			t.Errorf("check %s: partial without notes", c.ID)
		}
	}
	if len(export.Values) != len(want) {
		t.Errorf("%d checks, want %d", len(export.Values), len(want))
	}
	t.Logf("Seyren export: %d translated, %d partial, %d untranslated", counts[Translated], counts[Partial], counts[Untranslated])
}

// Every target of the shared Grafana dashboard translates (template
// variables kept for Grafana to substitute).
func TestGrafanaDashboard(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "grafana_team-catalog-tv.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Target string }
		}
	}
	if err := json.Unmarshal(data, &dash); err != nil {
		t.Fatal(err)
	}
	r := resolvers(t)[""]
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			n++
			res := Translate(tg.Target, r, TranslateOptions{})
			if res.Status == Untranslated {
				t.Errorf("panel %q: %s: %s", p.Title, tg.Target, res.Reason)
				continue
			}
			if strings.Contains(tg.Target, "$route") && !strings.Contains(res.PromQL, `route=~"$route"`) {
				t.Errorf("panel %q: template variable lost: %s", p.Title, res.PromQL)
			}
		}
	}
	if n != 9 {
		t.Errorf("%d targets, want 9", n)
	}
}
