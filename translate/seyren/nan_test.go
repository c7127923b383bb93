package seyren

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteql"
	"github.com/copenhagen-obs/copenhagen/translate/names"
	"github.com/copenhagen-obs/copenhagen/translate/storage"
)

func TestSkipNaN(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`last_over_time((histogram_quantile(0.9, rate(x_bucket[1m])) * 1000)[10m:1m] offset 1m)`,
			`last_over_time(((histogram_quantile(0.9, rate(x_bucket[1m])) * 1000) >= -Inf)[10m:1m] offset 1m)`},
		// A range selector reads raw samples: nothing to filter.
		{`last_over_time(x[10m] offset 1m)`, `last_over_time(x[10m] offset 1m)`},
		// Idempotent.
		{`last_over_time(((x * 2) >= -Inf)[10m:1m])`, `last_over_time(((x * 2) >= -Inf)[10m:1m])`},
	} {
		got, _, err := skipNaN(tc.in)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("skipNaN(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
}

// Evaluated by Prometheus's engine: an idle timer whose p90 turns NaN keeps
// its last real value, as Seyren kept the last non-null point, where the
// unfiltered subquery returns NaN.
func TestSkipNaNKeepsLastRealValue(t *testing.T) {
	st := promqltest.LoadedStorage(t, `
load 1m
  p90 900 900 NaN NaN NaN
`)
	eng := promqltest.NewTestEngine(t, false, 5*time.Minute, 100000)
	ts := time.Unix(0, 0).Add(4 * time.Minute)
	eval := func(q string) float64 {
		t.Helper()
		qry, err := eng.NewInstantQuery(t.Context(), st, nil, q, ts)
		if err != nil {
			t.Fatal(err)
		}
		res := qry.Exec(t.Context())
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		v, err := res.Vector()
		if err != nil || len(v) != 1 {
			t.Fatalf("%s: %v %v", q, v, err)
		}
		return v[0].F
	}
	raw := `last_over_time((p90 * 1)[4m:1m])`
	if v := eval(raw); v == v {
		t.Fatalf("unfiltered: %v, want NaN (the bug)", v)
	}
	fixed, _, err := skipNaN(raw)
	if err != nil {
		t.Fatal(err)
	}
	if v := eval(fixed); v != 900 {
		t.Fatalf("%s = %v, want 900", fixed, v)
	}
}

// graphiteTranslator is the real translation (translate/graphiteql) over
// a StatsD mapping, as `copenhagen import seyren` wires it.
type graphiteTranslator struct{ r *graphiteql.Resolver }

func (g graphiteTranslator) opts(w Window) graphiteql.TranslateOptions {
	return graphiteql.TranslateOptions{From: w.Range + w.Offset, Until: w.Offset, Step: time.Minute}
}

func (g graphiteTranslator) Translate(target string, w Window) graphiteql.Result {
	return graphiteql.Translate(target, g.r, g.opts(w))
}

func (g graphiteTranslator) TranslateLast(target string, w Window) graphiteql.Result {
	return graphiteql.TranslateLast(target, g.r, g.opts(w))
}

// An idle timer stored as a native histogram: its rate is an empty
// histogram, whose histogram_quantile is NaN as with classic buckets. The
// imported rule's value, evaluated by the engine Copenhagen runs rules
// with, must keep the last real p90 (ERROR, as Seyren keeps it on the last
// non-null upper_90) where the same expression without the NaN skip
// gives NaN.
func TestSkipNaNNativeIdleTimer(t *testing.T) {
	m, err := names.Load("testdata/timers-native.yml")
	if err != nil {
		t.Fatal(err)
	}
	checks, err := ParseChecks([]byte(`[{"id":"p90","name":"api get p90","target":"stats.timers.api.get.upper_90","warn":"500","error":"800","enabled":true}]`))
	if err != nil {
		t.Fatal(err)
	}
	out, err := Import(checks, Options{Translator: graphiteTranslator{graphiteql.NewResolver(m, nil, graphiteql.DefaultOptions())}, TimerHistograms: TimerHistograms(m)})
	if err != nil {
		t.Fatal(err)
	}
	c := out.Report.Checks[0]
	if !strings.Contains(c.ValueExpr, `histogram_quantile(0.9, rate(api_seconds{endpoint="get"}[1m]))`) || !strings.Contains(c.ValueExpr, ">= -Inf") {
		t.Fatalf("value expr %s: want the native histogram's quantile with the NaN skip", c.ValueExpr)
	}
	if notes := strings.Join(c.Notes, "\n"); !strings.Contains(notes, "from a native histogram (bucket factor 1.1, schema 3): histogram_quantile is within 9.1%") {
		t.Errorf("report notes lack the native bound:\n%s", notes)
	}
	// Five minutes of requests of about 0.95 s (bucket (0.917 s, 1 s] of
	// schema 3), then ten idle minutes: the histogram stops growing.
	st := promqltest.LoadedStorage(t, `
load 10s
  api_seconds{endpoint="get"} {{schema:3 sum:0.95 count:1 buckets:[1]}}+{{schema:3 sum:0.95 count:1 buckets:[1]}}x30 {{schema:3 sum:29.45 count:31 buckets:[31]}}x60
`)
	eng := storage.NewEngine(storage.Options{})
	at := time.Unix(0, 0).Add(9 * time.Minute) // the window [-11m, -1m] ends 3 idle minutes in
	eval := func(q string) promql.Vector {
		t.Helper()
		qry, err := eng.NewInstantQuery(t.Context(), st, nil, q, at)
		if err != nil {
			t.Fatal(err)
		}
		res := qry.Exec(t.Context())
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		v, err := res.Vector()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// The idle point itself is NaN on a native histogram too.
	if v := eval(`histogram_quantile(0.9, rate(api_seconds{endpoint="get"}[1m] offset 1m))`); len(v) != 1 || !math.IsNaN(v[0].F) {
		t.Fatalf("idle native histogram_quantile = %v, want NaN", v)
	}
	unfiltered := strings.ReplaceAll(c.ValueExpr, " >= -Inf", "")
	if v := eval(unfiltered); len(v) != 1 || !math.IsNaN(v[0].F) {
		t.Fatalf("without the NaN skip %s = %v, want NaN (the bug)", unfiltered, v)
	}
	v := eval(c.ValueExpr)
	if len(v) != 1 || !(v[0].F > 917 && v[0].F <= 1000) {
		t.Fatalf("%s = %v, want the last real p90 (917 ms, 1000 ms], ERROR", c.ValueExpr, v)
	}
	t.Logf("%s = %v", c.ValueExpr, v[0].F)
	if seyrenState(v[0].F, 500, 800) != "ERROR" {
		t.Errorf("state of %v: want ERROR", v[0].F)
	}
}
