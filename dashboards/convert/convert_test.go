package convert

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteql"
)

func decode(t testing.TB, b []byte) map[string]any {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return d
}

// allPanels lists the panels of a dashboard, those of rows included.
func allPanels(d map[string]any) []map[string]any {
	var out []map[string]any
	var walk func([]any)
	walk = func(ps []any) {
		for _, x := range ps {
			p, _ := x.(map[string]any)
			out = append(out, p)
			if nested, ok := p["panels"].([]any); ok {
				walk(nested)
			}
		}
	}
	ps, _ := d["panels"].([]any)
	walk(ps)
	return out
}

// The fields a conversion does not own are kept as they were: layout,
// rows and collapsed rows with their panels, repeats, links, titles,
// descriptions, time settings and ids.
func TestKeepsWhatItDoesNotOwn(t *testing.T) {
	r := testResolver(t)
	ins, _ := filepath.Glob(filepath.Join("testdata", "in", "*.json"))
	for _, in := range ins {
		data, _ := os.ReadFile(in)
		out, _, err := Convert(data, Options{Resolver: r})
		if err != nil {
			t.Fatal(err)
		}
		before, after := decode(t, data), decode(t, out)
		for _, k := range []string{"uid", "title", "tags", "time", "refresh", "timezone", "version", "description", "graphTooltip"} {
			if !reflect.DeepEqual(before[k], after[k]) {
				t.Errorf("%s: dashboard %s changed: %v -> %v", in, k, before[k], after[k])
			}
		}
		bp, ap := allPanels(before), allPanels(after)
		if len(bp) != len(ap) {
			t.Fatalf("%s: %d panels became %d", in, len(bp), len(ap))
		}
		for i := range bp {
			for _, k := range []string{"id", "gridPos", "title", "repeat", "repeatDirection", "maxPerRow", "collapsed", "transparent", "timeFrom", "timeShift", "interval", "maxDataPoints"} {
				if bp[i][k] != nil && !reflect.DeepEqual(bp[i][k], ap[i][k]) {
					t.Errorf("%s: panel %v %s changed: %v -> %v", in, bp[i]["id"], k, bp[i][k], ap[i][k])
				}
			}
			if d, _ := bp[i]["description"].(string); d != "" && !strings.HasPrefix(ap[i]["description"].(string), d) {
				t.Errorf("%s: panel %v description lost", in, bp[i]["id"])
			}
			if bt, ok := bp[i]["targets"].([]any); ok && len(bt) != len(ap[i]["targets"].([]any)) {
				t.Errorf("%s: panel %v: %d targets became %d", in, bp[i]["id"], len(bt), len(ap[i]["targets"].([]any)))
			}
		}
	}
}

func target(t *testing.T, out []byte, panelID float64, ref string) map[string]any {
	t.Helper()
	for _, p := range allPanels(decode(t, out)) {
		if p["id"] != panelID {
			continue
		}
		for _, x := range p["targets"].([]any) {
			tg := x.(map[string]any)
			if tg["refId"] == ref {
				tg["_panel"] = p
				return tg
			}
		}
	}
	t.Fatalf("no target %s in panel %v", ref, panelID)
	return nil
}

func TestTargets(t *testing.T) {
	data, _ := os.ReadFile(filepath.Join("testdata", "in", "v16-catalog-overview.json"))
	out, rep, err := Convert(data, Options{Resolver: testResolver(t), DatasourceUID: "vm"})
	if err != nil {
		t.Fatal(err)
	}
	// Helper targets used through #A stay hidden; the #A is expanded.
	a := target(t, out, 1, "A")
	if a["hide"] != true || !strings.Contains(a["expr"].(string), `code=~"5.*"`) {
		t.Errorf("helper target A: %v", a)
	}
	c := target(t, out, 1, "C")
	if c["hide"] != nil || c["legendFormat"] != "errors %" || !strings.HasPrefix(c["expr"].(string), "100 * sum(") {
		t.Errorf("target C (asPercent(#A, #B)): %v", c)
	}
	if ds := c["datasource"].(map[string]any); ds["uid"] != "vm" || ds["type"] != "prometheus" {
		t.Errorf("data source %v", ds)
	}
	// The untranslated target stays, hidden, on Graphite; the panel is
	// Mixed and says why in its description.
	b := target(t, out, 4, "B")
	p := b["_panel"].(map[string]any)
	if b["hide"] != true || b["target"] != "holtWintersForecast(stats.catalog.http.get_program.200)" ||
		b["datasource"].(map[string]any)["type"] != "graphite" {
		t.Errorf("untranslated target: %v", b)
	}
	if p["datasource"].(map[string]any)["uid"] != "-- Mixed --" || !strings.Contains(p["description"].(string), "holtWintersForecast has no PromQL equivalent") {
		t.Errorf("panel of the untranslated target: %v %v", p["datasource"], p["description"])
	}
	var found bool
	for _, pr := range rep.Panels {
		for _, tr := range pr.Targets {
			if tr.Status == graphiteql.Untranslated {
				found = tr.Reason == "untranslated: holtWintersForecast has no PromQL equivalent"
			}
		}
	}
	if !found {
		t.Errorf("report lacks the untranslated target's reason")
	}
	// Multi-value and All: regex matchers on ${var:regex}, custom All
	// value as a regex.
	if e := target(t, out, 5, "A")["expr"].(string); !strings.Contains(e, `host=~"${host:regex}"`) {
		t.Errorf("repeat panel matcher: %s", e)
	}
	d := decode(t, out)
	route := d["templating"].(map[string]any)["list"].([]any)[0].(map[string]any)
	if route["allValue"] != ".*" || route["regex"] != "/^get_/" || route["multi"] != true || route["includeAll"] != true {
		t.Errorf("route variable %v", route)
	}
	if q := route["query"].(map[string]any)["query"]; q != `label_values({__name__=~"http_request_duration_seconds|http_requests_total",app="catalog"}, route)` {
		t.Errorf("route query %v", q)
	}
}

func TestInputsAndRequires(t *testing.T) {
	data, _ := os.ReadFile(filepath.Join("testdata", "in", "v27-thumbnails-export.json"))
	out, _, err := Convert(data, Options{Resolver: testResolver(t)})
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	if strings.Contains(s, "DS_GRAPHITE") || strings.Contains(s, `"graphite"`) || strings.Contains(s, `"graph"`) || strings.Contains(s, `"singlestat"`) {
		t.Errorf("Graphite references left:\n%s", s)
	}
	d := decode(t, out)
	in := d["__inputs"].([]any)[0].(map[string]any)
	if in["name"] != "DS_PROMETHEUS" || in["pluginId"] != "prometheus" || in["type"] != "datasource" {
		t.Errorf("input %v", in)
	}
	if ds := target(t, out, 1, "A")["datasource"].(map[string]any); ds["uid"] != "${DS_PROMETHEUS}" {
		t.Errorf("target data source %v", ds)
	}
	// targetFull wins over target with #A.
	if e := target(t, out, 1, "B")["expr"]; e != `worker_queue_messages{app="thumbnails",queue="resize"} offset 1w` {
		t.Errorf("targetFull: %v", e)
	}
}

func TestLegacyPanels(t *testing.T) {
	data, _ := os.ReadFile(filepath.Join("testdata", "in", "v16-catalog-overview.json"))
	out, _, err := Convert(data, Options{Resolver: testResolver(t)})
	if err != nil {
		t.Fatal(err)
	}
	ps := map[float64]map[string]any{}
	for _, p := range allPanels(decode(t, out)) {
		if id, ok := p["id"].(float64); ok {
			ps[id] = p
		}
	}
	get := func(x any, path ...string) any {
		for _, k := range path {
			x = x.(map[string]any)[k]
		}
		return x
	}
	g := ps[1]
	if g["type"] != "timeseries" || get(g, "fieldConfig", "defaults", "unit") != "percent" || get(g, "fieldConfig", "defaults", "max") != 100.0 ||
		get(g, "fieldConfig", "defaults", "custom", "axisLabel") != "errors" || get(g, "options", "legend", "displayMode") != "table" ||
		get(g, "options", "tooltip", "mode") != "multi" || get(g, "options", "tooltip", "sort") != "desc" ||
		get(g, "fieldConfig", "defaults", "custom", "thresholdsStyle", "mode") != "line+area" {
		t.Errorf("graph -> timeseries: %v", g)
	}
	if calcs := get(g, "options", "legend", "calcs").([]any); len(calcs) != 2 || calcs[0] != "max" || calcs[1] != "lastNotNull" {
		t.Errorf("legend calcs %v", calcs)
	}
	ovs := get(g, "fieldConfig", "overrides").([]any)
	names := map[string]bool{}
	for _, o := range ovs {
		names[get(o, "matcher", "options").(string)+"/"+get(o, "matcher", "id").(string)] = true
	}
	for _, want := range []string{"errors %/byName", "error threshold/byName", "/5xx//byRegexp"} {
		if !names[want] {
			t.Errorf("override %s missing in %v", want, names)
		}
	}
	s := ps[2]
	if s["type"] != "stat" || get(s, "options", "colorMode") != "value" || get(s, "options", "graphMode") != "area" ||
		get(s, "fieldConfig", "defaults", "decimals") != 1.0 || get(s, "options", "reduceOptions", "calcs").([]any)[0] != "mean" {
		t.Errorf("singlestat -> stat: %v", s)
	}
	// Inverse thresholds (red first) keep their order of colours.
	steps := get(s, "fieldConfig", "defaults", "thresholds", "steps").([]any)
	if len(steps) != 3 || get(steps[0], "color") != "#d44a3a" || get(steps[1], "value") != 50.0 || get(steps[2], "color") != "#299c46" {
		t.Errorf("thresholds %v", steps)
	}
	if m := get(s, "fieldConfig", "defaults", "mappings").([]any); len(m) != 1 || get(m[0], "type") != "special" || get(m[0], "options", "result", "text") != "N/A" {
		t.Errorf("value maps %v", m)
	}
	if ps[3]["type"] != "text" || !strings.HasPrefix(get(ps[3], "options", "content").(string), "# Catalog") {
		t.Errorf("text panel %v", ps[3])
	}
	if get(ps[4], "fieldConfig", "defaults", "custom", "stacking", "mode") != "normal" || get(ps[4], "fieldConfig", "defaults", "custom", "lineInterpolation") != "stepAfter" {
		t.Errorf("stacked stepped graph: %v", ps[4]["fieldConfig"])
	}
}

func TestRejects(t *testing.T) {
	r := testResolver(t)
	for _, in := range []string{`[]`, `{"rows": [], "schemaVersion": 14}`, `not json`, `{"schemaVersion": 12, "panels": []}`} {
		if _, _, err := Convert([]byte(in), Options{Resolver: r}); err == nil {
			t.Errorf("%s: no error", in)
		}
	}
	if _, _, err := Convert([]byte(`{"panels":[]}`), Options{Resolver: r, MaxBytes: 5}); err == nil {
		t.Errorf("no size limit")
	}
}

// #references that multiply (each level naming the next many times) are
// refused once the expansion is too long, not expanded exponentially.
func TestExpansionBounded(t *testing.T) {
	refs := map[string]string{}
	for c := 'A'; c < 'J'; c++ {
		next := string(c + 1)
		refs[string(c)] = "sumSeries(" + strings.Repeat("#"+next+",", 20) + "#" + next + ")"
	}
	refs["J"] = "a.b"
	if _, err := expand("#A", refs, 0); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("expansion: %v", err)
	}
}

func FuzzConvert(f *testing.F) {
	ins, _ := filepath.Glob(filepath.Join("testdata", "in", "*.json"))
	for _, in := range ins {
		data, _ := os.ReadFile(in)
		f.Add(data)
	}
	f.Add([]byte(`{"panels":[{"type":"row","panels":[{"type":"graph","targets":[{"target":"#A"},{"refId":"A","target":"#B"},{"refId":"B","target":"#A"}]}]}]}`))
	r := testResolver(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _, err := Convert(data, Options{Resolver: r})
		if err == nil && !json.Valid(out) {
			t.Fatalf("invalid JSON output")
		}
	})
}

func BenchmarkConvert(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "in", "v16-catalog-overview.json"))
	if err != nil {
		b.Fatal(err)
	}
	r := testResolver(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := Convert(data, Options{Resolver: r}); err != nil {
			b.Fatal(err)
		}
	}
}

// Graphite find queries become label_values() over the series below
// them; chained variables stay in the selector as regex matchers.
func TestLabelValues(t *testing.T) {
	c := &conv{opts: Options{Resolver: testResolver(t)}}
	cases := []struct{ query, want, err string }{
		{"stats.timers.catalog.http.*", `label_values(http_request_duration_seconds_count{app="catalog"}, route)`, ""},
		{"stats.catalog.http.$route.*", `label_values({__name__=~"http_request_duration_seconds|http_requests_total",app="catalog",route=~"${route:regex}"}, code)`, ""},
		{"stats.gauges.thumbnails.worker.queue.*", `label_values(worker_queue_messages{app="thumbnails"}, queue)`, ""},
		// The carbon rules with a host node (load, cpu) at the depths tried.
		{"servers.front*", `label_values({__name__=~"node_cpu_percent|node_load",host=~"front.*"}, host)`, ""},
		{"servers.*.load.load.*", `label_values(node_load, period)`, ""},
		{"sumSeries(stats.catalog.*)", "", "not a metric path"},
		{"cron.*", "", "kept in no label"},
	}
	for _, tc := range cases {
		got, err := c.labelValues(tc.query)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: %q, %v; want an error with %q", tc.query, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s:\n got %s (%v)\nwant %s", tc.query, got, err, tc.want)
		}
	}
	for glob, want := range map[string]string{"*": ".*", "{a,b}": "(a|b)", "front*": "front.*"} {
		if got, err := globRegex(glob); err != nil || got != want {
			t.Errorf("All value %s: %q %v, want %q", glob, got, err, want)
		}
	}
}
