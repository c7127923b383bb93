package graphiteweb_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb/legacytest"
)

// A StatsD counter sent to the real etsy statsd reaches carbon and is
// rendered by the real graphite-web, with Seyren's window pinned by now=:
// the path the shadow's Graphite side reads.
func TestLegacyStackCounterRendered(t *testing.T) {
	st := legacytest.Start(t)
	conn, err := net.Dial("udp", st.StatsdAddr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// 7 increments per flush, for a few flushes.
	deadline := time.Now().Add(60 * time.Second)
	c, err := graphiteweb.NewClient(st.GraphiteURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got float64
	found := false
	for !found && time.Now().Before(deadline) {
		for i := 0; i < 7; i++ {
			fmt.Fprintf(conn, "legacytest.hits:1|c")
		}
		time.Sleep(st.FlushInterval)
		series, err := c.Render(context.Background(), graphiteweb.Request{
			Target: "stats_counts.legacytest.hits", From: "-2minutes", Until: "now", Now: time.Now().Add(time.Second), NoCache: true,
		})
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		for _, s := range series {
			if s.Target != "stats_counts.legacytest.hits" {
				t.Fatalf("unexpected series %q", s.Target)
			}
			if step := s.Step(); step != 1 {
				t.Fatalf("step %d, want the 1s finest archive", step)
			}
			if p, ok := s.LastNonNull(); ok && p.Value > 0 {
				got, found = p.Value, true
			}
		}
	}
	if !found {
		t.Fatal("counter never rendered by graphite-web")
	}
	// Each flush carries the increments received since the previous one:
	// with 7 sent per flush interval, a flush holds 7 (or 14 when two
	// batches fell into one flush); never a fraction.
	if got != 7 && got != 14 {
		t.Fatalf("stats_counts.legacytest.hits = %v, want 7 (one flush's count)", got)
	}

	// now= in the past moves the window: nothing was sent an hour ago.
	old, err := c.Render(context.Background(), graphiteweb.Request{
		Target: "stats_counts.legacytest.hits", From: "-11minutes", Until: "-1minutes", Now: time.Now().Add(-time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range old {
		if p, ok := s.LastNonNull(); ok {
			t.Fatalf("an hour ago the counter had no point, got %v at %d", p.Value, p.Time)
		}
	}

	// A target matching nothing is an empty answer, not an error.
	none, err := c.Render(context.Background(), graphiteweb.Request{Target: "stats.no.such.metric", From: "-11minutes", Until: "-1minutes"})
	if err != nil || len(none) != 0 {
		t.Fatalf("missing metric: %v, %d series", err, len(none))
	}

	// graphite-web down: a network error, kind network_error.
	st.StopGraphite()
	_, err = c.Render(context.Background(), graphiteweb.Request{Target: "stats_counts.legacytest.hits"})
	var re *graphiteweb.RenderError
	if !asRenderError(err, &re) || re.Kind != graphiteweb.KindNetwork {
		t.Fatalf("graphite-web stopped: got %v", err)
	}
}

func asRenderError(err error, re **graphiteweb.RenderError) bool {
	e, ok := err.(*graphiteweb.RenderError)
	if ok {
		*re = e
	}
	return ok
}
