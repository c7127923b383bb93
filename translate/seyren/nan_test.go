package seyren

import (
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql/promqltest"
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
