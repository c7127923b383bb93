package graphiteql

import (
	"fmt"
	"strings"
	"time"

	promparser "github.com/prometheus/prometheus/promql/parser"
)

// LastNonNull returns the PromQL for "the last value of each series of
// expr in the window [now-from, now-until]", which is what Seyren compares
// with its thresholds (and what a Grafana singlestat with valueName
// "current" shows):
//
//	last_over_time(expr[from-until] offset until)            expr a selector
//	last_over_time((expr)[from-until:step] offset until)     otherwise
//
// A selector gives exactly the last sample in the window. A computed
// expression is sampled every step (a subquery), and each sample uses
// PromQL's 5-minute lookback, so a series that stopped reporting keeps a
// value up to 5 minutes longer than Graphite's nulls would allow.
// until 0 means the window ends now; step 0 means 10s (statsd's flush).
func LastNonNull(expr string, from, until, step time.Duration) (string, error) {
	if from <= until {
		return "", fmt.Errorf("empty window: from %s before now is not earlier than until %s before now", dur(from), dur(until))
	}
	if step <= 0 {
		step = 10 * time.Second
	}
	e, err := promQL.ParseExpr(expr)
	if err != nil {
		return "", fmt.Errorf("expression does not parse: %w", err)
	}
	off := ""
	if until > 0 {
		off = " offset " + dur(until)
	}
	w := dur(from - until)
	if vs, ok := e.(*promparser.VectorSelector); ok && vs.OriginalOffset == 0 && vs.Timestamp == nil && vs.StartOrEnd == 0 {
		return "last_over_time(" + expr + "[" + w + "]" + off + ")", nil
	}
	return "last_over_time((" + expr + ")[" + w + ":" + dur(step) + "]" + off + ")", nil
}

// TranslateLast translates a target with Seyren's semantics: the PromQL
// returns, for each series of the target, its last non-null value in the
// window [now-opts.From, now-opts.Until]. Series filters at the top of the
// target (currentAbove, averageBelow, highestCurrent, ...) are applied to
// those values over that window, as Graphite applies them to the whole
// rendered series; legend functions (alias, ...) are ignored. opts.From is
// required.
func TranslateLast(target string, r *Resolver, opts TranslateOptions) Result {
	res := Result{Target: target}
	n, err := Parse(target)
	if err != nil {
		res.Status, res.Reason = Untranslated, "untranslated: syntax error at "+err.Error()
		return res
	}
	t := &tr{r: r, opts: opts}
	if opts.From <= opts.Until {
		return t.finish(res, val{}, t.fail(n, "the evaluation window is empty or unknown (from must be before until)"))
	}
	var chain []*Call
	for {
		c, ok := n.(*Call)
		if !ok || len(c.Args) == 0 || !(isFilter(c.Name) || isRank(c.Name) || isLegend(c.Name)) {
			break
		}
		chain = append(chain, c)
		n = c.Args[0]
	}
	v, err := t.series(n)
	if err != nil {
		return t.finish(res, v, err)
	}
	q, err := LastNonNull(v.q, opts.From, opts.Until, t.step())
	if err != nil {
		return t.finish(res, v, t.fail(n, "%v", err))
	}
	if !v.sel {
		t.info(fmt.Sprintf("the last value is taken from a subquery at %s resolution; PromQL's 5m lookback may keep a series that stopped reporting", dur(t.step())))
	}
	cur := val{q: q, atom: true, nodes: v.nodes, single: v.single, step: v.step}
	for i := len(chain) - 1; i >= 0; i-- {
		c := chain[i]
		var err error
		switch {
		case isLegend(c.Name):
			t.info(legendNote(c, cur))
		case isFilter(c.Name) && strings.HasPrefix(c.Name, "current"):
			var k float64
			k, err = t.number(c, 1, "n", nil)
			op := " > "
			if strings.HasSuffix(c.Name, "Below") {
				op = " <= "
			}
			cur = cur.with(cur.paren() + op + num(k))
		case isFilter(c.Name):
			cur, err = t.filterOn(c, v, cur)
		case c.Name == "highestCurrent" || c.Name == "lowestCurrent":
			one := 1.0
			var k float64
			k, err = t.number(c, 1, "n", &one)
			fn := "topk"
			if strings.HasPrefix(c.Name, "lowest") {
				fn = "bottomk"
			}
			cur = val{q: fmt.Sprintf("%s(%s, %s)", fn, num(k), cur.q), atom: true, nodes: cur.nodes, step: cur.step}
		default:
			cur, err = t.rankOn(c, v, cur)
		}
		if err != nil {
			return t.finish(res, val{}, err)
		}
	}
	return t.finish(res, cur, nil)
}

func isFilter(name string) bool {
	switch name {
	case "currentAbove", "currentBelow", "averageAbove", "averageBelow", "maximumAbove", "maximumBelow", "minimumAbove", "minimumBelow":
		return true
	}
	return false
}

func isRank(name string) bool {
	switch name {
	case "highestCurrent", "highestAverage", "highestMax", "lowestCurrent", "lowestAverage", "lowestMax", "lowestMin":
		return true
	}
	return false
}

func isLegend(name string) bool {
	switch name {
	case "alias", "aliasByNode", "aliasByMetric", "aliasSub", "aliasByTags", "legendValue", "color", "lineWidth", "dashed", "secondYAxis", "stacked", "cactiStyle", "sortByName", "sortByMaxima", "sortByMinima", "sortByTotal":
		return true
	}
	return false
}
