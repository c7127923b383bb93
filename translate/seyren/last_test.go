package seyren

import (
	"strings"
	"testing"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteql"
)

// lastTranslator is a fakeTranslator that can also translate over the
// check's window, as graphiteql.TranslateLast does.
type lastTranslator struct {
	fakeTranslator
	last map[string]graphiteql.Result
}

func (l lastTranslator) TranslateLast(target string, _ Window) graphiteql.Result {
	if r, ok := l.last[target]; ok {
		return r
	}
	return graphiteql.Result{Status: graphiteql.Untranslated, Reason: "fake"}
}

// A top-level series filter is only exact over the window: when the
// translator can give the last value itself, the rule uses it, and a better
// status wins; a worse or missing one leaves the wrapped graph translation.
func TestImportPrefersTheWindowedTranslation(t *testing.T) {
	checks, err := ParseChecks([]byte(`[
		{"id":"filter","name":"F","target":"currentAbove(x, 5)","warn":"1","error":"2","enabled":true},
		{"id":"plain","name":"P","target":"y","warn":"1","error":"2","enabled":true}]`))
	if err != nil {
		t.Fatal(err)
	}
	partial := graphiteql.Result{PromQL: "x > 5", Status: graphiteql.Partial, Notes: []string{"filter applied before the window"}}
	tr := lastTranslator{
		fakeTranslator: fakeTranslator{"currentAbove(x, 5)": partial, "y": ok("y")},
		last: map[string]graphiteql.Result{
			"currentAbove(x, 5)": ok("last_over_time(x[10m] offset 1m) > 5"),
		},
	}
	out, err := Import(checks, Options{Translator: tr, ResolveOnNoData: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][2]string{}
	for _, c := range out.Report.Checks {
		got[c.ID] = [2]string{c.Status, c.ValueExpr}
	}
	if g := got["filter"]; g[0] != StatusTranslated || !strings.Contains(g[1], "last_over_time(x[10m] offset 1m) > 5") {
		t.Errorf("filter check: %q", g)
	}
	if g := got["plain"]; g[0] != StatusTranslated || !strings.Contains(g[1], "last_over_time(y[") {
		t.Errorf("plain check (no windowed translation): %q", g)
	}
}
