package graphiteql

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/copenhagen-obs/copenhagen/translate/names"
)

// Legend says how a dashboard names the translated series so that they
// carry the names Graphite gave them: panel overrides (seriesOverrides,
// aliasColors) match series by display name, so a legend that differs
// silently loses colours, axes and stacking.
type Legend struct {
	// Format is a Grafana legendFormat for the Prometheus query: literal
	// text, {{label}} for a label value, and ${var:glob} where Graphite's
	// name held the template variable as Grafana interpolated it. Empty
	// when no format gives Graphite's names (see Reason).
	Format string
	// Exact is true when Format gives every series exactly the name
	// graphite-web 1.1 gives it.
	Exact bool
	// Reason says why the legend is not exact.
	Reason string
	// Shared is set when Format has no label while the target may give
	// several series: they all get the same name, as in Graphite, and
	// overrides cannot tell them apart.
	Shared bool
}

// TranslateGraph is Translate (graph semantics) with the legend: Result's
// Legend holds the legendFormat that names the PromQL's series as
// Graphite named the target's, or why none does.
func TranslateGraph(target string, r *Resolver, opts TranslateOptions) Result {
	res := Translate(target, r, opts)
	if res.Status == Untranslated {
		return res
	}
	l := LegendOf(target, r)
	res.Legend = &l
	return res
}

// LegendOf works out the names graphite-web 1.1 gives the series of
// target, as a legendFormat over the labels its paths are mapped to.
func LegendOf(target string, r *Resolver) Legend {
	n, err := Parse(target)
	if err != nil {
		return Legend{Reason: "syntax error: " + err.Error()}
	}
	lt := &legendTr{t: &tr{r: r}}
	nm, err := lt.name(n)
	if err != nil {
		return Legend{Reason: err.Error()}
	}
	for _, p := range nm.parts {
		if p.unknown != "" {
			return Legend{Reason: p.unknown}
		}
	}
	f := nm.format()
	return Legend{Format: f, Exact: true, Shared: nm.many && !strings.Contains(f, "{{")}
}

// part is a piece of a series name: literal text, or the value of a label.
type part struct {
	text    string
	label   string
	unknown string // why the value of this piece cannot be shown
}

// seriesName is what is known of the names of the series a node gives:
// every series' name, rendered from labels where they differ, and its
// pathExpression (what aggregates name their result after).
type seriesName struct {
	parts    []part
	pathExpr []part
	// first holds the nodes of the first path expression inside the name,
	// which aliasByNode uses for names that are function calls.
	first [][]part
	// tagged series (seriesByTag) carry their tags as labels of the same
	// names.
	tagged bool
	// many: the node may give several series.
	many bool
}

func (s seriesName) format() string {
	return renderParts(s.parts)
}

func renderParts(ps []part) string {
	var b strings.Builder
	for _, p := range ps {
		if p.label != "" {
			b.WriteString("{{" + p.label + "}}")
		} else {
			b.WriteString(p.text)
		}
	}
	return b.String()
}

func lit(s string) []part { return []part{{text: s}} }

func concat(pss ...[]part) []part {
	var out []part
	for _, ps := range pss {
		for _, p := range ps {
			if p.label == "" && p.unknown == "" && len(out) > 0 && out[len(out)-1].label == "" && out[len(out)-1].unknown == "" {
				out[len(out)-1].text += p.text
				continue
			}
			out = append(out, p)
		}
	}
	return out
}

// endsWithParen is graphite-web's test for "the name is a function call".
func endsWithParen(ps []part) bool {
	if len(ps) == 0 {
		return false
	}
	last := ps[len(ps)-1]
	return last.label == "" && last.unknown == "" && strings.HasSuffix(last.text, ")")
}

// splitNodes splits a name on dots (label values hold no dots: they are
// one Graphite node each).
func splitNodes(ps []part) [][]part {
	out := [][]part{nil}
	for _, p := range ps {
		if p.label != "" || p.unknown != "" {
			out[len(out)-1] = append(out[len(out)-1], p)
			continue
		}
		pieces := strings.Split(p.text, ".")
		for i, s := range pieces {
			if i > 0 {
				out = append(out, nil)
			}
			if s != "" {
				out[len(out)-1] = append(out[len(out)-1], part{text: s})
			}
		}
	}
	return out
}

func joinNodes(ns [][]part) []part {
	var out []part
	for i, n := range ns {
		if i > 0 {
			out = concat(out, lit("."))
		}
		out = concat(out, n)
	}
	return out
}

// nodesOf are the nodes aliasByNode picks from (graphite-web's aggKey:
// the first path expression of a name that is a call, else the name).
func (s seriesName) nodesOf() [][]part {
	if endsWithParen(s.parts) && s.first != nil {
		return s.first
	}
	// Tags (;t=v) are split off first; names built here carry none.
	return splitNodes(s.parts)
}

type legendTr struct {
	t *tr
}

type legendErr string

func (e legendErr) Error() string { return string(e) }

func noLegend(format string, args ...any) error {
	return legendErr(fmt.Sprintf(format, args...))
}

var tmplVarRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\[\[([A-Za-z0-9_]+)(?::[^\]]*)?\]\]|\$([A-Za-z0-9_]+)`)

// pathText is a path expression as Grafana sends it to Graphite: its
// template variables interpolated in Graphite's glob form.
func pathText(text string) []part {
	return lit(tmplVarRE.ReplaceAllStringFunc(text, func(v string) string {
		m := tmplVarRE.FindStringSubmatch(v)
		name := m[1] + m[2] + m[3]
		return "${" + name + ":glob}"
	}))
}

func (lt *legendTr) path(p *Path) (seriesName, error) {
	v, err := lt.t.path(p)
	if err != nil {
		return seriesName{}, err
	}
	var nodes [][]part
	for i, s := range p.Segments {
		if l, ok := s.Literal(); ok && !s.HasVar() {
			nodes = append(nodes, lit(l))
			continue
		}
		if v.nodes == nil || i >= len(v.nodes) || v.nodes[i].kind != names.NodeLabel {
			nodes = append(nodes, []part{{unknown: fmt.Sprintf("node %d (%s) of %s is kept in no label, so its value cannot be shown", i, s.String(), p.Text)}})
			continue
		}
		nodes = append(nodes, []part{{label: v.nodes[i].label}})
	}
	name := joinNodes(nodes)
	many := false
	for _, s := range p.Segments {
		if _, ok := s.Literal(); !ok || s.HasVar() {
			many = true
		}
	}
	return seriesName{parts: name, pathExpr: pathText(p.Text), first: nodes, many: many}, nil
}

// aggregate names graphite-web gives the one series of sumSeries & co.
var aggregateNames = map[string]string{
	"sum": "sumSeries", "sumSeries": "sumSeries", "total": "sumSeries",
	"avg": "averageSeries", "averageSeries": "averageSeries", "average": "averageSeries",
	"max": "maxSeries", "maxSeries": "maxSeries",
	"min": "minSeries", "minSeries": "minSeries",
	"stddev": "stddevSeries", "stddevSeries": "stddevSeries",
	"countSeries": "countSeries", "count": "countSeries",
	"diffSeries": "diffSeries", "multiplySeries": "multiplySeries",
	"rangeOfSeries": "rangeSeries",
}

// renames are functions that name each series fn(name) or fn(name,arg):
// the printf-like format graphite-web 1.1 uses for the extra argument, and
// whether it renames the series in place (keeping its pathExpression) or
// makes a new one (whose pathExpression is its name).
var renames = map[string]struct {
	arg     string // "" none, "g" Python %g, "d" %d, "win" window, "str" quoted
	sep     string
	inPlace bool
	def     string
}{
	"scale":                 {arg: "g", sep: ",", inPlace: true},
	"offset":                {arg: "g", sep: ",", inPlace: true},
	"pow":                   {arg: "g", sep: ",", inPlace: true},
	"absolute":              {inPlace: true},
	"invert":                {inPlace: true},
	"squareRoot":            {inPlace: true},
	"keepLastValue":         {inPlace: true},
	"secondYAxis":           {inPlace: true},
	"removeBelowValue":      {arg: "g", sep: ", ", inPlace: true},
	"removeAboveValue":      {arg: "g", sep: ", ", inPlace: true},
	"transformNull":         {arg: "g", sep: ",", inPlace: true, def: "0"},
	"dashed":                {arg: "g", sep: ", ", inPlace: true, def: "5"},
	"perSecond":             {},
	"derivative":            {},
	"nonNegativeDerivative": {},
	"integral":              {},
	"changed":               {},
	"stdev":                 {arg: "d", sep: ","},
	"movingAverage":         {arg: "win", sep: ","},
	"movingSum":             {arg: "win", sep: ","},
	"movingMin":             {arg: "win", sep: ","},
	"movingMax":             {arg: "win", sep: ","},
	"movingMedian":          {arg: "win", sep: ","},
}

// sameNames are functions that keep the series' names: filters, sorts and
// drawing options.
var sameNames = map[string]bool{
	"color": true, "lineWidth": true, "sortByName": true, "sortByMaxima": true, "sortByMinima": true,
	"sortByTotal": true, "limit": true, "exclude": true, "grep": true,
	"currentAbove": true, "currentBelow": true, "averageAbove": true, "averageBelow": true,
	"maximumAbove": true, "maximumBelow": true, "minimumAbove": true, "minimumBelow": true,
	"highestCurrent": true, "highestAverage": true, "highestMax": true, "lowestCurrent": true,
	"lowestAverage": true, "lowestMax": true, "lowestMin": true,
}

func (lt *legendTr) name(n Node) (seriesName, error) {
	switch n := n.(type) {
	case *Path:
		return lt.path(n)
	case *Call:
		return lt.call(n)
	}
	return seriesName{}, noLegend("expected a series list, found %s", Format(n))
}

func (lt *legendTr) first(c *Call) (seriesName, error) {
	if len(c.Args) == 0 {
		return seriesName{}, noLegend("%s: expected a series list", c.Name)
	}
	return lt.name(c.Args[0])
}

// pyG formats a number as Python's %g does.
func pyG(v float64) string {
	s := strconv.FormatFloat(v, 'g', 6, 64)
	if strings.Contains(s, "e") {
		mant, exp, _ := strings.Cut(s, "e")
		if strings.Contains(mant, ".") {
			mant = strings.TrimRight(strings.TrimRight(mant, "0"), ".")
		}
		sign := exp[0]
		digits := strings.TrimLeft(exp[1:], "0")
		if len(digits) < 2 {
			digits = strings.Repeat("0", 2-len(digits)) + digits
		}
		return mant + "e" + string(sign) + digits
	}
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// pyStr formats a number argument as Python's str() does (ints stay ints).
func pyStr(n *Number) string {
	if !strings.ContainsAny(n.Text, ".eE") {
		return n.Text
	}
	if n.Value == math.Trunc(n.Value) && math.Abs(n.Value) < 1e16 {
		return strconv.FormatFloat(n.Value, 'f', 1, 64)
	}
	return strconv.FormatFloat(n.Value, 'g', -1, 64)
}

func (lt *legendTr) call(c *Call) (seriesName, error) {
	if agg, ok := aggregateNames[c.Name]; ok {
		var exprs [][]part
		var firstArg *seriesName
		for _, a := range c.Args {
			s, err := lt.name(a)
			if err != nil {
				return seriesName{}, err
			}
			if firstArg == nil {
				firstArg = &s
			}
			if s.pathExpr == nil {
				return seriesName{}, noLegend("%s: the name Graphite gives is not known here", c.Name)
			}
			dup := false
			for _, e := range exprs {
				dup = dup || renderParts(e) == renderParts(s.pathExpr)
			}
			if !dup {
				exprs = append(exprs, s.pathExpr)
			}
		}
		if len(exprs) == 0 {
			return seriesName{}, noLegend("%s: expected a series list", c.Name)
		}
		var inner []part
		for i, e := range exprs {
			if i > 0 {
				inner = concat(inner, lit(","))
			}
			inner = concat(inner, e)
		}
		return created(concat(lit(agg+"("), inner, lit(")")), firstArg), nil
	}
	switch c.Name {
	case "alias":
		s, err := lt.first(c)
		if err != nil {
			return s, err
		}
		str, ok := argString(c, 1, "newName")
		if !ok {
			return s, noLegend("alias: expected a name")
		}
		if strings.Contains(str, "{{") || strings.Contains(str, "$") {
			return s, noLegend("alias %q holds characters Grafana would interpolate in a legendFormat", str)
		}
		// An alias keeps the pathExpression.
		return seriesName{parts: lit(str), pathExpr: s.pathExpr, many: s.many}, nil
	case "aliasByNode", "aliasByTags":
		s, err := lt.first(c)
		if err != nil {
			return s, err
		}
		key, err := aggKey(c, s, c.Args[1:])
		if err != nil {
			return s, err
		}
		return seriesName{parts: key, pathExpr: s.pathExpr, tagged: s.tagged, many: s.many}, nil
	case "aliasByMetric":
		s, err := lt.first(c)
		if err != nil {
			return s, err
		}
		ns := s.nodesOf()
		if endsWithParen(s.parts) && s.first == nil {
			return s, noLegend("aliasByMetric: the path inside %s is not known", renderParts(s.parts))
		}
		last := ns[len(ns)-1]
		return seriesName{parts: last, pathExpr: s.pathExpr, many: s.many}, nil
	case "aliasSub":
		s, err := lt.first(c)
		if err != nil {
			return s, err
		}
		for _, p := range s.parts {
			if p.label != "" || p.unknown != "" {
				return s, noLegend("aliasSub rewrites each series' name with a regular expression; legendFormat can only substitute whole labels")
			}
		}
		search, ok1 := argString(c, 1, "search")
		repl, ok2 := argString(c, 2, "replace")
		if !ok1 || !ok2 {
			return s, noLegend("aliasSub: expected search and replace strings")
		}
		re, err := regexp.Compile(search)
		if err != nil {
			return s, noLegend("aliasSub: %q is not a regular expression Go reads the same way: %v", search, err)
		}
		goRepl := regexp.MustCompile(`\\(\d)`).ReplaceAllString(strings.ReplaceAll(repl, "$", "$$"), "${$1}")
		out := re.ReplaceAllString(renderParts(s.parts), goRepl)
		return seriesName{parts: lit(out), pathExpr: s.pathExpr, many: s.many}, nil
	case "sumSeriesWithWildcards", "averageSeriesWithWildcards":
		s, err := lt.first(c)
		if err != nil {
			return s, err
		}
		drop := map[int]bool{}
		for _, a := range c.Args[1:] {
			n, ok := a.(*Number)
			if !ok {
				return s, noLegend("%s: expected node numbers", c.Name)
			}
			drop[int(n.Value)] = true
		}
		// graphite-web splits the series name itself on dots here.
		var keep [][]part
		for i, nd := range splitNodes(s.parts) {
			if !drop[i] {
				keep = append(keep, nd)
			}
		}
		key := joinNodes(keep)
		return seriesName{parts: key, pathExpr: key, many: s.many}, nil
	case "groupByNode", "groupByNodes":
		s, err := lt.first(c)
		if err != nil {
			return s, err
		}
		var nodeArgs []Node
		if c.Name == "groupByNode" {
			if len(c.Args) < 2 {
				return s, noLegend("groupByNode: missing node")
			}
			nodeArgs = c.Args[1:2]
		} else if len(c.Args) > 2 {
			nodeArgs = c.Args[2:]
		}
		key, err := aggKey(c, s, nodeArgs)
		if err != nil {
			return s, err
		}
		return seriesName{parts: key, pathExpr: key, many: s.many}, nil
	case "timeShift":
		s, err := lt.first(c)
		if err != nil {
			return s, err
		}
		str, ok := argString(c, 1, "timeShift")
		if !ok || str == "" {
			return s, noLegend("timeShift: expected a shift")
		}
		if str[0] >= '0' && str[0] <= '9' {
			str = "-" + str
		}
		// The shifted series are fetched again: their pathExpression is the
		// path's.
		return seriesName{parts: concat(lit("timeShift("), s.parts, lit(`, "`+str+`")`)), pathExpr: s.pathExpr, first: s.firstOr(), many: s.many}, nil
	case "asPercent":
		s, err := lt.first(c)
		if err != nil {
			return s, err
		}
		var total []part
		if len(c.Args) < 2 {
			total = concat(lit("sumSeries("), s.pathExpr, lit(")"))
		} else {
			switch a := c.Args[1].(type) {
			case *Number:
				total = lit(pyStr(a))
			case *None:
				total = concat(lit("sumSeries("), s.pathExpr, lit(")"))
			default:
				ts, err := lt.name(a)
				if err != nil {
					return s, err
				}
				if !singleSeries(a) {
					return s, noLegend("asPercent: a total of several series is matched to the series by position")
				}
				total = ts.parts
			}
		}
		if len(c.Args) > 2 {
			return s, noLegend("asPercent with nodes: the names are not modelled")
		}
		out := created(concat(lit("asPercent("), s.parts, lit(","), total, lit(")")), &s)
		out.many = s.many
		return out, nil
	case "divideSeries":
		s, err := lt.first(c)
		if err != nil {
			return s, err
		}
		if len(c.Args) < 2 || !singleSeries(c.Args[1]) {
			return s, noLegend("divideSeries: the divisor is not one series")
		}
		d, err := lt.name(c.Args[1])
		if err != nil {
			return s, err
		}
		out := created(concat(lit("divideSeries("), s.parts, lit(","), d.parts, lit(")")), &s)
		out.many = s.many
		return out, nil
	case "constantLine":
		n, ok := argNumber(c, 0)
		if !ok {
			return seriesName{}, noLegend("constantLine: expected a number")
		}
		// graphite-web names the series by the value alone; only its
		// pathExpression says constantLine.
		return seriesName{parts: lit(pyStr(n)), pathExpr: lit("constantLine(" + pyStr(n) + ")")}, nil
	case "summarize", "hitcount":
		s, err := lt.first(c)
		if err != nil {
			return s, err
		}
		iv, ok := argString(c, 1, "intervalString")
		if !ok {
			return s, noLegend("%s: expected an interval", c.Name)
		}
		extra := ""
		if c.Name == "summarize" {
			fn := "sum"
			if f, ok := argString(c, 2, "func"); ok {
				fn = f
			}
			extra = `, "` + fn + `"`
			if b, ok := argBool(c, 3, "alignToFrom"); ok && b {
				extra += ", true"
			}
		} else if b, ok := argBool(c, 2, "alignToInterval"); ok && b {
			extra += ", true"
		}
		out := created(concat(lit(c.Name+"("), s.parts, lit(`, "`+iv+`"`+extra+")")), &s)
		out.many = s.many
		return out, nil
	}
	if sameNames[c.Name] {
		return lt.first(c)
	}
	if rn, ok := renames[c.Name]; ok {
		s, err := lt.first(c)
		if err != nil {
			return s, err
		}
		arg := ""
		switch rn.arg {
		case "g", "d":
			if len(c.Args) > 1 {
				n, ok := c.Args[1].(*Number)
				if !ok {
					return s, noLegend("%s: expected a number", c.Name)
				}
				if rn.arg == "g" {
					arg = pyG(n.Value)
				} else {
					arg = strconv.FormatInt(int64(n.Value), 10)
				}
			} else if rn.def != "" {
				arg = rn.def
			} else {
				return s, noLegend("%s: missing argument", c.Name)
			}
		case "win":
			if len(c.Args) < 2 {
				return s, noLegend("%s: missing window", c.Name)
			}
			switch a := c.Args[1].(type) {
			case *String:
				arg = `"` + a.Value + `"`
			case *Number:
				arg = strconv.FormatInt(int64(a.Value), 10)
			default:
				return s, noLegend("%s: expected a window", c.Name)
			}
		}
		name := lit(c.Name + "(")
		name = concat(name, s.parts)
		if arg != "" {
			name = concat(name, lit(rn.sep+arg))
		}
		name = concat(name, lit(")"))
		out := seriesName{parts: name, first: s.firstOr(), many: s.many}
		if rn.inPlace {
			out.pathExpr = s.pathExpr
		} else {
			out.pathExpr = name
		}
		return out, nil
	}
	switch c.Name {
	case "legendValue", "cactiStyle":
		return seriesName{}, noLegend("%s writes values into the series names", c.Name)
	case "seriesByTag":
		why := "seriesByTag names each series by its name and tags (name;tag=value...), which no legendFormat spells"
		return seriesName{parts: []part{{unknown: why}}, pathExpr: []part{{unknown: why}}, tagged: true}, nil
	}
	return seriesName{}, noLegend("the names graphite-web gives after %s are not modelled", c.Name)
}

// created is a series graphite-web creates, named name: its pathExpression
// is its name, and the first path inside it is that of its first argument.
func created(name []part, first *seriesName) seriesName {
	s := seriesName{parts: name, pathExpr: name}
	if first != nil {
		s.first = first.firstOr()
	}
	return s
}

// firstOr is the first path of the name, or its own nodes when it is one.
func (s seriesName) firstOr() [][]part {
	if s.first != nil && endsWithParen(s.parts) {
		return s.first
	}
	if endsWithParen(s.parts) {
		return nil
	}
	return splitNodes(s.parts)
}

// aggKey is graphite-web's aggKey: the named nodes (or tags) of each
// series joined with dots.
func aggKey(c *Call, s seriesName, args []Node) ([]part, error) {
	if endsWithParen(s.parts) && s.first == nil {
		return nil, noLegend("%s: the path inside %s is not known", c.Name, renderParts(s.parts))
	}
	ns := s.nodesOf()
	var key [][]part
	for _, a := range args {
		switch a := a.(type) {
		case *Number:
			i := int(a.Value)
			if i < 0 {
				i += len(ns)
			}
			if i < 0 || i >= len(ns) {
				// graphite-web falls back to a tag of that name: none.
				key = append(key, nil)
				continue
			}
			key = append(key, ns[i])
		case *String:
			if s.tagged && a.Value != "name" {
				key = append(key, []part{{label: a.Value}})
				continue
			}
			if a.Value == "name" && !s.tagged {
				key = append(key, s.parts)
				continue
			}
			if a.Value == "name" {
				key = append(key, []part{{unknown: "the name tag of a tagged series is its Graphite name, which the translated series do not carry"}})
				continue
			}
			return nil, noLegend("%s: tag %q of series that are not tagged is empty in Graphite", c.Name, a.Value)
		default:
			return nil, noLegend("%s: expected node numbers or tag names", c.Name)
		}
	}
	return joinNodes(key), nil
}

// singleSeries reports whether a node is known to give one series.
func singleSeries(n Node) bool {
	switch n := n.(type) {
	case *Path:
		for _, s := range n.Segments {
			if _, ok := s.Literal(); !ok || s.HasVar() {
				return false
			}
		}
		return true
	case *Call:
		if _, ok := aggregateNames[n.Name]; ok {
			return true
		}
		if n.Name == "constantLine" {
			return true
		}
		_, renamed := renames[n.Name]
		if (renamed || sameNames[n.Name] || n.Name == "alias" || n.Name == "timeShift") && len(n.Args) > 0 {
			return singleSeries(n.Args[0])
		}
	}
	return false
}

func argString(c *Call, i int, name string) (string, bool) {
	var n Node
	if i < len(c.Args) {
		n = c.Args[i]
	} else {
		n = c.Kwarg(name)
	}
	s, ok := n.(*String)
	if !ok {
		return "", false
	}
	return s.Value, true
}

func argNumber(c *Call, i int) (*Number, bool) {
	if i >= len(c.Args) {
		return nil, false
	}
	n, ok := c.Args[i].(*Number)
	return n, ok
}

func argBool(c *Call, i int, name string) (bool, bool) {
	var n Node
	if i < len(c.Args) {
		n = c.Args[i]
	} else {
		n = c.Kwarg(name)
	}
	b, ok := n.(*Bool)
	if !ok {
		return false, false
	}
	return b.Value, true
}

// PathLabels lists, for each node of a path, the label that holds it in
// the translated series ("" for a node held by no single label; a node
// some mapping rules keep in one label and others in none counts as that
// label): what a dashboard's find query (a template variable) enumerates.
func PathLabels(path string, r *Resolver) ([]string, error) {
	n, err := Parse(path)
	if err != nil {
		return nil, err
	}
	p, ok := n.(*Path)
	if !ok {
		return nil, fmt.Errorf("%s is not a path", path)
	}
	t := &tr{r: r}
	v, err := t.path(p)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(p.Segments))
	for i := range out {
		if i >= len(v.nodes) {
			continue
		}
		switch nd := v.nodes[i]; {
		case nd.kind == names.NodeLabel:
			out[i] = nd.label
		case nd.kind == names.NodeMixed && len(nd.labels) == 1:
			// Held by that label wherever a mapping rule keeps it.
			out[i] = nd.labels[0]
		}
	}
	return out, nil
}
