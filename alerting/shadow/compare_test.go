package shadow

import (
	"errors"
	"math"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb"
	"github.com/copenhagen-obs/copenhagen/translate/names"
	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

func gRun(state State, targets ...TargetResult) RunResult {
	r := RunResult{State: state, Alerting: state, Targets: targets}
	for _, t := range targets {
		if t.Present {
			r.HasValue = true
		}
	}
	return r
}

func gt(name string, v float64, st State, step int64) TargetResult {
	return TargetResult{TargetValue: TargetValue{Target: name, Present: true, Value: v, Text: formatValue(v), Step: step}, State: st}
}

func ps(id string, v float64, st State, lbls map[string]string) PromSide {
	return PromSide{State: st, Series: []PromSeries{{Identity: id, Labels: lbls, Value: v, State: st}}}
}

func TestCompareClasses(t *testing.T) {
	ms := DefaultTimerBuckets
	bucketsMs := make([]float64, len(ms))
	for i, b := range ms {
		bucketsMs[i] = b * 1000
	}
	for _, tc := range []struct {
		name       string
		g          RunResult
		gErr       error
		p          PromSide
		cc         compareContext
		wantResult string
		wantReason string
	}{
		{"agree", gRun(Warn, gt("stats.gauges.q", 150, Warn, 10)), nil, ps("", 150, Warn, nil), compareContext{}, ResultAgree, ""},
		{"graphite down", RunResult{}, errors.New("x"), ps("", 1, OK, nil), compareContext{}, ResultNotComparable, NCGraphiteUnreachable},
		{"infinite", RunResult{Aborted: true}, nil, ps("", 1, OK, nil), compareContext{}, ResultNotComparable, NCGraphiteInfinite},
		{"no data graphite", gRun(Unknown), nil, ps("", 1, OK, nil), compareContext{}, ResultNotComparable, NCNoDataGraphite},
		{"no data promql", gRun(OK, gt("a", 1, OK, 10)), nil, PromSide{State: Unknown}, compareContext{}, ResultNotComparable, NCNoDataPromQL},
		{"no data at all", gRun(Unknown), nil, PromSide{State: Unknown}, compareContext{}, ResultNotComparable, NCNoData},
		{"idle timer NaN", gRun(Error, gt("stats.timers.api.upper_90", 900, Error, 10)), nil, ps("", math.NaN(), OK, nil), compareContext{kind: kindTimerPercentile}, ResultDisagree, ReasonNaN},
		{"rollup", gRun(Warn, gt("stats.gauges.q", 150, Warn, 60)), nil, ps("", 90, OK, nil), compareContext{minStep: 10}, ResultDisagree, ReasonRollup},
		{"coverage at 25%", gRun(Error, gt("stats_counts.hits", 400, Error, 10)), nil, ps("", 100, OK, nil), compareContext{trafficShare: 0.25, kind: kindCounter}, ResultDisagree, ReasonCoverage},
		{"window edge", gRun(Error, gt("stats.gauges.q", 250, Error, 10)), nil, ps("", 150, Warn, nil), compareContext{hasPrev: true, prevGraphite: Warn, prevPromQL: Warn}, ResultDisagree, ReasonWindowEdge},
		// p90 30 ms with buckets 25 and 50 ms: 45 ms is inside the bucket.
		{"histogram bucket", gRun(OK, gt("stats.timers.api.upper_90", 30, OK, 10)), nil, ps("", 45, Warn, nil), compareContext{kind: kindTimerPercentile, bucketsMs: bucketsMs}, ResultDisagree, ReasonHistogramBucket},
		{"timer gap beyond the bucket", gRun(OK, gt("stats.timers.api.upper_90", 30, OK, 10)), nil, ps("", 300, Error, nil), compareContext{kind: kindTimerPercentile, bucketsMs: bucketsMs}, ResultDisagree, ReasonUnexplained},
		// Native, schema 3 (9.05 %): 34.8 ms next to 32 ms is in one
		// exponential bucket (the 1 ms classic bucket would not explain
		// it); 45 ms is not, though the classic 25-50 ms bucket would.
		{"native within its relative bound", gRun(OK, gt("stats.timers.api.upper_90", 32, OK, 10)), nil, ps("", 34.8, Warn, nil), compareContext{kind: kindTimerPercentile, bucketsMs: []float64{31, 32, 33}, nativeRel: 0.0905}, ResultDisagree, ReasonHistogramBucket},
		{"same gap, classic 1 ms buckets", gRun(OK, gt("stats.timers.api.upper_90", 32, OK, 10)), nil, ps("", 34.8, Warn, nil), compareContext{kind: kindTimerPercentile, bucketsMs: []float64{31, 32, 33}}, ResultDisagree, ReasonUnexplained},
		{"same gap as the classic bucket case", gRun(OK, gt("stats.timers.api.upper_90", 30, OK, 10)), nil, ps("", 45, Warn, nil), compareContext{kind: kindTimerPercentile, bucketsMs: bucketsMs}, ResultDisagree, ReasonHistogramBucket},
		{"native beyond its relative bound", gRun(OK, gt("stats.timers.api.upper_90", 30, OK, 10)), nil, ps("", 45, Warn, nil), compareContext{kind: kindTimerPercentile, bucketsMs: bucketsMs, nativeRel: 0.0905}, ResultDisagree, ReasonUnexplained},
		{"counter smoothing", gRun(Warn, gt("stats.api.hits", 12, Warn, 10)), nil, ps("", 9, OK, nil), compareContext{kind: kindCounter}, ResultDisagree, ReasonCounterRate},
		{"counter far off", gRun(Warn, gt("stats.api.hits", 12, Warn, 10)), nil, ps("", 1, OK, nil), compareContext{kind: kindCounter}, ResultDisagree, ReasonUnexplained},
		{"wrong gauge", gRun(Warn, gt("stats.gauges.q", 150, Warn, 10)), nil, ps("", 450, Error, nil), compareContext{hasPrev: true, prevGraphite: Warn, prevPromQL: Error}, ResultDisagree, ReasonUnexplained},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := compare(tc.g, tc.gErr, tc.p, tc.cc)
			if o.Result != tc.wantResult || o.Reason != tc.wantReason {
				t.Fatalf("got %s/%s, want %s/%s", o.Result, o.Reason, tc.wantResult, tc.wantReason)
			}
		})
	}
}

func TestKindOf(t *testing.T) {
	for target, want := range map[string]targetKind{
		"stats.timers.catalog.get.upper_90":         kindTimerPercentile,
		"maxSeries(stats.timers.a.*.upper_95)":      kindTimerPercentile,
		"sumSeries(stats.catalog.http.*.500)":       kindCounter,
		"stats_counts.api.hits":                     kindCounter,
		"stats.gauges.queue.size":                   kindOther,
		"stats.timers.catalog.get.mean":             kindOther,
		"servers.front1.load":                       kindOther,
		"divideSeries(stats.a.err, stats.a.total)":  kindCounter,
		"asPercent(stats.gauges.a, stats.gauges.b)": kindOther,
	} {
		if got := kindOf(target); got != want {
			t.Errorf("kindOf(%s) = %v, want %v", target, got, want)
		}
	}
}

// Multi-series checks pair a PromQL series with the one Graphite target
// holding all its label values; anything ambiguous stays unpaired.
func TestPairSeries(t *testing.T) {
	targets := []TargetResult{gt("stats.catalog.http.get.500", 3, OK, 10), gt("stats.catalog.http.list.500", 9, Error, 10)}
	series := []PromSeries{
		{Identity: "route=list,", Labels: map[string]string{"route": "list"}, Value: 9, State: Error},
		{Identity: "route=get,", Labels: map[string]string{"route": "get"}, Value: 3, State: OK},
		{Identity: "route=put,", Labels: map[string]string{"route": "put"}, Value: 1, State: OK},
	}
	pairs, onlyG, onlyP := pairSeries(targets, series)
	if len(pairs) != 2 || pairs[0].Target != "stats.catalog.http.list.500" || pairs[1].Target != "stats.catalog.http.get.500" {
		t.Fatalf("pairs %+v", pairs)
	}
	if len(onlyG) != 0 || len(onlyP) != 1 || onlyP[0] != "route=put," {
		t.Fatalf("unpaired %v %v", onlyG, onlyP)
	}
	// Per-series states count: same check state, one series differs.
	o := compare(gRun(Error, targets...), nil, PromSide{State: Error, Series: []PromSeries{
		{Identity: "route=list,", Labels: map[string]string{"route": "list"}, Value: 9, State: Error},
		{Identity: "route=get,", Labels: map[string]string{"route": "get"}, Value: 30, State: Error},
	}}, compareContext{})
	if o.Result != ResultDisagree {
		t.Fatalf("a series in another state must disagree: %+v", o)
	}
}

func TestVerdict(t *testing.T) {
	for _, tc := range []struct {
		st   CheckStats
		want string
	}{
		{CheckStats{Agree: 10, Episodes: 1, Reasons: map[string]int{ReasonWindowEdge: 2}}, VerdictReady},
		{CheckStats{Agree: 10, Episodes: 0}, VerdictUntested},
		{CheckStats{Agree: 3, Episodes: 2}, VerdictUntested},
		{CheckStats{Agree: 100, Episodes: 3, Disagree: 1, Reasons: map[string]int{ReasonUnexplained: 1}}, VerdictDiverging},
		{CheckStats{Agree: 100, Episodes: 3, Disagree: 1, Reasons: map[string]int{ReasonNaN: 1}}, VerdictDiverging},
		{CheckStats{NotComparable: 50}, VerdictNotComparable},
		// Seyren's own state disagrees with the rules, unexplained: not
		// ready, though the port agrees; explained gaps do not block.
		{CheckStats{Agree: 100, Episodes: 3, Seyren: &SeyrenStats{VsPromQL: SeyrenAgreement{Agree: 90, Disagree: 1, Reasons: map[string]int{ReasonUnexplained: 1}}}}, VerdictDiverging},
		{CheckStats{Agree: 100, Episodes: 3, Seyren: &SeyrenStats{VsPromQL: SeyrenAgreement{Agree: 90, Disagree: 2, Reasons: map[string]int{ReasonWindowEdge: 2}}}}, VerdictReady},
	} {
		if got, why := verdict(&tc.st, 5, 1); got != tc.want {
			t.Errorf("%+v: %s (%s), want %s", tc.st, got, why, tc.want)
		}
	}
}

// TestTimerLayoutFromMapping: a timer check's percentile gap is judged by
// the buckets its own mapping rule gives the timer, or by the native
// histogram's relative bound, not by one shadow-wide list.
func TestTimerLayoutFromMapping(t *testing.T) {
	m, err := names.Parse([]byte(`defaults:
  observer_type: histogram
  histogram_options:
    buckets: [0.01, 0.1, 1]
mappings:
- match: api.*
  name: api_latency_seconds
  histogram_options:
    native_histogram_bucket_factor: 1.1
`), "mapping.yml")
	if err != nil {
		t.Fatal(err)
	}
	f := seyren.TimerHistograms(m)
	for _, tc := range []struct {
		target     string
		wantNative bool
		wantMs     []float64
	}{
		{"stats.timers.api.login.upper_90", true, nil},
		{"maxSeries(stats.timers.api.*.upper_90)", true, nil},
		{"stats.timers.db.query.upper_90", false, []float64{10, 100, 1000}},
		{"stats.gauges.queue", false, nil},
	} {
		d := &checkDef{check: seyren.Check{Target: tc.target}, kind: kindOf(tc.target)}
		d.timerLayout(f)
		if (d.nativeRel > 0) != tc.wantNative || (tc.wantNative && math.Abs(d.nativeRel-0.0905) > 0.001) {
			t.Errorf("%s: nativeRel %v, want native=%v", tc.target, d.nativeRel, tc.wantNative)
		}
		if !slices.Equal(d.bucketsMs, tc.wantMs) {
			t.Errorf("%s: buckets %v ms, want %v", tc.target, d.bucketsMs, tc.wantMs)
		}
	}
}

// TestCounterRamp: rate() over its window averages statsd's per-flush
// rates, so while traffic starts or stops it lags Graphite's last flush
// by more than any fixed share; it still lies between the lowest and the
// highest flush of the window, and a wrong translation does not.
func TestCounterRamp(t *testing.T) {
	const target = "sumSeries(stats.userprefs.http.*.200)"
	ramp := []graphiteweb.Series{{Target: target, Points: points(100, 0, 0, 0, 20, 80, 80)}}
	stop := []graphiteweb.Series{{Target: target, Points: points(100, 80, 80, 80, 80, 0)}}
	steady := []graphiteweb.Series{{Target: target, Points: points(100, 80, 80, 80, 80, 80, 80)}}
	// A counter that did not exist: statsd wrote no flush (null) before.
	born := []graphiteweb.Series{{Target: target, Points: points(100, 0, 0, 0, 1, 1)}}
	for i := 0; i < 3; i++ {
		born[0].Points[i].Null, born[0].Points[i].Text = true, "null"
	}
	expr := `sum(rate(userprefs_http_requests_total{code="200"}[3s]))`
	if w := rateWindow(expr); w != 3*time.Second {
		t.Fatalf("rateWindow = %v", w)
	}
	if w := rateWindow(`last_over_time(((sum(rate(x[1m])) * 60) >= -Inf)[10m:1m] offset 1m) or last_over_time(seyren_check_value[2m])`); w != time.Minute {
		t.Fatalf("rateWindow of an imported check = %v, want 1m (the subqueries are not rate windows)", w)
	}
	for _, tc := range []struct {
		name   string
		series []graphiteweb.Series
		gv, pv float64
		g, p   State
		want   string
	}{
		{"traffic starting", ramp, 80, 34.3, OK, Warn, ReasonCounterRate},
		{"traffic stopped", stop, 0, 40, Error, Warn, ReasonCounterRate},
		{"counter just born", born, 1, 0.367, Warn, OK, ReasonCounterRate},
		{"3x in steady traffic", steady, 80, 240, OK, OK, ""},
		{"3x while starting", ramp, 80, 240, OK, Warn, ReasonUnexplained},
		{"a third in steady traffic", steady, 80, 26, OK, Warn, ReasonUnexplained},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cc := compareContext{kind: kindCounter, flushRange: counterFlushRanges(tc.series, rateWindow(expr))}
			g := gRun(tc.g, gt(target, tc.gv, tc.g, 1))
			o := compare(g, nil, ps("", tc.pv, tc.p, nil), cc)
			if tc.want == "" {
				if o.Result != ResultAgree {
					t.Fatalf("states agree, got %+v", o)
				}
				return
			}
			if o.Result != ResultDisagree || o.Reason != tc.want {
				t.Fatalf("got %s/%s, want disagree/%s (range %v)", o.Result, o.Reason, tc.want, cc.flushRange)
			}
		})
	}
}

// points are one-second points from start.
func points(start int64, vs ...float64) []graphiteweb.Point {
	out := make([]graphiteweb.Point, len(vs))
	for i, v := range vs {
		out[i] = graphiteweb.Point{Time: start + int64(i), Value: v, Text: strconv.FormatFloat(v, 'f', -1, 64)}
	}
	return out
}
