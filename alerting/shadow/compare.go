package shadow

import (
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb"
)

// Results of one evaluation compared.
const (
	ResultAgree         = "agree"
	ResultDisagree      = "disagree"
	ResultNotComparable = "not_comparable"
)

// Classes of disagreement: the first that explains one is kept
// (classifiers, in that order); Unexplained otherwise.
const (
	ReasonNaN             = "nan"              // PromQL value NaN (histogram_quantile of an idle timer) where Graphite has a value
	ReasonRollup          = "rollup"           // Graphite answered from a coarser archive than the finest one seen
	ReasonCoverage        = "coverage"         // partial ramp: Copenhagen sees only traffic_share of what Graphite sees
	ReasonWindowEdge      = "window_edge"      // the same transition one evaluation apart (flush phase, (from, until] edges)
	ReasonHistogramBucket = "histogram_bucket" // timer percentile: the gap is within the width of the bucket holding it
	ReasonCounterRate     = "counter_rate"     // statsd per-flush rate vs rate() over the window
	ReasonUnexplained     = "unexplained"
)

// Reasons an evaluation cannot be compared.
const (
	NCGraphiteUnreachable = "graphite_unreachable"
	NCGraphiteInfinite    = "graphite_infinite" // 1e9999 aborts Seyren's run
	NCNoData              = "no_data"           // neither side has data
	NCNoDataGraphite      = "no_data_graphite"
	NCNoDataPromQL        = "no_data_promql"
	NCPromQLError         = "promql_error"
	// NCRolledUp: a replay window older than whisper's finest archive;
	// Graphite answered from a rollup, which is not what Seyren saw.
	NCRolledUp = "rolled_up"
)

// PromSeries is one series of an imported check as Copenhagen evaluated
// it: seyren_check_value and the state its alerts gave.
type PromSeries struct {
	// Identity is the series' seyren_series label value ("k=v,...,").
	Identity string            `json:"series"`
	Labels   map[string]string `json:"labels,omitempty"`
	Value    float64           `json:"-"`
	State    State             `json:"state"`
}

// PromSide is Copenhagen's verdict at one instant.
type PromSide struct {
	Series []PromSeries
	// State is the worst over the series (UNKNOWN without series).
	State State
	Err   error
	// PromQL is the check's value expression (the recording rule).
	PromQL string
	// The group's alert conditions, for the settled pass (settle.go).
	alerts   []settleAlert
	alertFor time.Duration
}

// Pair is a Graphite target and a PromQL series taken as the same series.
type Pair struct {
	Target   string `json:"graphite_target"`
	Series   string `json:"promql_series"`
	Graphite State  `json:"graphite"`
	PromQL   State  `json:"promql"`
	GValue   string `json:"graphite_value,omitempty"`
	PValue   string `json:"promql_value,omitempty"`
	gv, pv   float64
	gPresent bool
}

// Outcome is one evaluation compared.
type Outcome struct {
	Result string `json:"result"`
	// Reason is the disagreement's class, or why the evaluation could
	// not be compared; "" when they agree.
	Reason   string `json:"reason,omitempty"`
	Graphite State  `json:"graphite"`
	PromQL   State  `json:"promql"`
	Pairs    []Pair `json:"pairs,omitempty"`
	// Unpaired series, by side (multi-series checks whose names could
	// not be matched): reported, never guessed.
	OnlyGraphite []string `json:"only_graphite,omitempty"`
	OnlyPromQL   []string `json:"only_promql,omitempty"`
}

// context a comparison needs from the check's history.
type compareContext struct {
	kind         targetKind
	minStep      int64 // finest Graphite step seen for the check
	prevGraphite State
	prevPromQL   State
	hasPrev      bool
	trafficShare float64
	bucketsMs    []float64
	// nativeRel > 0: the timer is a native histogram, whose
	// histogram_quantile is within that share of the true value.
	nativeRel float64
	// flushRange is, per Graphite target, the lowest and highest
	// per-flush value within the PromQL side's rate window before the
	// value compared (counterFlushRanges).
	flushRange map[string][2]float64
	rollupNC   bool // a rolled-up answer is not comparable (replay)
}

type targetKind int

const (
	kindOther targetKind = iota
	kindCounter
	kindTimerPercentile
)

var timerPercentile = regexp.MustCompile(`^stats\.timers\..*\.(upper|mean|sum|median)_\d+$`)

// kindOf tells what a target reads, from etsy statsd's naming of the
// paths it holds (legacy namespace).
func kindOf(target string) targetKind {
	paths := strings.FieldsFunc(target, func(r rune) bool { return strings.ContainsRune("(), \t'\"", r) })
	kind := kindOther
	for _, p := range paths {
		switch {
		case timerPercentile.MatchString(p):
			return kindTimerPercentile
		case strings.HasPrefix(p, "stats_counts.") || strings.HasPrefix(p, "stats.counters."):
			kind = kindCounter
		case strings.HasPrefix(p, "stats.") && !strings.HasPrefix(p, "stats.timers.") &&
			!strings.HasPrefix(p, "stats.gauges.") && !strings.HasPrefix(p, "stats.sets.") && !strings.HasPrefix(p, "stats.statsd."):
			kind = kindCounter
		}
	}
	return kind
}

// compare decides one evaluation. g is the emulated Seyren run (or its
// fetch error), p Copenhagen's side.
func compare(g RunResult, gErr error, p PromSide, cc compareContext) Outcome {
	o := Outcome{Graphite: g.Alerting, PromQL: p.State}
	switch {
	case gErr != nil:
		o.Result, o.Reason = ResultNotComparable, NCGraphiteUnreachable
		return o
	case g.Aborted:
		o.Result, o.Reason = ResultNotComparable, NCGraphiteInfinite
		return o
	case p.Err != nil:
		o.Result, o.Reason = ResultNotComparable, NCPromQLError
		return o
	}
	if cc.rollupNC && cc.minStep > 0 {
		for _, t := range g.Targets {
			if t.Step > cc.minStep {
				o.Result, o.Reason = ResultNotComparable, NCRolledUp
				return o
			}
		}
	}
	gData := g.HasValue || g.Alerting > OK
	pData := len(p.Series) > 0
	switch {
	case !gData && !pData:
		o.Result, o.Reason = ResultNotComparable, NCNoData
		return o
	case !gData:
		o.Result, o.Reason = ResultNotComparable, NCNoDataGraphite
		return o
	case !pData:
		o.Result, o.Reason = ResultNotComparable, NCNoDataPromQL
		return o
	}
	o.Pairs, o.OnlyGraphite, o.OnlyPromQL = pairSeries(g.Targets, p.Series)
	agree := g.Alerting == p.State
	for _, pr := range o.Pairs {
		if pr.Graphite != pr.PromQL {
			agree = false
		}
	}
	if agree {
		o.Result = ResultAgree
		return o
	}
	o.Result = ResultDisagree
	o.Reason = classify(g, p, o.Pairs, cc)
	return o
}

// classifiers explain a disagreement, first match wins.
var classifiers = []struct {
	reason string
	match  func(g RunResult, p PromSide, pairs []Pair, cc compareContext) bool
}{
	{ReasonNaN, func(g RunResult, p PromSide, _ []Pair, _ compareContext) bool {
		for _, s := range p.Series {
			if math.IsNaN(s.Value) {
				return true
			}
		}
		return false
	}},
	{ReasonRollup, func(g RunResult, _ PromSide, _ []Pair, cc compareContext) bool {
		for _, t := range g.Targets {
			if cc.minStep > 0 && t.Step > cc.minStep {
				return true
			}
		}
		return false
	}},
	{ReasonCoverage, func(_ RunResult, _ PromSide, pairs []Pair, cc compareContext) bool {
		if cc.trafficShare <= 0 || cc.trafficShare >= 1 {
			return false
		}
		// Sums and counts scale with the share of traffic Copenhagen gets.
		for _, pr := range pairs {
			if pr.gPresent && pr.gv != 0 {
				ratio := pr.pv / pr.gv
				if ratio >= cc.trafficShare/2 && ratio <= math.Min(1, cc.trafficShare*2) {
					return true
				}
			}
		}
		return len(pairs) == 0
	}},
	{ReasonWindowEdge, func(g RunResult, p PromSide, _ []Pair, cc compareContext) bool {
		return cc.hasPrev && (g.Alerting == cc.prevPromQL || p.State == cc.prevGraphite)
	}},
	{ReasonHistogramBucket, func(_ RunResult, _ PromSide, pairs []Pair, cc compareContext) bool {
		if cc.kind != kindTimerPercentile || len(pairs) == 0 {
			return false
		}
		for _, pr := range pairs {
			if pr.Graphite == pr.PromQL {
				continue
			}
			if !pr.gPresent || math.Abs(pr.pv-pr.gv) > timerError(cc, pr.gv, pr.pv) {
				return false
			}
		}
		return true
	}},
	{ReasonCounterRate, func(_ RunResult, _ PromSide, pairs []Pair, cc compareContext) bool {
		if cc.kind != kindCounter || len(pairs) == 0 {
			return false
		}
		for _, pr := range pairs {
			if pr.Graphite == pr.PromQL {
				continue
			}
			if !pr.gPresent {
				return false
			}
			if relGap(pr.gv, pr.pv) <= maxCounterGap {
				continue
			}
			if r, ok := cc.flushRange[pr.Target]; ok && withinRange(pr.pv, r) {
				continue
			}
			return false
		}
		return true
	}},
}

// withinRange: rate() over a window is the average of the per-flush
// rates in it, so during a ramp (traffic starting, stopping, a step)
// it lies between the lowest and the highest flush of the window, give
// or take rate()'s extrapolation at the window's edges (a tenth).
func withinRange(v float64, r [2]float64) bool {
	slack := 0.1 * math.Max(math.Abs(r[0]), math.Abs(r[1]))
	return v >= r[0]-slack && v <= r[1]+slack
}

// counterFlushRanges gives, per series, the lowest and highest point
// within window before (and at) its last non-null point: the per-flush
// rates statsd wrote that rate() over window averages. A null inside the
// window counts as 0: etsy statsd writes nothing for a counter no
// application sent in that flush (a counter starting, or
// deleteIdleStats), which is no increment. A window of 0 gives nil.
func counterFlushRanges(series []graphiteweb.Series, window time.Duration) map[string][2]float64 {
	if window <= 0 {
		return nil
	}
	w := int64(window / time.Second)
	out := map[string][2]float64{}
	for _, s := range series {
		last := -1
		for i := len(s.Points) - 1; i >= 0; i-- {
			if !s.Points[i].Null {
				last = i
				break
			}
		}
		if last < 0 {
			continue
		}
		end := s.Points[last].Time
		lo, hi := s.Points[last].Value, s.Points[last].Value
		for i := last - 1; i >= 0 && s.Points[i].Time > end-w-s.Step(); i-- {
			v := 0.0 // statsd writes no flush for a counter nobody sent: none per second
			if p := s.Points[i]; !p.Null {
				v = p.Value
			}
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
		out[s.Target] = [2]float64{lo, hi}
	}
	return out
}

// rateWindow is the longest range of a rate(), irate() or increase() in
// expr (the translated check's value), 0 when it has none or does not
// parse.
func rateWindow(expr string) time.Duration {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return 0
	}
	var w time.Duration
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		c, ok := n.(*parser.Call)
		if !ok || c.Func == nil {
			return nil
		}
		switch c.Func.Name {
		case "rate", "irate", "increase":
		default:
			return nil
		}
		for _, a := range c.Args {
			switch m := a.(type) {
			case *parser.MatrixSelector:
				w = max(w, m.Range)
			case *parser.SubqueryExpr:
				w = max(w, m.Range)
			}
		}
		return nil
	})
	return w
}

// maxCounterGap is how far apart a per-flush statsd rate and rate() over
// a minute may be and still be the smoothing of one burst.
const maxCounterGap = 0.5

func relGap(a, b float64) float64 {
	d := math.Max(math.Abs(a), math.Abs(b))
	if d == 0 {
		return 0
	}
	return math.Abs(a-b) / d
}

func classify(g RunResult, p PromSide, pairs []Pair, cc compareContext) string {
	for _, c := range classifiers {
		if c.match(g, p, pairs, cc) {
			return c.reason
		}
	}
	return ReasonUnexplained
}

// timerError is how far histogram_quantile may be from Seyren's
// percentile g (the estimate p): for a native histogram both lie in one
// exponential bucket, so within nativeRel of the larger; for classic
// buckets, within the width of the bucket holding g.
func timerError(cc compareContext, g, p float64) float64 {
	if cc.nativeRel > 0 {
		return cc.nativeRel * math.Max(math.Abs(g), math.Abs(p)) * (1 + 1e-9)
	}
	return bucketWidth(cc.bucketsMs, g)
}

// timerPath is the first timer percentile path of a target
// (stats.timers.<timer>.upper_90), and the StatsD name of its timer.
func timerPath(target string) (timer string, ok bool) {
	paths := strings.FieldsFunc(target, func(r rune) bool { return strings.ContainsRune("(), \t'\"", r) })
	for _, p := range paths {
		if m := timerName.FindStringSubmatch(p); m != nil {
			return m[1], true
		}
	}
	return "", false
}

var timerName = regexp.MustCompile(`^stats\.timers\.(.+)\.(?:upper|mean|sum|median)_\d+$`)

// bucketWidth is the width of the histogram bucket (in ms, bounds sorted)
// that holds v: histogram_quantile interpolates linearly inside it, so
// its error is bounded by it. Beyond the last bound it is unbounded.
func bucketWidth(bounds []float64, v float64) float64 {
	lower := 0.0
	for _, b := range bounds {
		if v <= b {
			return b - lower
		}
		lower = b
	}
	return math.Inf(1)
}

// DefaultTimerBuckets are statsd_exporter's (and Prometheus's) default
// histogram buckets, in seconds: what a timer gets without
// histogram_options in the mapping.
var DefaultTimerBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// pairSeries matches Graphite targets with PromQL series: one of each is a
// pair; otherwise a PromQL series pairs with the one Graphite target whose
// name holds every one of its label values as a node. Anything else is
// left unpaired.
func pairSeries(targets []TargetResult, series []PromSeries) (pairs []Pair, onlyG, onlyP []string) {
	mk := func(t TargetResult, s PromSeries) Pair {
		return Pair{Target: t.Target, Series: s.Identity, Graphite: t.State, PromQL: s.State,
			GValue: t.Text, PValue: formatValue(s.Value), gv: t.Value, pv: s.Value, gPresent: t.Present}
	}
	if len(targets) == 1 && len(series) == 1 {
		return []Pair{mk(targets[0], series[0])}, nil, nil
	}
	used := make([]bool, len(targets))
	for _, s := range series {
		match := -1
		for i, t := range targets {
			if used[i] || !holdsAll(t.Target, s.Labels) {
				continue
			}
			if match >= 0 {
				match = -2 // ambiguous
				break
			}
			match = i
		}
		if match < 0 {
			onlyP = append(onlyP, s.Identity)
			continue
		}
		used[match] = true
		pairs = append(pairs, mk(targets[match], s))
	}
	for i, t := range targets {
		if !used[i] {
			onlyG = append(onlyG, t.Target)
		}
	}
	return pairs, onlyG, onlyP
}

func holdsAll(target string, lbls map[string]string) bool {
	if len(lbls) == 0 {
		return false
	}
	nodes := strings.FieldsFunc(target, func(r rune) bool { return r == '.' || r == '(' || r == ')' || r == ',' || r == ' ' })
	for k, v := range lbls {
		if k == "__name__" || k == "check_id" {
			continue
		}
		if !slices.Contains(nodes, v) {
			return false
		}
	}
	return true
}

func formatValue(v float64) string {
	return strconv.FormatFloat(v, 'g', -1, 64)
}
