package graphiteql

import (
	"context"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/promqltest"
)

// The data Copenhagen would have stored for a few StatsD and carbon names,
// one sample per 10 s flush, and the values Graphite (fed by etsy statsd
// with the same traffic) would give for them. The traffic is steady so
// that statsd's per-flush values are known exactly:
//   - catalog.http.{get,put}.500 counters: 10 and 20 per flush; get.200: 70
//   - thumbnails.cache.hit / .miss counters: 30 and 10 per flush
//   - catalog.http.get_program.response_time: 10 timings of 200 ms a flush
//   - thumbnails.worker.queue.resize.size gauge: 1, 2, 3, ... one per flush
//   - carbon servers.<host>.load.load.midterm: front01 3, front02 7,
//     back01 20, front03 9 then 1 for the last half (its average over
//     the check window [240 s, 840 s] is (27×9 + 34×1)/61 = 4.54).
//   - carbon cron.a 5 and cron.b 7, unmapped: no labels at all.
const semanticLoad = `
load 10s
  http_requests_total{app="catalog",route="get",code="500"} 0+10x100
  http_requests_total{app="catalog",route="put",code="500"} 0+20x100
  http_requests_total{app="catalog",route="get",code="200"} 0+70x100
  cache_requests_total{app="thumbnails",result="hit"} 0+30x100
  cache_requests_total{app="thumbnails",result="miss"} 0+10x100
  http_request_duration_seconds_sum{app="catalog",route="get_program"} 0+2x100
  http_request_duration_seconds_count{app="catalog",route="get_program"} 0+10x100
  worker_queue_messages{app="thumbnails",queue="resize"} 1+1x100
  node_load{host="front01",period="midterm"} 3x100
  node_load{host="front02",period="midterm"} 7x100
  node_load{host="back01",period="midterm"} 20x100
  node_load{host="front03",period="midterm"} 9x50 1x50
  cron_a 5x100
  cron_b 7x100
`

func TestSemantics(t *testing.T) {
	st := promqltest.LoadedStorage(t, semanticLoad)
	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: 10 * time.Second, LookbackDelta: 5 * time.Minute})
	r := resolvers(t)[""]
	at := time.Unix(900, 0)
	window := TranslateOptions{From: 11 * time.Minute, Until: time.Minute}
	cases := []struct {
		target string
		last   bool               // Seyren semantics over window
		want   map[string]float64 // by the value of label host/route, "" when unlabelled
	}{
		{"sumSeries(stats.catalog.http.*.500)", true, map[string]float64{"": 3}},
		{"sumSeries(stats_counts.catalog.http.*.500)", true, map[string]float64{"": 30}},
		{"stats.catalog.http.get.500", false, map[string]float64{"get": 1}},
		// Gauge: the last value at or before now-1m: the flush at 840 s.
		{"stats.gauges.thumbnails.worker.queue.resize.size", true, map[string]float64{"": 85}},
		{"divideSeries(stats.thumbnails.cache.hit, sumSeries(stats.thumbnails.cache.{hit,miss}))", true, map[string]float64{"": 0.75}},
		{"asPercent(sumSeries(stats.catalog.http.*.5*), sumSeries(stats.catalog.http.*.*))", true, map[string]float64{"": 30}},
		{"stats.timers.catalog.http.get_program.response_time.mean", true, map[string]float64{"get_program": 200}},
		{"stats.timers.catalog.http.get_program.response_time.count", false, map[string]float64{"get_program": 10}},
		{"maxSeries(servers.front*.load.load.midterm)", true, map[string]float64{"": 7}},
		{"currentAbove(servers.*.load.load.midterm, 5)", true, map[string]float64{"front02": 7, "back01": 20}},
		{"averageAbove(servers.front*.load.load.midterm, 5)", true, map[string]float64{"front02": 7}},
		{"highestCurrent(servers.*.load.load.midterm, 1)", true, map[string]float64{"back01": 20}},
		{"groupByNode(servers.*.load.load.midterm, 1, 'sum')", false, map[string]float64{"front01": 3, "front02": 7, "front03": 1, "back01": 20}},
		{"sumSeriesWithWildcards(servers.*.load.load.midterm, 1)", false, map[string]float64{"": 31}},
		{"sumSeries(cron.a, cron.b)", false, map[string]float64{"": 12}},
		{"sumSeries(cron.a, cron.a)", false, map[string]float64{"": 10}},
		{"countSeries(cron.a, cron.b)", false, map[string]float64{"": 2}},
		{"scale(offset(servers.front01.load.load.midterm, 1), 2)", false, map[string]float64{"front01": 8}},
		{"removeBelowValue(servers.front*.load.load.midterm, 5)", false, map[string]float64{"front02": 7}},
		{"movingMax(servers.front03.load.load.midterm, '10min')", false, map[string]float64{"front03": 9}},
		{"timeShift(servers.front03.load.load.midterm, '8min')", false, map[string]float64{"front03": 9}},
	}
	for _, c := range cases {
		var res Result
		if c.last {
			res = TranslateLast(c.target, r, window)
		} else {
			res = Translate(c.target, r, TranslateOptions{})
		}
		if res.Status == Untranslated {
			t.Errorf("%s: %s", c.target, res.Reason)
			continue
		}
		q, err := eng.NewInstantQuery(context.Background(), st, nil, res.PromQL, at)
		if err != nil {
			t.Fatalf("%s: %s: %v", c.target, res.PromQL, err)
		}
		out := q.Exec(context.Background())
		if out.Err != nil {
			t.Errorf("%s: %s: %v", c.target, res.PromQL, out.Err)
			continue
		}
		vec, err := out.Vector()
		if err != nil {
			t.Errorf("%s: %v", c.target, err)
			continue
		}
		got := map[string]float64{}
		for _, s := range vec {
			key := s.Metric.Get("host")
			if key == "" {
				key = s.Metric.Get("route")
			}
			got[key] = s.F
		}
		if !sameValues(got, c.want) {
			t.Errorf("%s\n  %s\n  got %v, Graphite gives %v", c.target, res.PromQL, got, c.want)
		}
		q.Close()
	}
}

func sameValues(a, b map[string]float64) bool {
	if len(a) != len(b) {
		return false
	}
	keys := make([]string, 0, len(a))
	for k := range a {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		w, ok := b[k]
		if !ok || math.Abs(a[k]-w) > 1e-9*math.Max(1, math.Abs(w)) {
			return false
		}
	}
	return true
}
