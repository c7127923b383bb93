package shadow

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb"
	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

// blockingGraphite never answers until released: a hung graphite-web.
type blockingGraphite struct{ release chan struct{} }

func (b blockingGraphite) Render(ctx context.Context, _ graphiteweb.Request) ([]graphiteweb.Series, error) {
	select {
	case <-b.release:
	case <-ctx.Done():
		return nil, &graphiteweb.RenderError{Kind: graphiteweb.KindTimeout, Err: ctx.Err()}
	}
	return nil, nil
}

func (blockingGraphite) URL(graphiteweb.Request) string { return "http://graphite/render" }

// A hung graphite-web never delays evaluation: Observe returns at once,
// evaluations beyond the queue are skipped and counted, renders time out
// and are counted, and nothing is counted as agreeing.
func TestObserveNeverBlocks(t *testing.T) {
	checks, err := seyren.ParseChecks([]byte(`[{"id": "a", "target": "stats.gauges.x", "warn": "1", "error": "2", "enabled": true}]`))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	g := blockingGraphite{release: make(chan struct{})}
	defer close(g.release)
	s, err := New(Options{
		Graphite: g, Checks: checks, Concurrency: 1, Queue: 1, Timeout: 300 * time.Millisecond, Registerer: reg,
		QueryFunc: func(context.Context, string, time.Time) (promql.Vector, error) { return nil, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	group := rules.NewGroup(rules.GroupOptions{Name: GroupPrefix + "a", Interval: time.Second, Opts: &rules.ManagerOptions{}})
	other := rules.NewGroup(rules.GroupOptions{Name: "not-imported", Interval: time.Second, Opts: &rules.ManagerOptions{}})
	start := time.Now()
	for i := 0; i < 20; i++ {
		s.Observe(context.Background(), group, start.Add(time.Duration(i)*time.Second))
		s.Observe(context.Background(), other, start)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("40 Observe calls took %v with graphite-web hung", d)
	}
	skipped := testutil.ToFloat64(s.m.requests.WithLabelValues("skipped_busy"))
	if skipped < 15 {
		t.Fatalf("skipped_busy %v, want the evaluations beyond the worker and its queue", skipped)
	}
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(s.m.requests.WithLabelValues(graphiteweb.KindTimeout)) < 1 {
		if time.Now().After(deadline) {
			t.Fatal("no render timed out")
		}
		time.Sleep(20 * time.Millisecond)
	}
	rep := s.Report()
	if len(rep.Checks) != 1 || rep.Checks[0].Agree != 0 || rep.Checks[0].NotComparableReasons[NCGraphiteUnreachable] == 0 {
		t.Fatalf("report %+v", rep.Checks)
	}
}
