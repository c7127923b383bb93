package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/rules"

	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// TestRulesOverNativeHistograms evaluates a rule file over native
// histograms in Copenhagen's storage with Prometheus's rules engine, step
// by step as promtool does (rules.Group.Eval): the p90 of a timer that
// observes 30 ms 19 times in 20 is 31.1 ms (within the 9 % of one native
// bucket; the mapping's classic buckets 10 ms, 100 ms, 1 s made it 91 ms,
// issue 11), the alert above 30 ms fires and the one above 32 ms does
// not, and a recorded rate of native histograms is a native histogram
// that gives the same p90.
func TestRulesOverNativeHistograms(t *testing.T) {
	st := open(t, cstorage.Options{Path: t.TempDir(), Registerer: prometheus.NewRegistry()})
	defer st.Close()
	start := time.Now().Truncate(time.Minute).Add(-30 * time.Minute)
	d := appendHistograms(t, st, start, 40) // 10 minutes
	q, err := st.Queryable()
	if err != nil {
		t.Fatal(err)
	}
	mgr := rules.NewManager(&rules.ManagerOptions{
		QueryFunc:    rules.EngineQueryFunc(st.Engine(), q),
		NotifyFunc:   func(context.Context, string, ...*rules.Alert) {},
		Context:      context.Background(),
		AppendableV2: st,
		Queryable:    q,
		Registerer:   prometheus.NewRegistry(),
	})
	groups, errs := mgr.LoadGroups(time.Minute, labels.EmptyLabels(), "", nil, false, "testdata/native_histogram_rules.yml")
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if len(groups) != 1 {
		t.Fatalf("%d groups", len(groups))
	}
	var g *rules.Group
	for _, each := range groups {
		g = each
	}
	var last time.Time
	for ts := start.Add(2 * time.Minute); ts.Before(d.end()); ts = ts.Add(time.Minute) {
		g.Eval(context.Background(), ts)
		if last.IsZero() {
			// What the manager does after a group's first evaluation;
			// alerting rules write ALERTS from then on.
			g.RestoreForState(ts)
		}
		last = ts
	}
	for _, r := range g.Rules() {
		if err := r.LastError(); err != nil {
			t.Errorf("rule %s: %v", r.Name(), err)
		}
	}

	api := serveAPI(t, st)
	for _, c := range []struct {
		query string
		want  float64
	}{
		{`job_instance:request_duration_seconds:p90_1m{instance="a"}`, wantTimerP90},
		{`histogram_quantile(0.9, job_instance:request_duration_seconds:rate1m{instance="a"})`, wantTimerP90},
		{`job:request_duration_seconds:count_rate1m`, 20.0 / 15},
		{`histogram_count(job_instance:request_duration_seconds:rate1m{instance="a"})`, 20.0 / 15},
	} {
		if got := scalarAt(t, api, c.query, last); !near(got, c.want) {
			t.Errorf("%s = %v, want %v", c.query, got, c.want)
		}
	}
	// Every evaluation recorded: one p90 per series and minute.
	wantSteps := int(last.Sub(start.Add(2*time.Minute))/time.Minute) + 1
	if n := count(t, q, "job_instance:request_duration_seconds:p90_1m", start.UnixMilli(), last.UnixMilli()); n != 2*wantSteps {
		t.Errorf("%d p90 samples recorded, want %d", n, 2*wantSteps)
	}
	lower, upper := bucketBounds(bucketIndex(0.030))
	if !(wantTimerP90 > 0.030 && wantTimerP90 < 0.032 && wantTimerP90 > lower && wantTimerP90 <= upper) {
		t.Fatalf("test data: p90 %v", wantTimerP90)
	}

	state := map[string]rules.AlertState{}
	for _, r := range g.AlertingRules() {
		state[r.Name()] = rules.StateInactive
		for _, a := range r.ActiveAlerts() {
			state[r.Name()] = a.State
			if v := a.Value; !near(v, wantTimerP90) {
				t.Errorf("%s: alert value %v, want %v", r.Name(), v, wantTimerP90)
			}
		}
	}
	if state["TimerP90Above30ms"] != rules.StateFiring || state["TimerP90Above32ms"] != rules.StateInactive {
		t.Errorf("alert states = %v, want TimerP90Above30ms firing and TimerP90Above32ms inactive", state)
	}
	if v := scalarAt(t, api, `ALERTS{alertname="TimerP90Above30ms",alertstate="firing"}`, last); v != 1 {
		t.Errorf("ALERTS = %v", v)
	}
}
