package graphiteql

import (
	"fmt"
	"sort"
	"strings"

	"github.com/copenhagen-obs/copenhagen/translate/names"
)

// function is one Graphite function as Translate knows it: how faithful
// its translation is and why, and the translation itself (nil for the
// untranslated ones, which fail with reason).
type function struct {
	// Status is the best a call can get: Translated (same values),
	// Partial (approximated; the result's Notes say how) or Untranslated.
	// A call may still end worse (a missing render window, an argument
	// PromQL cannot express); the translator says why.
	status Status
	// reason says why a function is partial or untranslated, or what a
	// translated one depends on; "" when there is nothing to say.
	reason    string
	translate func(t *tr, c *Call) (val, error)
}

// functions is every Graphite function Translate knows, by name. It is
// the one list: Functions exposes it, and the README's function coverage
// table is checked against it (TestREADMEFunctionTable).
var functions map[string]function

func init() { functions = buildFunctions() }

func buildFunctions() map[string]function {
	fs := map[string]function{}
	add := func(st Status, reason string, f func(*tr, *Call) (val, error), ns ...string) {
		for _, n := range ns {
			if _, dup := fs[n]; dup {
				panic("graphiteql: function " + n + " declared twice")
			}
			fs[n] = function{status: st, reason: reason, translate: f}
		}
	}
	none := func(reason string, ns ...string) {
		for _, n := range ns {
			r := reason
			if r == "" {
				r = n + " has no PromQL equivalent"
			}
			add(Untranslated, r, nil, n)
		}
	}

	// Aggregations of series lists.
	add(Translated, "", (*tr).aggregate, "sum", "sumSeries", "total", "avg", "average", "averageSeries",
		"max", "maxSeries", "min", "minSeries", "stddev", "stddevSeries")
	add(Partial, "counts the series with a sample in PromQL's lookback", (*tr).aggregate, "count", "countSeries")
	add(Translated, "", (*tr).withWildcards, "sumSeriesWithWildcards", "averageSeriesWithWildcards")
	add(Translated, "median is partial (quantile interpolates)", (*tr).groupByNode, "groupByNode", "groupByNodes")
	add(Partial, "nearest rank in Graphite, linear interpolation in quantile()", (*tr).percentileOfSeries, "percentileOfSeries")

	// Point by point arithmetic.
	add(Translated, "", (*tr).arithmetic, "scale", "offset", "pow")
	add(Translated, "", (*tr).absolute, "absolute")
	add(Partial, "a negative value gives NaN in PromQL, null in Graphite", (*tr).absolute, "squareRoot")
	add(Translated, "", (*tr).invert, "invert")
	add(Translated, "", (*tr).divide, "divideSeries")
	add(Partial, "the series subtracted are summed first", (*tr).diff, "diffSeries")
	add(Translated, "", (*tr).asPercent, "asPercent")
	add(Translated, "", (*tr).removeValue, "removeBelowValue", "removeAboveValue")
	add(Translated, "", (*tr).constantLine, "constantLine")

	// Time.
	add(Partial, "rate() over the counter instead of differences of stored points", (*tr).derivative, "perSecond", "nonNegativeDerivative", "derivative")
	add(Partial, "PromQL's window holds the samples in (t-w, t]: the edges may differ by one point", (*tr).moving,
		"movingAverage", "movingSum", "movingMax", "movingMin", "movingMedian")
	add(Partial, "a sliding window evaluated at every step, not fixed buckets", (*tr).summarize, "summarize", "smartSummarize")
	add(Partial, "a sliding window evaluated at every step, not fixed buckets", (*tr).hitcount, "hitcount")
	add(Partial, "bounded by PromQL's lookback", (*tr).keepLast, "keepLastValue")
	add(Partial, "single series only; also gives a value when no series exists", (*tr).transformNull, "transformNull")
	add(Partial, "PromQL's window holds the samples in (t-w, t]: the edges may differ by one point", (*tr).stdev, "stdev")
	add(Translated, "a subquery when the series is not a selector", (*tr).timeShift, "timeShift")
	add(Partial, "quantile_over_time interpolates and is evaluated at every point; needs the render window", (*tr).nPercentile, "nPercentile")

	// Series filters: by an aggregate over the render window.
	add(Translated, "needs the render window (--from); partial in graph semantics", (*tr).filter,
		"currentAbove", "currentBelow", "averageAbove", "averageBelow", "maximumAbove", "maximumBelow", "minimumAbove", "minimumBelow")
	add(Translated, "needs the render window (--from); partial in graph semantics", (*tr).rank,
		"highestCurrent", "highestAverage", "highestMax", "lowestCurrent", "lowestAverage", "lowestMax", "lowestMin")
	add(Partial, "topk keeps the n largest at each point, Graphite the first n by name", (*tr).limit, "limit")
	add(Partial, "a literal word in one labelled node only", (*tr).grep, "exclude", "grep")
	add(Translated, "", (*tr).seriesByTag, "seriesByTag")

	// Legend and style: the values are unchanged; the notes say what
	// the legend was.
	add(Translated, "legend only: the note gives the legendFormat", (*tr).legend,
		"alias", "aliasByNode", "aliasByMetric", "aliasSub", "aliasByTags", "legendValue", "color", "lineWidth",
		"dashed", "secondYAxis", "stacked", "areaBetween", "cactiStyle", "sortByName", "sortByMaxima",
		"sortByMinima", "sortByTotal")

	none("integral: PromQL has no running sum from the start of the window (for a counter, increase(x[range]) gives the total)", "integral")
	none("multiplySeriesWithWildcards: PromQL has no product aggregation", "multiplySeriesWithWildcards")
	none("template(): Graphite-side variable substitution is not supported", "template")
	none("", "holtWintersForecast", "holtWintersConfidenceBands", "holtWintersAberration", "holtWintersConfidenceArea",
		"timeStack", "timeSlice", "linearRegression", "linearRegressionAnalysis", "aggregateLine", "threshold",
		"randomWalk", "sinFunction", "timeFunction", "identity", "events", "useSeriesAbove", "mostDeviant",
		"removeBetweenPercentile", "removeAbovePercentile", "removeBelowPercentile", "multiplySeries",
		"consolidateBy", "changed", "delay", "fallbackSeries", "mapSeries", "reduceSeries", "applyByNode",
		"substr", "sortBy", "unique", "verticalLine", "cumulative", "groupByTags")
	return fs
}

// FunctionInfo describes one Graphite function Translate knows.
type FunctionInfo struct {
	Name   string
	Status Status // the best a call can get
	Reason string // why it is partial or untranslated, or what it needs
}

// Functions lists the Graphite functions Translate knows, by name; any
// other is untranslated as unknown.
func Functions() []FunctionInfo {
	out := make([]FunctionInfo, 0, len(functions))
	for n, f := range functions {
		out = append(out, FunctionInfo{Name: n, Status: f.status, Reason: f.reason})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// aggregators are the PromQL aggregations of the series-list
// aggregations, by Graphite name.
var aggregators = map[string]string{
	"sum": "sum", "sumSeries": "sum", "total": "sum",
	"avg": "avg", "average": "avg", "averageSeries": "avg",
	"max": "max", "maxSeries": "max",
	"min": "min", "minSeries": "min",
	"count": "count", "countSeries": "count",
	"stddev": "stddev", "stddevSeries": "stddev",
}

func (t *tr) aggregate(c *Call) (val, error) {
	agg := aggregators[c.Name]
	vs, err := t.seriesArgs(c, 0)
	if err != nil {
		return val{}, err
	}
	in := union(vs)
	if agg == "count" {
		t.approx("countSeries counts the series with a sample in PromQL's lookback; Graphite counts every matched series, and gives 0 rather than nothing when none match")
	}
	return val{q: agg + "(" + in.q + ")", atom: true, single: true, step: in.step}, nil
}

func (t *tr) legend(c *Call) (val, error) {
	v, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	t.info(legendNote(c, v))
	return v, nil
}

func (t *tr) withWildcards(c *Call) (val, error) {
	v, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	idx, err := t.nodeArgs(c, 1)
	if err != nil {
		return val{}, err
	}
	ls, err := t.wildcardLabels(c, v, idx)
	if err != nil {
		return val{}, err
	}
	agg := "sum"
	if c.Name == "averageSeriesWithWildcards" {
		agg = "avg"
	}
	nodes := append([]node(nil), v.nodes...)
	for _, i := range idx {
		if i >= 0 && i < len(nodes) {
			nodes[i] = node{kind: names.NodeConst}
		}
	}
	return val{q: fmt.Sprintf("%s without(%s) (%s)", agg, strings.Join(ls, ", "), v.q), atom: true, nodes: nodes, step: v.step}, nil
}

func (t *tr) groupByNode(c *Call) (val, error) {
	name := c.Name
	v, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	fn := "average"
	var idx []int
	if name == "groupByNode" {
		if len(c.Args) < 2 {
			return val{}, t.fail(c, "groupByNode: missing node")
		}
		idx, err = t.nodeArgs(c, 1)
		if err == nil && len(idx) > 1 {
			idx = idx[:1]
		}
		if len(c.Args) > 2 {
			s, ok := c.Args[2].(*String)
			if !ok {
				return val{}, t.fail(c.Args[2], "groupByNode: expected an aggregation name")
			}
			fn = s.Value
			idx, err = t.nodeArgs(&Call{Name: name, Args: c.Args[1:2]}, 0)
		}
	} else {
		s, serr := t.str(c, 1, "callback", &fn)
		if serr != nil {
			return val{}, serr
		}
		fn = s
		idx, err = t.nodeArgs(c, 2)
	}
	if err != nil {
		return val{}, err
	}
	ls, err := t.nodeLabels(c, v, idx)
	if err != nil {
		return val{}, err
	}
	q, err := t.aggBy(c, fn, ls, v)
	if err != nil {
		return val{}, err
	}
	var nodes []node
	for _, l := range ls {
		nodes = append(nodes, node{kind: names.NodeLabel, label: l})
	}
	return val{q: q, atom: true, single: len(ls) == 0, nodes: nodes, step: v.step}, nil
}

// arithmetic is scale, offset (Graphite's offset adds a constant) and
// pow: one number applied to every point.
func (t *tr) arithmetic(c *Call) (val, error) {
	v, k, err := t.firstAndNumber(c, "factor")
	if err != nil {
		return val{}, err
	}
	op := map[string]string{"scale": " * ", "offset": " + ", "pow": " ^ "}[c.Name]
	return v.with(v.paren() + op + num(k)), nil
}

func (t *tr) absolute(c *Call) (val, error) {
	v, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	fn := "abs"
	if c.Name == "squareRoot" {
		fn = "sqrt"
		t.approx("squareRoot of a negative value is NaN in PromQL, null in Graphite")
	}
	w := v.with(fn + "(" + v.q + ")")
	w.atom = true
	return w, nil
}

func (t *tr) invert(c *Call) (val, error) {
	v, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	return v.with("1 / (" + v.q + " != 0)"), nil
}

func (t *tr) transformNull(c *Call) (val, error) {
	v, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	def := 0.0
	k, err := t.number(c, 1, "default", &def)
	if err != nil {
		return val{}, err
	}
	if !v.single {
		return val{}, t.fail(c, "transformNull: PromQL cannot invent missing samples of labelled series (it can only for a single aggregated series)")
	}
	t.approx("transformNull: `or vector(v)` also gives v when no series exists at all, where Graphite gives no series")
	return val{q: v.paren() + " or vector(" + num(k) + ")", single: true, step: v.step}, nil
}

func (t *tr) removeValue(c *Call) (val, error) {
	v, k, err := t.firstAndNumber(c, "n")
	if err != nil {
		return val{}, err
	}
	op := " >= "
	if c.Name == "removeAboveValue" {
		op = " <= "
	}
	return v.with(v.paren() + op + num(k)), nil
}

func (t *tr) limit(c *Call) (val, error) {
	v, k, err := t.firstAndNumber(c, "n")
	if err != nil {
		return val{}, err
	}
	t.approx("limit keeps the first n series by name in Graphite; topk keeps the n largest at each point")
	return val{q: fmt.Sprintf("topk(%s, %s)", num(k), v.q), atom: true, nodes: v.nodes, step: v.step}, nil
}

func (t *tr) timeShift(c *Call) (val, error) {
	v, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	s, err := t.str(c, 1, "timeShift", nil)
	if err != nil {
		return val{}, err
	}
	d, err := ParseInterval(s)
	if err != nil {
		return val{}, t.fail(c.Args[1], "timeShift: %v", err)
	}
	// Graphite: '7d' and '-7d' both shift back; '+7d' forward.
	if !strings.HasPrefix(strings.TrimSpace(s), "+") && d > 0 {
		d = -d
	}
	return t.shift(c, v, -d)
}

func (t *tr) percentileOfSeries(c *Call) (val, error) {
	v, p, err := t.firstAndNumber(c, "n")
	if err != nil {
		return val{}, err
	}
	t.approx("percentileOfSeries: Graphite picks a nearest-rank value across series (or interpolates differently with interpolate=true); quantile() interpolates linearly")
	return val{q: fmt.Sprintf("quantile(%s, %s)", num(percent(p)), v.q), atom: true, single: true, step: v.step}, nil
}

func (t *tr) nPercentile(c *Call) (val, error) {
	v, p, err := t.firstAndNumber(c, "n")
	if err != nil {
		return val{}, err
	}
	if t.opts.From <= 0 {
		return val{}, t.fail(c, "nPercentile: the percentile is over the whole render window, which is not known here (give from/until)")
	}
	t.approx("nPercentile: Graphite takes a nearest-rank percentile of the window's points and draws it as a constant line; quantile_over_time interpolates and is evaluated once per point")
	return val{q: fmt.Sprintf("quantile_over_time(%s, %s)", num(percent(p)), t.windowRange(v)), atom: true, nodes: v.nodes, step: v.step}, nil
}

func (t *tr) stdev(c *Call) (val, error) {
	v, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	w, points, err := t.interval(c, 1, "points", v.stepOr(t.step()))
	if err != nil {
		return val{}, err
	}
	if points {
		t.approx(fmt.Sprintf("stdev over N points taken as N × %s", dur(v.stepOr(t.step()))))
	}
	t.approx(fmt.Sprintf("stdev: Graphite's window is the points of the %s before each point; PromQL's holds the samples in (t-%s, t]: the edges may differ by one point", dur(w), dur(w)))
	return t.overTime(v, "stddev_over_time", w), nil
}

func (t *tr) constantLine(c *Call) (val, error) {
	k, err := t.number(c, 0, "value", nil)
	if err != nil {
		return val{}, err
	}
	return val{q: "vector(" + num(k) + ")", atom: true, single: true}, nil
}

// firstAndNumber is the series (first argument) and the number (second
// argument, named name) of functions like scale(seriesList, factor).
func (t *tr) firstAndNumber(c *Call, name string) (val, float64, error) {
	v, err := t.first(c)
	if err != nil {
		return val{}, 0, err
	}
	k, err := t.number(c, 1, name, nil)
	if err != nil {
		return val{}, 0, err
	}
	return v, k, nil
}
