package shadow_test

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/promql"

	"github.com/copenhagen-obs/copenhagen/alerting/shadow"
	"github.com/copenhagen-obs/copenhagen/alerting/shadow/seyrentest"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb"
	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

// cannedGraphite answers renders with a fixed body per target (the real
// graphite-web is in cmd/copenhagen's e2e tests; here the Seyren side is
// what is tested).
type cannedGraphite struct {
	mu     sync.Mutex
	bodies map[string]string
}

func (g *cannedGraphite) set(target, body string) {
	g.mu.Lock()
	g.bodies[target] = body
	g.mu.Unlock()
}

func (g *cannedGraphite) Render(_ context.Context, r graphiteweb.Request) ([]graphiteweb.Series, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return graphiteweb.ParseRender([]byte(g.bodies[r.Target]))
}

func (*cannedGraphite) URL(graphiteweb.Request) string { return "http://graphite.test/render" }

func series(target string, v string, now time.Time) string {
	return `[{"target": "` + target + `", "datapoints": [[` + v + `, ` + formatInt(now.Unix()-60) + `]]}]`
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func checkOf(r shadow.Report, id string) shadow.CheckStats {
	for _, c := range r.Checks {
		if c.CheckID == id {
			return c
		}
	}
	return shadow.CheckStats{}
}

// TestLiveShadowSeyrenSide: with a Seyren API, the live shadow (1) seeds
// the emulator from each check's newest row per target, so an idle target
// Seyren holds at ERROR stays ERROR in the emulator; (2) reads Seyren's
// reported state every interval and counts, per check, Seyren vs PromQL
// and Seyren vs the emulator, with last.seyren in the report and the
// state gauge side="seyren"; (3) Seyren unreachable is counted, and the
// comparisons go on.
func TestLiveShadowSeyrenSide(t *testing.T) {
	now := time.Now()
	f := seyrentest.Fixture{
		Checks: []shadow.SeyrenCheck{
			{ID: "idle", Name: "api p90", Target: "stats.timers.api.upper_90", Warn: "500", Error: "800", Enabled: true, State: shadow.Unknown, LastCheck: now.UnixMilli()},
			{ID: "queue", Name: "queue", Target: "stats.gauges.queue", Warn: "100", Error: "200", Enabled: true, State: shadow.Warn, LastCheck: now.UnixMilli()},
		},
		Alerts: []shadow.SeyrenAlert{
			{ID: "1", CheckID: "idle", Target: "stats.timers.api.upper_90", Value: "400", Warn: "500", Error: "800", FromType: shadow.OK, ToType: shadow.OK, Timestamp: now.Add(-time.Hour).UnixMilli()},
			{ID: "2", CheckID: "idle", Target: "stats.timers.api.upper_90", Value: "900", Warn: "500", Error: "800", FromType: shadow.OK, ToType: shadow.Error, Timestamp: now.Add(-50 * time.Minute).UnixMilli()},
		},
	}
	srv := seyrentest.New(t, f)
	client, err := shadow.NewSeyrenClient(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	checks, err := seyren.ParseChecks([]byte(`[
 {"id": "idle", "name": "api p90", "target": "stats.timers.api.upper_90", "warn": "500", "error": "800", "enabled": true},
 {"id": "queue", "name": "queue", "target": "stats.gauges.queue", "warn": "100", "error": "200", "enabled": true}]`))
	if err != nil {
		t.Fatal(err)
	}
	g := &cannedGraphite{bodies: map[string]string{
		// The idle timer: statsd sends no upper_90, Graphite has nulls.
		"stats.timers.api.upper_90": `[{"target": "stats.timers.api.upper_90", "datapoints": [[null, ` + formatInt(now.Unix()-60) + `]]}]`,
		"stats.gauges.queue":        series("stats.gauges.queue", "150", now),
	}}
	reg := prometheus.NewRegistry()
	s, err := shadow.New(shadow.Options{
		Graphite: g, Checks: checks, Registerer: reg, Seyren: client, SeyrenInterval: 100 * time.Millisecond, Timeout: 2 * time.Second,
		QueryFunc: func(context.Context, string, time.Time) (promql.Vector, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	eventually(t, "seeding", func() bool {
		c := checkOf(s.Report(), "idle")
		return c.Seyren != nil && c.Seyren.Seeded
	})
	prom := func(st shadow.State, v float64) shadow.PromSide {
		return shadow.PromSide{State: st, Series: []shadow.PromSeries{{Identity: "", Value: v, State: st}}}
	}
	o, _ := s.Compare(context.Background(), "idle", time.Now(), prom(shadow.Error, 900))
	if o.Graphite != shadow.Error || o.Result != shadow.ResultAgree {
		t.Errorf("idle timer after seeding: emulator %s, result %s; want ERROR kept from Seyren's newest row, agreeing", o.Graphite, o.Result)
	}

	// Seyren says WARN, so do the emulator (150 over graphite) and PromQL.
	s.Compare(context.Background(), "queue", time.Now(), prom(shadow.Warn, 150))
	eventually(t, "Seyren vs PromQL agreement", func() bool {
		c := checkOf(s.Report(), "queue")
		return c.Seyren != nil && c.Seyren.VsPromQL.Agree >= 1 && c.Seyren.VsEmulator.Agree >= 1
	})
	c := checkOf(s.Report(), "queue")
	if c.Last.Seyren == nil || *c.Last.Seyren != shadow.Warn {
		t.Errorf("last.seyren %v, want WARN", c.Last.Seyren)
	}
	// Seyren's check state for the idle timer is UNKNOWN (no value this
	// run): not comparable, never agreement.
	ic := checkOf(s.Report(), "idle")
	if ic.Seyren.VsPromQL.Agree != 0 || ic.Seyren.VsPromQL.NotComparableReasons[shadow.SeyrenNoValue] == 0 {
		t.Errorf("idle: %+v, want not comparable (%s)", ic.Seyren.VsPromQL, shadow.SeyrenNoValue)
	}

	// Seyren turns ERROR where both other sides stay WARN: a disagreement.
	srv.SetCheckState("queue", shadow.Error, time.Now().UnixMilli())
	// The first reading after Seyren's change may be the same transition
	// one evaluation apart (window_edge); it stays apart, so unexplained.
	eventually(t, "an unexplained Seyren disagreement", func() bool {
		s.Compare(context.Background(), "queue", time.Now(), prom(shadow.Warn, 150))
		c := checkOf(s.Report(), "queue")
		return c.Seyren.VsPromQL.Reasons[shadow.ReasonUnexplained] >= 1 && c.Seyren.VsEmulator.Reasons[shadow.ReasonUnexplained] >= 1
	})
	c = checkOf(s.Report(), "queue")
	if c.Seyren.VsPromQL.Reasons[shadow.ReasonWindowEdge] > 1 {
		t.Errorf("Seyren ERROR vs PromQL WARN: reasons %v, want at most the first reading as window_edge", c.Seyren.VsPromQL.Reasons)
	}
	if v := gaugeValue(t, reg, "copenhagen_shadow_state", map[string]string{"check_id": "queue", "side": "seyren"}); v != float64(shadow.Error) {
		t.Errorf("copenhagen_shadow_state{side=seyren} %v, want %d", v, shadow.Error)
	}
	rep := s.Report()
	if !strings.Contains(rep.Sources["seyren"], srv.URL) || !strings.Contains(string(rep.Markdown()), "| queue (`queue`) |") {
		t.Errorf("sources %v / markdown:\n%s", rep.Sources, rep.Markdown())
	}

	// Seyren unreachable: counted; the comparisons of the other sides go on.
	before := counter(t, reg, "copenhagen_shadow_seyren_requests_total", "http_error")
	srv.SetDown(true)
	eventually(t, "Seyren's outage counted", func() bool {
		return counter(t, reg, "copenhagen_shadow_seyren_requests_total", "http_error") >= before+2
	})
	evals := checkOf(s.Report(), "queue").Evaluations
	if o, _ := s.Compare(context.Background(), "queue", time.Now(), prom(shadow.Warn, 150)); o.Result != shadow.ResultAgree {
		t.Errorf("during Seyren's outage: %+v, want the emulator and PromQL still compared", o)
	}
	if checkOf(s.Report(), "queue").Evaluations != evals+1 {
		t.Errorf("evaluations not counted during Seyren's outage")
	}
}

// metricValue is the value of the first counter or gauge named name
// whose labels include want; ok is false when there is none.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) (v float64, ok bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			got := map[string]string{}
			for _, l := range m.GetLabel() {
				got[l.GetName()] = l.GetValue()
			}
			for k, v := range want {
				if got[k] != v {
					continue next
				}
			}
			if c := m.GetCounter(); c != nil {
				return c.GetValue(), true
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// counter is a counter's value by result label, 0 before it is counted.
func counter(t *testing.T, reg *prometheus.Registry, name, result string) float64 {
	t.Helper()
	v, _ := metricValue(t, reg, name, map[string]string{"result": result})
	return v
}

func gaugeValue(t *testing.T, reg *prometheus.Registry, name string, want map[string]string) float64 {
	t.Helper()
	v, ok := metricValue(t, reg, name, want)
	if !ok {
		t.Fatalf("no %s%v", name, want)
	}
	return v
}
