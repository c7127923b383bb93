package config

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func wantGraphiteDefault() GraphiteConfig {
	return GraphiteConfig{
		TCP: ":2003", UDP: ":2003", Pickle: ":2004",
		Relay:             GraphiteRelayConfig{Mode: "first", QueueSize: 8 << 20},
		MaxSeries:         1000000,
		SeriesIdleTimeout: time.Hour,
		MaxLineLength:     16 << 10,
		MaxPickleFrame:    4 << 20,
		ReadBuffer:        32 << 20,
		TCPMaxConnections: 1024,
		TCPIdleTimeout:    5 * time.Minute,
		MaxFuture:         10 * time.Minute,
		LabelLimits:       wantLabelLimitsDefault(),
	}
}

func TestGraphiteDefaults(t *testing.T) {
	g := Default().Graphite
	if g.TCP != ":2003" || g.UDP != ":2003" || g.Pickle != ":2004" || g.MappingFile != "" ||
		g.Relay.Mode != "first" || len(g.Relay.Routes) != 0 || g.MaxSeries <= 0 || g.MaxPickleFrame != 4<<20 {
		t.Fatalf("defaults: %+v", g)
	}
}

func TestGraphiteRelayRoutes(t *testing.T) {
	c, err := Parse([]byte(`
graphite:
  tcp: ""
  pickle: "127.0.0.1:12004"
  relay:
    mode: all
    queue_size: 1MiB
    routes:
      - match: "^collectd\\."
        targets: ["carbon-a.example.com:2003", "10.0.0.8:2003"]
      - targets: ["carbon-b.example.com:2003"]
  series_idle_timeout: 2h
`), "c.yml")
	if err != nil {
		t.Fatal(err)
	}
	g := c.Graphite
	if g.TCP != "" || g.UDP != ":2003" || g.Pickle != "127.0.0.1:12004" || g.SeriesIdleTimeout != 2*time.Hour {
		t.Fatalf("listeners: %+v", g)
	}
	r := g.Relay
	if r.Mode != "all" || r.QueueSize != 1<<20 || len(r.Routes) != 2 || r.Routes[0].Match != `^collectd\.` ||
		len(r.Routes[0].Targets) != 2 || r.Routes[1].Match != "" {
		t.Fatalf("relay: %+v", r)
	}
}

func TestGraphiteValidationErrorsPointAtTheLine(t *testing.T) {
	_, err := Parse([]byte(`graphite:
  udp: "nope"
  relay:
    mode: some
    routes:
      - match: "^collectd\\."
        targets: ["carbon:2003"]
      - match: "(unclosed"
        targets: ["carbon:2003", "no-port"]
      - match: "x"
  max_pickle_frame: 0
`), "c.yml")
	var list ErrorList
	if !errors.As(err, &list) {
		t.Fatalf("err = %v", err)
	}
	want := []string{
		`c.yml:2: graphite.udp: expected host:port like ":2003"`,
		`c.yml:4: graphite.relay.mode: expected "first" or "all", got "some"`,
		`c.yml:8: graphite.relay.routes[1].match: invalid regular expression "(unclosed": missing closing ): ` + "`(unclosed`",
		`c.yml:9: graphite.relay.routes[1].targets[1]: expected host:port`,
		`c.yml:10: graphite.relay.routes[2].targets: a route needs at least one target`,
		`c.yml:11: graphite.max_pickle_frame: must be greater than 0`,
	}
	got := err.Error()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in:\n%s", w, got)
		}
	}
	if len(list) != len(want) {
		t.Errorf("%d errors, want %d:\n%s", len(list), len(want), got)
	}
}
