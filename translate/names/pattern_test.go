package names

import (
	"regexp"
	"strings"
	"testing"
)

// seg builds a PatternSegment from a tiny glob syntax: "x" literal,
// "a|b" alternatives, "*" open.
func seg(s string) PatternSegment {
	if s == "*" {
		return PatternSegment{Match: func(string) bool { return true }, Regex: ".*", EscapedRegex: ".*"}
	}
	return PatternSegment{Values: strings.Split(s, "|")}
}

func segs(p string) []PatternSegment {
	var out []PatternSegment
	for _, s := range strings.Split(p, ".") {
		out = append(out, seg(s))
	}
	return out
}

func render(c Case) string {
	if c.Drop {
		return "drop " + c.Rule.Match
	}
	var b strings.Builder
	b.WriteString(c.Name.Value)
	if c.Name.Regex {
		b.WriteString("~")
	}
	for _, l := range c.Labels {
		op := "="
		switch {
		case l.Regex && l.Neg:
			op = "!~"
		case l.Regex:
			op = "=~"
		}
		b.WriteString(" " + l.Name + op + l.Value)
	}
	return b.String()
}

const patternRules = `
mappings:
- match: "queue.*.dead"
  name: "queue_items"
  labels: {queue: "$1", state: "dead_letter"}
- match: "queue.*.*"
  name: "queue_items"
  labels: {queue: "$1", state: "$2"}
- match: "*.http.*.*"
  match_metric_type: counter
  name: "http_requests_total"
  labels: {app: "$1", route: "$2", code: "$3"}
- match: "shop.*.orders"
  name: "shop_orders"
- match: "*.debug.*"
  action: drop
  name: "dropped"
- match: "api.*.calls"
  name: "api_${1}_calls"
- match: "legacy\\.(.*)"
  match_type: regex
  name: "legacy_${1}"
`

func TestMapPattern(t *testing.T) {
	m, err := Parse([]byte(patternRules), "rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		pattern string
		typ     MetricType
		want    []string
		amb     string
	}{
		// The literal a rule has at a glob position is tried on its own: the
		// earlier rule wins for it, and the later rule's selector excludes it.
		{"queue.*.*", Gauge, []string{"queue_items queue=~.* state=dead_letter", "queue_items queue=~.* state=~.* state!~dead"}, ""},
		{"queue.mail.dead", Gauge, []string{"queue_items queue=mail state=dead_letter"}, ""},
		{"queue.mail.sent|dead", Gauge, []string{"queue_items queue=mail state=sent", "queue_items queue=mail state=dead_letter"}, ""},
		// match_metric_type: the counter rule does not take gauges.
		{"web.http.*.200", Counter, []string{"http_requests_total app=web code=200 route=~.*"}, ""},
		{"web.http.*.200", Gauge, []string{"web_http_.*_200~"}, ""},
		// A rule that keeps the glob in no label.
		{"shop.*.orders", Gauge, []string{"shop_orders"}, ""},
		// Drop rules are cases too; the caller decides.
		{"app.*.x", Gauge, []string{"drop *.debug.*", "app_.*_x~"}, ""},
		// A glob that becomes part of the metric name.
		// (and api.debug.calls is dropped: the drop rule has "debug" there).
		{"api.*.calls", Gauge, []string{"drop *.debug.*", "api_.*_calls~"}, ""},
		// Regex rules cannot be intersected with a glob.
		{"legacy.*", Gauge, nil, "regex mapping rule"},
		{"legacy.a", Gauge, []string{"legacy_a"}, ""},
	}
	for _, c := range cases {
		res := m.MapPattern(segs(c.pattern), c.typ, nil)
		if c.amb != "" {
			if !strings.Contains(res.Ambiguous, c.amb) {
				t.Errorf("%s: ambiguous = %q, want %q", c.pattern, res.Ambiguous, c.amb)
			}
			continue
		}
		if res.Ambiguous != "" {
			t.Errorf("%s: ambiguous: %s", c.pattern, res.Ambiguous)
			continue
		}
		var got []string
		for _, cs := range res.Cases {
			got = append(got, render(cs))
		}
		if strings.Join(got, "\n") != strings.Join(c.want, "\n") {
			t.Errorf("%s (%s):\ngot  %q\nwant %q", c.pattern, c.typ, got, c.want)
		}
	}
}

// For literal patterns MapPattern must say exactly what Map says.
func TestMapPatternAgreesWithMap(t *testing.T) {
	m, err := Parse([]byte(patternRules), "rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"queue.a.dead", "queue.a.b", "web.http.get.200", "shop.x.orders", "app.debug.x", "api.v1.calls", "legacy.x", "other.thing", "9lives.x"} {
		for _, typ := range []MetricType{Counter, Gauge, Observer} {
			res := m.MapPattern(segs(name), typ, nil)
			if res.Ambiguous != "" || len(res.Cases) != 1 {
				t.Fatalf("%s: %+v", name, res)
			}
			c := res.Cases[0]
			r := m.Map(name, typ)
			if r.Drop != c.Drop {
				t.Errorf("%s %s: drop %v vs %v", name, typ, c.Drop, r.Drop)
				continue
			}
			if r.Drop {
				continue
			}
			if c.Name.Regex || c.Name.Value != r.Name || len(c.Labels) != len(r.Labels) {
				t.Errorf("%s %s: %s vs %s %v", name, typ, render(c), r.Name, r.Labels)
			}
			for _, l := range c.Labels {
				if l.Regex || r.Labels[l.Name] != l.Value {
					t.Errorf("%s %s: label %+v vs %v", name, typ, l, r.Labels)
				}
			}
		}
	}
}

func TestMapPatternNodes(t *testing.T) {
	m, err := Parse([]byte(patternRules), "rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	res := m.MapPattern(segs("web.http.*.200|500"), Counter, nil)
	if len(res.Cases) != 2 {
		t.Fatalf("cases: %+v", res.Cases)
	}
	c := res.Cases[0]
	want := []PatternNode{{Kind: NodeConst, Value: "web", Label: "app"}, {Kind: NodeConst, Value: "http"}, {Kind: NodeLabel, Label: "route"}, {Kind: NodeConst, Value: "200", Label: "code"}}
	for i, n := range c.Nodes {
		if n != want[i] {
			t.Errorf("node %d = %+v, want %+v", i, n, want[i])
		}
	}
	if n := m.MapPattern(segs("shop.*.orders"), Gauge, nil).Cases[0].Nodes[1]; n.Kind != NodeMerged {
		t.Errorf("shop.*.orders node 1 = %+v, want merged", n)
	}
	if n := m.MapPattern(segs("api.*.calls"), Gauge, nil).Cases[1].Nodes[1]; n.Kind != NodeName {
		t.Errorf("api.*.calls node 1 = %+v, want in the name", n)
	}
	// Regexes are anchored by the caller; they must compile.
	for _, cs := range m.MapPattern(segs("queue.*.*"), Gauge, nil).Cases {
		for _, l := range cs.Labels {
			if _, err := regexp.Compile("^(?:" + l.Value + ")$"); err != nil {
				t.Errorf("%+v: %v", l, err)
			}
		}
	}
}

func TestMapPatternTooMany(t *testing.T) {
	m := Empty()
	var ps []PatternSegment
	for i := 0; i < 5; i++ {
		ps = append(ps, seg("a|b|c|d"))
	}
	if res := m.MapPattern(ps, Gauge, nil); res.Ambiguous == "" {
		t.Fatalf("4^5 combinations accepted: %d cases", len(res.Cases))
	}
}
