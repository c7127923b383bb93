package graphiteql

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"

	promparser "github.com/prometheus/prometheus/promql/parser"

	"github.com/copenhagen-obs/copenhagen/translate/names"
)

// TranslateOptions carry what a target's meaning depends on besides the
// names: the render window it is evaluated over.
type TranslateOptions struct {
	// From and Until are the render window as durations before now
	// (Seyren's from "-11minutes" is From 11m, until "-1minutes" Until 1m;
	// see ParseOffset). From 0 means no window is known: functions that
	// reduce a whole window (highestAverage, averageAbove, nPercentile ...)
	// are then untranslated.
	From, Until time.Duration
	// Step is the resolution of subqueries. Default: the etsy flush
	// interval.
	Step time.Duration
}

// untranslated is the error a translation stops with.
type untranslated struct {
	reason string
	pos    int
}

func (e *untranslated) Error() string { return e.reason }

type tr struct {
	r       *Resolver
	opts    TranslateOptions
	notes   []string
	partial bool
}

func (t *tr) fail(n Node, format string, args ...any) error {
	pos := -1
	if n != nil {
		pos = n.Pos()
	}
	return &untranslated{reason: fmt.Sprintf(format, args...), pos: pos}
}

// approx records an approximation: the result becomes Partial.
func (t *tr) approx(note string) {
	t.partial = true
	t.addNote(note)
}

// info records a fact about the translation that does not change values.
func (t *tr) info(note string) { t.addNote(note) }

func (t *tr) addNote(note string) {
	for _, n := range t.notes {
		if n == note {
			return
		}
	}
	t.notes = append(t.notes, note)
}

func (t *tr) step() time.Duration {
	if t.opts.Step > 0 {
		return t.opts.Step
	}
	return t.r.etsy.flush()
}

// Translate turns a Graphite target into PromQL whose series carry the
// values Graphite would have shown, point by point (graph semantics). A
// syntax error gives Untranslated with the position in Reason; use Parse
// for the *Error. Every PromQL returned has been parsed by Prometheus's
// parser.
func Translate(target string, r *Resolver, opts TranslateOptions) Result {
	res := Result{Target: target}
	n, err := Parse(target)
	if err != nil {
		res.Status, res.Reason = Untranslated, "untranslated: syntax error at "+err.Error()
		return res
	}
	t := &tr{r: r, opts: opts}
	v, err := t.series(n)
	return t.finish(res, v, err)
}

func (t *tr) finish(res Result, v val, err error) Result {
	res.Notes = t.notes
	if err != nil {
		var u *untranslated
		if errors.As(err, &u) {
			res.Status, res.Reason = Untranslated, "untranslated: "+u.reason
			return res
		}
		res.Status, res.Reason = Untranslated, "untranslated: "+err.Error()
		return res
	}
	if len(v.q) > maxQueryLen {
		res.Status, res.Reason = Untranslated, fmt.Sprintf("untranslated: the PromQL would be longer than %d bytes", maxQueryLen)
		return res
	}
	if perr := CheckPromQL(v.q); perr != nil {
		res.Status, res.Reason = Untranslated, "untranslated: internal error, the PromQL produced does not parse: "+perr.Error()
		return res
	}
	res.PromQL = v.q
	res.Status = Translated
	if t.partial {
		res.Status = Partial
	}
	return res
}

var templateVarRE = regexp.MustCompile(`\$\{[^}]*\}|\[\[[^\]]*\]\]|\$[A-Za-z0-9_]+`)

// CheckPromQL parses q with Prometheus's parser. Dashboard template
// variables ($route, ${route}, [[route]]) only appear inside label matcher
// strings, and are replaced by a literal first.
func CheckPromQL(q string) error {
	q = templateVarRE.ReplaceAllStringFunc(q, func(v string) string {
		if strings.HasPrefix(v, "$1") || v == "$1" {
			return v
		}
		return "tmplvar"
	})
	_, err := promQL.ParseExpr(q)
	return err
}

// promQL is the parser every produced expression is checked with: the
// default function set, as Prometheus's rule loader uses it.
var promQL = promparser.NewParser(promparser.Options{})

// maxQueryLen bounds the PromQL produced.
const maxQueryLen = 64 << 10

// series translates a node that must be a series list.
func (t *tr) series(n Node) (val, error) {
	switch n := n.(type) {
	case *Path:
		return t.path(n)
	case *Call:
		v, err := t.call(n)
		if err == nil && len(v.q) > maxQueryLen {
			// Some functions repeat their argument (derivative, filters):
			// nested deeply, the PromQL would grow exponentially.
			return val{}, t.fail(n, "the PromQL would be longer than %d bytes", maxQueryLen)
		}
		return v, err
	}
	return val{}, t.fail(n, "expected a series list, found %s", Format(n))
}

func (t *tr) number(c *Call, i int, name string, def *float64) (float64, error) {
	n := t.arg(c, i, name)
	if n == nil {
		if def != nil {
			return *def, nil
		}
		return 0, t.fail(c, "%s: missing argument %s", c.Name, name)
	}
	switch a := n.(type) {
	case *Number:
		return a.Value, nil
	case *Path:
		if a.Segments != nil && len(a.Segments) == 1 && hasVar(a.Segments[0].Pieces) {
			return 0, t.fail(n, "%s: template variable %s as %s: its value is only known in the dashboard", c.Name, a.Text, name)
		}
	}
	return 0, t.fail(n, "%s: expected a number for %s, found %s", c.Name, name, Format(n))
}

func (t *tr) str(c *Call, i int, name string, def *string) (string, error) {
	n := t.arg(c, i, name)
	if n == nil {
		if def != nil {
			return *def, nil
		}
		return "", t.fail(c, "%s: missing argument %s", c.Name, name)
	}
	if s, ok := n.(*String); ok {
		return s.Value, nil
	}
	return "", t.fail(n, "%s: expected a string for %s, found %s", c.Name, name, Format(n))
}

// arg returns positional argument i or keyword argument name.
func (t *tr) arg(c *Call, i int, name string) Node {
	if i < len(c.Args) {
		return c.Args[i]
	}
	return c.Kwarg(name)
}

// interval parses an interval argument: a Graphite time string ('5min')
// or, when points is allowed, a number of points.
func (t *tr) interval(c *Call, i int, name string, step time.Duration) (time.Duration, bool, error) {
	n := t.arg(c, i, name)
	if n == nil {
		return 0, false, t.fail(c, "%s: missing argument %s", c.Name, name)
	}
	switch a := n.(type) {
	case *String:
		d, err := ParseInterval(a.Value)
		if err != nil {
			return 0, false, t.fail(n, "%s: %v", c.Name, err)
		}
		if d < 0 {
			d = -d
		}
		if d < time.Second {
			return 0, false, t.fail(n, "%s: expected an interval of at least 1s for %s, found %q", c.Name, name, a.Value)
		}
		return d, false, nil
	case *Number:
		if a.Value <= 0 || a.Value != math.Trunc(a.Value) {
			return 0, false, t.fail(n, "%s: expected a positive number of points for %s", c.Name, name)
		}
		return time.Duration(a.Value) * step, true, nil
	}
	return 0, false, t.fail(n, "%s: expected an interval for %s, found %s", c.Name, name, Format(n))
}

var intervalRE = regexp.MustCompile(`^([0-9]+)([a-zA-Z]+)`)

// ParseInterval parses a Graphite interval ('5min', '1h', '-7d', '1h30min').
func ParseInterval(s string) (time.Duration, error) {
	orig := s
	s = strings.TrimSpace(s)
	sign := time.Duration(1)
	if strings.HasPrefix(s, "-") {
		sign, s = -1, s[1:]
	} else {
		s = strings.TrimPrefix(s, "+")
	}
	if s == "" {
		return 0, fmt.Errorf("invalid interval %q", orig)
	}
	var total time.Duration
	for s != "" {
		m := intervalRE.FindStringSubmatch(s)
		if m == nil {
			return 0, fmt.Errorf("invalid interval %q", orig)
		}
		n, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil || n > 1e9 {
			return 0, fmt.Errorf("invalid interval %q", orig)
		}
		var unit time.Duration
		switch u := strings.ToLower(m[2]); {
		case u == "s" || strings.HasPrefix(u, "sec"):
			unit = time.Second
		case u == "m" || strings.HasPrefix(u, "min"):
			unit = time.Minute
		case u == "h" || strings.HasPrefix(u, "hour"):
			unit = time.Hour
		case u == "d" || strings.HasPrefix(u, "day"):
			unit = 24 * time.Hour
		case u == "w" || strings.HasPrefix(u, "week"):
			unit = 7 * 24 * time.Hour
		case strings.HasPrefix(u, "mon"):
			unit = 30 * 24 * time.Hour
		case u == "y" || strings.HasPrefix(u, "year"):
			unit = 365 * 24 * time.Hour
		default:
			return 0, fmt.Errorf("invalid interval %q: unknown unit %q", orig, m[2])
		}
		if time.Duration(n) > (100*365*24*time.Hour-total)/unit {
			return 0, fmt.Errorf("invalid interval %q: longer than 100 years", orig)
		}
		total += time.Duration(n) * unit
		s = s[len(m[0]):]
	}
	return sign * total, nil
}

// ParseOffset parses a Seyren/Graphite relative time ("-11minutes",
// "-1min", "now") into a duration before now. Absolute times are refused.
func ParseOffset(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if s == "" || s == "now" {
		return 0, nil
	}
	s = strings.TrimPrefix(s, "now")
	if !strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("time %q: only relative times before now (-11minutes) are supported", s)
	}
	d, err := ParseInterval(s)
	if err != nil {
		return 0, err
	}
	return -d, nil
}

func (t *tr) seriesArgs(c *Call, from int) ([]val, error) {
	var vs []val
	for _, a := range c.Args[from:] {
		v, err := t.series(a)
		if err != nil {
			return nil, err
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, t.fail(c, "%s: expected a series list", c.Name)
	}
	return vs, nil
}

// union joins several series lists. Each list is labelled with its
// position (graphite_arg) first: `or` ignores metric names, so series of
// different lists with the same labels would otherwise count once.
func union(vs []val) val {
	if len(vs) == 1 {
		return vs[0]
	}
	qs := make([]string, len(vs))
	for i, v := range vs {
		qs[i] = fmt.Sprintf("label_replace(%s, \"graphite_arg\", \"%d\", \"\", \"\")", v.q, i)
	}
	return val{q: strings.Join(qs, " or "), step: vs[0].step}
}

func (t *tr) first(c *Call) (val, error) {
	if len(c.Args) == 0 {
		return val{}, t.fail(c, "%s: expected a series list", c.Name)
	}
	return t.series(c.Args[0])
}

// nodeLabels maps Graphite node indexes to the labels holding them.
// Constant nodes give no label (grouping by them changes nothing).
func (t *tr) nodeLabels(c *Call, v val, idx []int) ([]string, error) {
	if v.nodes == nil {
		return nil, t.fail(c, "%s: which label holds each node is not known after the functions inside it", c.Name)
	}
	var out []string
	for _, i := range idx {
		if i < 0 {
			i += len(v.nodes)
		}
		if i < 0 || i >= len(v.nodes) {
			return nil, t.fail(c, "%s: node %d does not exist in a path of %d nodes", c.Name, i, len(v.nodes))
		}
		n := v.nodes[i]
		switch n.kind {
		case names.NodeConst:
		case names.NodeLabel:
			out = append(out, n.label)
		case names.NodeMerged:
			return nil, t.fail(c, "%s: node %d is kept in no label by the mapping rule", c.Name, i)
		case names.NodeName:
			return nil, t.fail(c, "%s: node %d is part of the metric name, not a label (map these names with a rule that captures it)", c.Name, i)
		default:
			return nil, t.fail(c, "%s: node %d is only part of a label value, or in different labels across mapping rules", c.Name, i)
		}
	}
	return sortedLabels(out), nil
}

// wildcardLabels lists the labels to aggregate away for
// sumSeriesWithWildcards: those of the nodes given, and metric_name when
// the nodes are where the mapping rules of a union differ.
func (t *tr) wildcardLabels(c *Call, v val, idx []int) ([]string, error) {
	var plain []int
	var out []string
	inIdx := map[int]bool{}
	for _, i := range idx {
		if i < 0 && v.nodes != nil {
			i += len(v.nodes)
		}
		inIdx[i] = true
		if v.nodes != nil && i >= 0 && i < len(v.nodes) && v.nodes[i].kind == names.NodeMixed && v.nodes[i].droppable {
			out = append(out, v.nodes[i].labels...)
			continue
		}
		plain = append(plain, i)
	}
	ls, err := t.nodeLabels(c, v, plain)
	if err != nil {
		return nil, err
	}
	out = append(out, ls...)
	if len(out) > len(ls) {
		drop := true
		for i, n := range v.nodes {
			if n.kind == names.NodeMixed && !inIdx[i] {
				drop = false
			}
		}
		if !drop {
			return nil, t.fail(c, "%s: the mapping rules of this pattern differ on nodes that are kept", c.Name)
		}
		out = append(out, "metric_name")
	}
	return sortedLabels(out), nil
}

func (t *tr) nodeArgs(c *Call, from int) ([]int, error) {
	var idx []int
	for _, a := range c.Args[from:] {
		n, ok := a.(*Number)
		if !ok || n.Value != math.Trunc(n.Value) {
			if s, ok := a.(*String); ok {
				return nil, t.fail(a, "%s: tag name %q as a node: only numeric nodes are supported", c.Name, s.Value)
			}
			return nil, t.fail(a, "%s: expected a node number, found %s", c.Name, Format(a))
		}
		idx = append(idx, int(n.Value))
	}
	return idx, nil
}

// graphiteAggs maps the aggregation names of groupByNode, summarize ...
var graphiteAggs = map[string]string{
	"sum": "sum", "total": "sum", "average": "avg", "avg": "avg", "max": "max", "min": "min",
	"count": "count", "stddev": "stddev",
}

// call translates a function call through the functions table.
func (t *tr) call(c *Call) (val, error) {
	f, ok := functions[c.Name]
	if !ok {
		return val{}, t.fail(c, "unknown or unsupported function %s", c.Name)
	}
	if f.translate == nil {
		return val{}, t.fail(c, "%s", f.reason)
	}
	return f.translate(t, c)
}

// with returns v with a new query that keeps v's series identity.
func (v val) with(q string) val {
	return val{q: q, nodes: v.nodes, single: v.single, step: v.step}
}

func (v val) stepOr(d time.Duration) time.Duration {
	if v.step > 0 {
		return v.step
	}
	return d
}

func legendNote(c *Call, v val) string {
	switch c.Name {
	case "aliasByNode":
		var ls []string
		for _, a := range c.Args[1:] {
			if n, ok := a.(*Number); ok && v.nodes != nil {
				i := int(n.Value)
				if i < 0 {
					i += len(v.nodes)
				}
				if i >= 0 && i < len(v.nodes) && v.nodes[i].kind == names.NodeLabel {
					ls = append(ls, "{{"+v.nodes[i].label+"}}")
				}
			}
		}
		if len(ls) > 0 {
			return "aliasByNode only names the series: use legendFormat " + strings.Join(ls, ".")
		}
	case "alias":
		if len(c.Args) > 1 {
			if s, ok := c.Args[1].(*String); ok {
				return fmt.Sprintf("alias only names the series: use legendFormat %q", s.Value)
			}
		}
	}
	return c.Name + " only changes how series are drawn or named, not their values"
}

func (t *tr) aggBy(c *Call, fn string, ls []string, v val) (string, error) {
	by := "by(" + strings.Join(ls, ", ") + ") "
	switch fn {
	case "median":
		t.approx("median: quantile(0.5) interpolates between the two middle values like Graphite's median, but Graphite ignores nulls per point")
		return fmt.Sprintf("quantile %s(0.5, %s)", by, v.q), nil
	case "range", "rangeOf":
		return fmt.Sprintf("max %s(%s) - min %s(%s)", by, v.q, by, v.q), nil
	}
	agg, ok := graphiteAggs[fn]
	if !ok {
		return "", t.fail(c, "%s: aggregation %q has no PromQL equivalent", c.Name, fn)
	}
	return agg + " " + by + "(" + v.q + ")", nil
}

// asSingle turns a one-series path into an unlabelled series (sum of
// one series is that series), so it can be used where Graphite wants
// exactly one series.
func asSingle(v val) val {
	if v.single || !v.one {
		return v
	}
	return val{q: "sum(" + v.q + ")", atom: true, single: true, step: v.step}
}

// noteSingle says when the series Graphite wants to be exactly one (a
// divisor) may be several: PromQL then fails at evaluation, as Graphite
// did at render time.
func (t *tr) noteSingle(c *Call, v val, what string) {
	if !v.single {
		t.info(fmt.Sprintf("%s: %s must be exactly one series (as in Graphite); PromQL fails if it matches several", c.Name, what))
	}
}

func (t *tr) divide(c *Call) (val, error) {
	if len(c.Args) != 2 {
		return val{}, t.fail(c, "divideSeries: expected a dividend and one divisor series")
	}
	a, err := t.series(c.Args[0])
	if err != nil {
		return val{}, err
	}
	b, err := t.series(c.Args[1])
	if err != nil {
		return val{}, err
	}
	b = asSingle(b)
	t.noteSingle(c, b, "the divisor")
	// Graphite gives null when the divisor is 0: `!= 0` drops it.
	if a.single && b.single {
		return val{q: a.paren() + " / (" + b.q + " != 0)", single: true, step: a.step}, nil
	}
	return a.with(a.paren() + " / on() group_left() (" + b.q + " != 0)"), nil
}

func (t *tr) diff(c *Call) (val, error) {
	vs, err := t.seriesArgs(c, 0)
	if err != nil {
		return val{}, err
	}
	if len(vs) == 1 {
		return val{}, t.fail(c, "diffSeries of one series list subtracts series by position, which PromQL cannot express")
	}
	a := vs[0]
	q := a.paren()
	for _, b := range vs[1:] {
		b = asSingle(b)
		if !b.single {
			return val{}, t.fail(c, "diffSeries: the series subtracted must each be one series (wrap them in sumSeries)")
		}
		// A missing subtrahend leaves the first series unchanged.
		if a.single {
			q += " - (" + b.q + " or vector(0))"
		} else {
			q += " - on() group_left() (" + b.q + " or vector(0))"
		}
	}
	t.approx("diffSeries: where the first series has no value Graphite subtracts from the next one; PromQL gives no value")
	return a.with(q), nil
}

func (t *tr) asPercent(c *Call) (val, error) {
	a, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	total := t.arg(c, 1, "total")
	if len(c.Args) > 2 {
		return val{}, t.fail(c, "asPercent with nodes: matching totals by node is not supported")
	}
	switch tv := total.(type) {
	case nil, *None:
		if a.single {
			return val{q: "100 * " + a.paren() + " / (" + a.q + " != 0)", single: true, step: a.step}, nil
		}
		return a.with("100 * " + a.paren() + " / on() group_left() (sum(" + a.q + ") != 0)"), nil
	case *Number:
		if tv.Value == 0 {
			return val{}, t.fail(total, "asPercent: total 0 gives only nulls")
		}
		return a.with("100 * " + a.paren() + " / " + num(tv.Value)), nil
	}
	b, err := t.series(total)
	if err != nil {
		return val{}, err
	}
	b = asSingle(b)
	if !b.single {
		return val{}, t.fail(total, "asPercent: a total that is several series is matched by position in Graphite, which PromQL cannot express (wrap it in sumSeries)")
	}
	if a.single {
		return val{q: "100 * " + a.paren() + " / (" + b.q + " != 0)", single: true, step: a.step}, nil
	}
	return a.with("100 * " + a.paren() + " / on() group_left() (" + b.q + " != 0)"), nil
}

func (t *tr) derivative(c *Call) (val, error) {
	v, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	step := v.stepOr(t.step())
	if len(c.Args) > 1 || c.Kwarg("maxValue") != nil || c.Kwarg("minValue") != nil {
		return val{}, t.fail(c, "%s with maxValue/minValue (counter wrap): not supported", c.Name)
	}
	stepSec := num(step.Seconds())
	if v.sel && c.Name != "derivative" {
		w := t.r.etsy.rateWindow()
		if w < 4*step {
			w = 4 * step
		}
		q := "rate(" + v.q + "[" + dur(w) + "])"
		if c.Name == "nonNegativeDerivative" {
			t.approx(fmt.Sprintf("nonNegativeDerivative: the increase per %s point is rate() over %s times %s; rate() extrapolates and counts any drop as a counter reset", dur(step), dur(w), stepSec))
			return val{q: q + " * " + stepSec, nodes: v.nodes, step: step}, nil
		}
		t.approx(fmt.Sprintf("perSecond: rate() over %s; it extrapolates and counts any drop as a counter reset", dur(w)))
		return val{q: q, atom: true, nodes: v.nodes, step: step}, nil
	}
	prev := t.offsetOf(v, step)
	d := "(" + v.q + " - " + prev + ")"
	t.approx(fmt.Sprintf("%s: difference between the value now and %s earlier (Graphite's step assumed to be %s)", c.Name, dur(step), dur(step)))
	switch c.Name {
	case "derivative":
		return v.with(d), nil
	case "nonNegativeDerivative":
		return v.with(d + " >= 0"), nil
	}
	return v.with("(" + d + " >= 0) / " + stepSec), nil
}

// overTime applies an _over_time function over w, directly on a selector
// or through a subquery.
func (t *tr) overTime(v val, fn string, w time.Duration) val { return t.overTimeArg(v, fn, "", w) }

func (t *tr) overTimeArg(v val, fn, pre string, w time.Duration) val {
	if v.sel {
		return val{q: fn + "(" + pre + v.q + "[" + dur(w) + "])", atom: true, nodes: v.nodes, step: v.step}
	}
	t.approx(fmt.Sprintf("%s over a computed expression uses a subquery at %s resolution", fn, dur(t.step())))
	return val{q: fmt.Sprintf("%s(%s(%s)[%s:%s])", fn, pre, v.q, dur(w), dur(t.step())), atom: true, nodes: v.nodes, single: v.single, step: v.step}
}

func (t *tr) moving(c *Call) (val, error) {
	v, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	step := v.stepOr(t.step())
	w, points, err := t.interval(c, 1, "windowSize", step)
	if err != nil {
		return val{}, err
	}
	if points {
		t.approx(fmt.Sprintf("%s over N points taken as N × %s", c.Name, dur(step)))
	}
	t.approx(fmt.Sprintf("%s: Graphite's window is the points of the %s before each point; PromQL's holds the samples in (t-%s, t]: the edges may differ by one point", c.Name, dur(w), dur(w)))
	fn := map[string]string{"movingAverage": "avg_over_time", "movingSum": "sum_over_time", "movingMax": "max_over_time", "movingMin": "min_over_time", "movingMedian": "quantile_over_time"}[c.Name]
	if fn == "quantile_over_time" {
		t.approx("movingMedian: quantile_over_time(0.5) interpolates between the middle samples")
		return t.overTimeArg(v, fn, "0.5, ", w), nil
	}
	return t.overTime(v, fn, w), nil
}

func (t *tr) summarize(c *Call) (val, error) {
	v, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	w, _, err := t.interval(c, 1, "intervalString", 0)
	if err != nil {
		return val{}, err
	}
	def := "sum"
	fn, err := t.str(c, 2, "func", &def)
	if err != nil {
		return val{}, err
	}
	if b := t.arg(c, 3, "alignToFrom"); b != nil {
		if bv, ok := b.(*Bool); !ok || bv.Value {
			return val{}, t.fail(b, "%s: alignToFrom=true aligns buckets to the start of the render window, which PromQL cannot", c.Name)
		}
	}
	m := map[string]string{"sum": "sum_over_time", "total": "sum_over_time", "avg": "avg_over_time", "average": "avg_over_time", "max": "max_over_time", "min": "min_over_time", "last": "last_over_time", "count": "count_over_time"}
	f, ok := m[fn]
	if !ok {
		return val{}, t.fail(c, "%s: aggregation %q has no _over_time equivalent", c.Name, fn)
	}
	if v.rateOf != nil && fn == "sum" {
		t.info("summarize(sum) of a statsd per-second rate adds one value per flush")
	}
	t.approx(fmt.Sprintf("%s: Graphite aligns %s buckets to the clock (or to from with alignToFrom); PromQL's window slides, so query with a %s step for the same points", c.Name, dur(w), dur(w)))
	return t.overTime(v, f, w), nil
}

func (t *tr) hitcount(c *Call) (val, error) {
	v, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	w, _, err := t.interval(c, 1, "intervalString", 0)
	if err != nil {
		return val{}, err
	}
	t.approx(fmt.Sprintf("hitcount: Graphite aligns %s buckets to the clock; PromQL's window slides, so query with a %s step for the same points", dur(w), dur(w)))
	if r := v.rateOf; r != nil {
		if r.sub {
			return val{q: fmt.Sprintf("increase(%s[%s:%s])%s", r.sel, dur(w), dur(t.step()), r.factor), nodes: v.nodes, step: v.step}, nil
		}
		return val{q: fmt.Sprintf("increase(%s[%s])%s", r.sel, dur(w), r.factor), nodes: v.nodes, atom: r.factor == "", step: v.step}, nil
	}
	step := v.stepOr(t.step())
	o := t.overTime(v, "sum_over_time", w)
	t.approx(fmt.Sprintf("hitcount of a non-counter series: the sum of its values times the %s step", dur(step)))
	o.q += " * " + num(step.Seconds())
	o.atom = false
	return o, nil
}

func (t *tr) keepLast(c *Call) (val, error) {
	v, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	step := v.stepOr(t.step())
	w := time.Hour
	if n := t.arg(c, 1, "limit"); n != nil {
		k, err := t.number(c, 1, "limit", nil)
		if err != nil {
			return val{}, err
		}
		if k <= 0 || math.IsInf(k, 0) || k > 1e6 {
			return val{}, t.fail(n, "keepLastValue: expected a positive limit")
		}
		w = time.Duration(k+1) * step
		t.approx(fmt.Sprintf("keepLastValue(%s): a gap is filled for %s (limit+1 points of %s)", num(k), dur(w), dur(step)))
	} else {
		if t.opts.From > 0 {
			w = t.opts.From
		}
		t.approx(fmt.Sprintf("keepLastValue without a limit fills gaps of any length; last_over_time fills them for %s", dur(w)))
	}
	return t.overTime(v, "last_over_time", w), nil
}

// windowRange is the range covering the render window, ending at until:
// "x[10m] offset 1m", or a subquery.
func (t *tr) windowRange(v val) string {
	w := t.opts.From - t.opts.Until
	if w <= 0 {
		w = t.opts.From
	}
	off := ""
	if t.opts.Until > 0 {
		off = " offset " + dur(t.opts.Until)
	}
	if v.sel {
		return v.q + "[" + dur(w) + "]" + off
	}
	return fmt.Sprintf("(%s)[%s:%s]%s", v.q, dur(w), dur(t.step()), off)
}

// reduce returns the per-series aggregate over the render window used by
// averageAbove, highestMax ... ("current" is the last non-null value).
func (t *tr) reduce(c *Call, v val, how string) (string, error) {
	if t.opts.From <= 0 {
		return "", t.fail(c, "%s: it keeps or drops whole series by their values over the render window, which is not known here (give from/until)", c.Name)
	}
	fn := map[string]string{"current": "last_over_time", "average": "avg_over_time", "maximum": "max_over_time", "minimum": "min_over_time"}[how]
	return fn + "(" + t.windowRange(v) + ")", nil
}

// filter translates currentAbove & co in graph semantics: Graphite keeps
// or drops a whole series by an aggregate over the render window; here the
// series is kept while its aggregate over the window ending at each point
// passes, which agrees with Graphite at the end of the window.
func (t *tr) filter(c *Call) (val, error) {
	v, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	t.approx(c.Name + ": the window aggregate is recomputed at each point; Graphite computes it once over the render window (they agree at its end)")
	return t.filterOn(c, v, v)
}

// filterOn keeps the series of cur whose aggregate of v over the render
// window passes the test.
func (t *tr) filterOn(c *Call, v, cur val) (val, error) {
	k, err := t.number(c, 1, "n", nil)
	if err != nil {
		return val{}, err
	}
	name := c.Name
	how, op := "", " > "
	for _, p := range []string{"current", "average", "maximum", "minimum"} {
		if strings.HasPrefix(name, p) {
			how = p
		}
	}
	if strings.HasSuffix(name, "Below") {
		op = " <= "
	}
	agg, err := t.reduce(c, v, how)
	if err != nil {
		return val{}, err
	}
	return cur.with(cur.paren() + " and (" + agg + op + num(k) + ")"), nil
}

func (t *tr) rank(c *Call) (val, error) {
	v, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	t.approx(c.Name + ": the ranking is recomputed at each point over the window ending there; Graphite ranks once over the render window (they agree at its end)")
	return t.rankOn(c, v, v)
}

func (t *tr) rankOn(c *Call, v, cur val) (val, error) {
	one := 1.0
	k, err := t.number(c, 1, "n", &one)
	if err != nil {
		return val{}, err
	}
	name := c.Name
	fn := "topk"
	if strings.HasPrefix(name, "lowest") {
		fn = "bottomk"
	}
	how := map[string]string{"Current": "current", "Average": "average", "Max": "maximum", "Min": "minimum"}[strings.TrimPrefix(strings.TrimPrefix(name, "highest"), "lowest")]
	agg, err := t.reduce(c, v, how)
	if err != nil {
		return val{}, err
	}
	return cur.with(fmt.Sprintf("%s and %s(%s, %s)", cur.paren(), fn, num(k), agg)), nil
}

func (t *tr) grep(c *Call) (val, error) {
	v, err := t.first(c)
	if err != nil {
		return val{}, err
	}
	re, err := t.str(c, 1, "pattern", nil)
	if err != nil {
		return val{}, err
	}
	if _, err := regexp.Compile(re); err != nil {
		return val{}, t.fail(c.Args[1], "%s: invalid regular expression: %v", c.Name, err)
	}
	// The regex applies to the whole Graphite name; it can be turned into
	// a label matcher only when it is a plain word that must equal one
	// node's value.
	if !v.sel || regexp.QuoteMeta(re) != re || strings.Contains(re, ".") || v.nodes == nil {
		return val{}, t.fail(c, "%s: the regular expression applies to the whole Graphite name, which PromQL series do not have (only a literal word, within one labelled node of a plain path, can be translated)", c.Name)
	}
	var ls []string
	for _, n := range v.nodes {
		if n.kind == names.NodeLabel {
			ls = append(ls, n.label)
		}
	}
	if len(ls) != 1 {
		return val{}, t.fail(c, "%s: the word %q could be in any of %d labelled nodes", c.Name, re, len(ls))
	}
	t.approx(fmt.Sprintf("%s(%q) is applied to label %s only; Graphite searches the whole name, constant nodes included", c.Name, re, ls[0]))
	op := "=~"
	if c.Name == "exclude" {
		op = "!~"
	}
	m := ls[0] + op + quote(".*"+regexp.QuoteMeta(re)+".*")
	q := v.q
	if strings.HasSuffix(q, "}") {
		q = q[:len(q)-1] + "," + m + "}"
	} else {
		q += "{" + m + "}"
	}
	w := v
	w.q = q
	return w, nil
}

// offsetOf is v as it was d earlier: `offset` on a selector, a one-step
// subquery shifted by d otherwise.
func (t *tr) offsetOf(v val, d time.Duration) string {
	if v.sel {
		return v.q + " offset " + dur(d)
	}
	t.approx(fmt.Sprintf("the earlier value of a computed expression comes from a subquery at %s resolution", dur(t.step())))
	return fmt.Sprintf("last_over_time((%s)[%s:%s] offset %s)", v.q, dur(t.step()), dur(t.step()), dur(d))
}

func (t *tr) shift(c *Call, v val, back time.Duration) (val, error) {
	if back <= 0 {
		return val{}, t.fail(c, "timeShift into the future is not supported")
	}
	if v.sel {
		return val{q: v.q + " offset " + dur(back), atom: true, nodes: v.nodes, step: v.step}, nil
	}
	// A subquery can be shifted as a whole.
	t.approx(fmt.Sprintf("timeShift of a computed expression uses a subquery at %s resolution", dur(t.step())))
	return val{q: fmt.Sprintf("last_over_time((%s)[%s:%s] offset %s)", v.q, dur(t.step()), dur(t.step()), dur(back)), atom: true, nodes: v.nodes, single: v.single, step: v.step}, nil
}

var tagExprRE = regexp.MustCompile(`^([^!=~]+)(=~|!=~|!=|=)(.*)$`)

func (t *tr) seriesByTag(c *Call) (val, error) {
	if len(c.Args) == 0 {
		return val{}, t.fail(c, "seriesByTag: expected tag expressions")
	}
	var name string
	var ms []names.Matcher
	for _, a := range c.Args {
		s, ok := a.(*String)
		if !ok {
			return val{}, t.fail(a, "seriesByTag: expected a quoted tag expression")
		}
		m := tagExprRE.FindStringSubmatch(s.Value)
		if m == nil {
			return val{}, t.fail(a, "seriesByTag: %q is not a tag expression (tag=value, tag!=value, tag=~regex, tag!=~regex)", s.Value)
		}
		tag, op, value := m[1], m[2], m[3]
		if tag == "name" {
			if op != "=" {
				return val{}, t.fail(a, "seriesByTag: only name=<literal> is supported: names lose their dots when they become metric names")
			}
			name = value
			continue
		}
		mt := names.Matcher{Name: names.EscapeLabelName(tag), Value: value}
		switch op {
		case "!=":
			mt.Neg = true
		case "=~", "!=~":
			if _, err := regexp.Compile(value); err != nil {
				return val{}, t.fail(a, "seriesByTag: invalid regular expression %q: %v", value, err)
			}
			// Graphite anchors tag regexes at the start only.
			mt.Value, mt.Regex, mt.Neg = "(?:"+value+").*", true, op == "!=~"
		}
		ms = append(ms, mt)
	}
	if name == "" {
		return val{}, t.fail(c, "seriesByTag without name=...: selecting by tags across all metrics is not supported")
	}
	res := t.r.graphite.Map(name, names.Gauge)
	if res.Drop {
		return val{}, t.fail(c, "seriesByTag: %s is dropped by mapping rule %q", name, res.Rule.Match)
	}
	metric := names.EscapeGraphite(name)
	var cs names.Case
	if res.Mapped() {
		metric = res.Name
		for _, k := range sortedKeysOf(res.Labels) {
			cs.Labels = append(cs.Labels, names.Matcher{Name: k, Value: res.Labels[k]})
		}
	}
	cs.Name = names.Matcher{Name: "__name__", Value: metric}
	cs.Labels = append(cs.Labels, ms...)
	return val{q: selector(cs, ""), atom: true, sel: true, step: t.r.etsy.carbonStep()}, nil
}

func sortedKeysOf(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return sortedLabels(ks)
}
