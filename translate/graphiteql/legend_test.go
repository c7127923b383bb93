package graphiteql

import "testing"

// The names graphite-web 1.1.8 gives each target's series (read from its
// functions.py and checked against a running graphite-web by the dashboard
// conversion's differential test), as legendFormats over the mapped labels.
func TestLegendOf(t *testing.T) {
	r := resolvers(t)[""]
	cases := []struct {
		target, format string
		exact          bool
	}{
		{`alias(constantLine(5), 'error threshold')`, "error threshold", true},
		// Named by its value (graphite-web 1.1.8 functions.py constantLine).
		{`constantLine(5)`, "5", true},
		{`constantLine(2.50)`, "2.5", true},
		{`sumSeries(constantLine(5))`, "sumSeries(constantLine(5))", true},
		{`aliasByNode(sumSeriesWithWildcards(stats.catalog.http.$route.*, 4), 3)`, "{{route}}", true},
		// node 3 of the timer path is "http": Graphite named every route so.
		{`aliasByNode(movingAverage(stats.timers.catalog.http.$route.response_time.mean, '5min'), 3)`, "http", true},
		{`aliasByNode(movingAverage(stats.timers.catalog.http.$route.response_time.mean, '5min'), 4)`, "{{route}}", true},
		{`aliasByNode(servers.front*.load.load.midterm, 1)`, "{{host}}", true},
		{`servers.front*.load.load.midterm`, "servers.{{host}}.load.load.midterm", true},
		{`stats.catalog.http.*.500`, "stats.catalog.http.{{route}}.500", true},
		{`sumSeries(stats.catalog.http.*.500)`, "sumSeries(stats.catalog.http.*.500)", true},
		{`sum(stats.catalog.http.$route.500)`, "sumSeries(stats.catalog.http.${route:glob}.500)", true},
		{`averageSeries(stats.catalog.http.a.500, stats.catalog.http.b.500)`, "averageSeries(stats.catalog.http.a.500,stats.catalog.http.b.500)", true},
		{`alias(asPercent(sumSeries(stats.catalog.http.*.5*), sumSeries(stats.catalog.http.*.*)), 'errors %')`, "errors %", true},
		{`asPercent(sumSeries(stats.catalog.http.*.5*), sumSeries(stats.catalog.http.*.*))`, "asPercent(sumSeries(stats.catalog.http.*.5*),sumSeries(stats.catalog.http.*.*))", true},
		{`timeShift(stats.gauges.thumbnails.worker.queue.resize.size, '7d')`, `timeShift(stats.gauges.thumbnails.worker.queue.resize.size, "-7d")`, true},
		{`scale(stats.catalog.http.*.500, 0.5)`, "scale(stats.catalog.http.{{route}}.500,0.5)", true},
		{`movingAverage(stats.gauges.thumbnails.worker.queue.resize.size, 5)`, "movingAverage(stats.gauges.thumbnails.worker.queue.resize.size,5)", true},
		{`aliasByMetric(stats.catalog.http.*.500)`, "500", true},
		{`groupByNode(stats.catalog.http.*.*, 3, 'sum')`, "{{route}}", true},
		{`aliasSub(stats.gauges.thumbnails.worker.queue.resize.size, '^.*queue\.(\w+)\..*$', '\1 queue')`, "resize queue", true},
		{`aliasSub(stats.catalog.http.*.500, '^.*http\.', '')`, "", false},
		{`cactiStyle(stats.catalog.http.*.500)`, "", false},
		{`stats.catalog.*.*.500`, "", false},
		{`aliasByTags(seriesByTag('name=thumbnails.worker.queue', 'queue=~re.*'), 'queue')`, "{{queue}}", true},
		{`aliasByTags(seriesByTag('name=thumbnails.worker.queue'), 'name')`, "", false},
		{`seriesByTag('name=thumbnails.worker.queue')`, "", false},
	}
	for _, c := range cases {
		l := LegendOf(c.target, r)
		if l.Format != c.format || l.Exact != c.exact {
			t.Errorf("%s: legend %q exact=%v (%s), want %q exact=%v", c.target, l.Format, l.Exact, l.Reason, c.format, c.exact)
		}
		if !l.Exact && l.Reason == "" {
			t.Errorf("%s: inexact legend without a reason", c.target)
		}
	}
}

func TestTranslateGraphLegend(t *testing.T) {
	r := resolvers(t)[""]
	res := TranslateGraph(`aliasByNode(servers.front*.load.load.midterm, 1)`, r, TranslateOptions{})
	if res.Legend == nil || res.Legend.Format != "{{host}}" || !res.Legend.Exact {
		t.Fatalf("legend %+v", res.Legend)
	}
	for target, shared := range map[string]bool{
		`aliasByNode(movingAverage(stats.timers.catalog.http.$route.response_time.mean, '5min'), 3)`: true,
		`alias(stats.catalog.http.*.500, 'errors')`:                                                  true,
		`alias(sumSeries(stats.catalog.http.*.500), 'errors')`:                                       false,
		`aliasByNode(stats.catalog.http.*.500, 3)`:                                                   false,
		`alias(stats.catalog.http.get.500, 'get')`:                                                   false,
	} {
		if l := LegendOf(target, r); l.Shared != shared {
			t.Errorf("%s: shared %v, want %v", target, l.Shared, shared)
		}
	}
	res = TranslateGraph(`integral(stats.catalog.http.get.500)`, r, TranslateOptions{})
	if res.Status != Untranslated || res.Legend != nil {
		t.Fatalf("untranslated target with a legend: %+v", res)
	}
}

// Deep nesting costs linear time: each argument's name is worked out once.
func TestLegendDeepNesting(t *testing.T) {
	r := resolvers(t)[""]
	target := "stats.gauges.thumbnails.worker.queue.resize.size"
	for i := 0; i < 90; i++ {
		target = "sumSeries(asPercent(" + target + ", 2))"
	}
	l := LegendOf(target, r)
	if !l.Exact || len(l.Format) < 90*len("sumSeries(asPercent(") {
		t.Fatalf("legend %.80q exact=%v %s", l.Format, l.Exact, l.Reason)
	}
}

func FuzzLegendOf(f *testing.F) {
	for _, s := range []string{`aliasByNode(sumSeriesWithWildcards(stats.catalog.http.$route.*, 4), 3)`, `alias(asPercent(sumSeries(a.*), #A), 'x')`, `aliasSub(a.b, '(', 'x')`} {
		f.Add(s)
	}
	r := resolvers(f)[""]
	f.Fuzz(func(t *testing.T, target string) {
		l := LegendOf(target, r)
		if !l.Exact && l.Reason == "" {
			t.Fatalf("%q: inexact legend without a reason", target)
		}
	})
}
