package seyren

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"
)

func TestParseRelativeTime(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"-11minutes", 11 * time.Minute, false},
		{"-1minutes", time.Minute, false},
		{"-1min", time.Minute, false},
		{"-30s", 30 * time.Second, false},
		{"-2h", 2 * time.Hour, false},
		{"-1days", 24 * time.Hour, false},
		{"-1w", 7 * 24 * time.Hour, false},
		{"-1mon", 30 * 24 * time.Hour, false},
		{"-1y", 365 * 24 * time.Hour, false},
		{"now", 0, false},
		{"now-5min", 5 * time.Minute, false},
		{"", 0, false},
		{"20231010", 0, true},
		{"midnight", 0, true},
		{"-minutes", 0, true},
		{"-5parsecs", 0, true},
		{"+5min", 0, true},
	} {
		got, err := ParseRelativeTime(tc.in)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseRelativeTime(%q) = %v, %v; want %v, error %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParseWindow(t *testing.T) {
	w, err := ParseWindow("-15minutes", "-1minutes")
	if err != nil || w.Range != 14*time.Minute || w.Offset != time.Minute {
		t.Errorf("got %+v, %v", w, err)
	}
	if _, err := ParseWindow("-1minutes", "-11minutes"); err == nil {
		t.Error("from after until accepted")
	}
	if _, err := ParseWindow("-1minutes", "-1minutes"); err == nil {
		t.Error("empty window accepted")
	}
}

func TestLastValueForms(t *testing.T) {
	w := Window{Range: 10 * time.Minute, Offset: time.Minute}
	for _, tc := range []struct{ in, want string }{
		{`g{a="x"}`, `last_over_time(g{a="x"}[10m] offset 1m)`},
		{`sum(g)`, `last_over_time((sum(g))[10m:1m] offset 1m)`},
		{`g offset 5m`, `last_over_time((g offset 5m)[10m:1m] offset 1m)`},
	} {
		got, err := LastValue(tc.in, w, time.Minute)
		if err != nil || got != tc.want {
			t.Errorf("LastValue(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	got, err := LastValue("g", Window{Range: time.Hour}, time.Minute)
	if err != nil || got != "last_over_time(g[1h])" {
		t.Errorf("until now: %q, %v", got, err)
	}
	if _, err := LastValue("sum(", w, time.Minute); err == nil {
		t.Error("bad PromQL accepted")
	}
}

// TestLastValueSemantics evaluates the generated value expressions with
// the PromQL engine: the value is the last point of (now-from, now-until],
// a point after now-until is not seen yet, and a series with no point in
// the window has no value (Seyren: no data, no state change).
func TestLastValueSemantics(t *testing.T) {
	w, err := ParseWindow(DefaultFrom, DefaultUntil)
	if err != nil {
		t.Fatal(err)
	}
	bare, err := LastValue(`g`, w, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	computed, err := LastValue(`g * 2`, w, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	script := `
load 1m
  g{a="x"} 1 2 3 4 5 _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _
  g{a="y"} 0 0 0 0 0 0 0 0 0 0 7 _ _ _ _ _ _ _ _ _ _ _ _

# At 10m the window is (-1m, 9m]: x's last point is 5 (4m), y's 7 at 10m is
# after until and not seen yet.
eval instant at 10m ` + bare + `
  g{a="x"} 5
  g{a="y"} 0

# At 15m the window is (4m, 14m]: x has no point in it any more.
eval instant at 15m ` + bare + `
  g{a="y"} 7

eval instant at 10m ` + computed + `
  {a="x"} 10
  {a="y"} 0

# At 22m the window is (11m, 21m]: nothing at all.
eval instant at 22m ` + bare + `
`
	promqltest.RunTest(t, script, promqltest.NewTestEngine(t, false, 0, 1e6))
	if !strings.Contains(computed, ":1m]") {
		t.Errorf("computed expression %q is not a subquery", computed)
	}
}
