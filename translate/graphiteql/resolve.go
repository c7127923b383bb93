package graphiteql

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/statsd_exporter/pkg/mapper"

	"github.com/copenhagen-obs/copenhagen/translate/names"
)

// Resolver answers "which Prometheus series hold the data Graphite had
// under this path?" with the same mapping rules ingestion uses.
type Resolver struct {
	statsd   *names.Mapper
	graphite *names.Mapper
	etsy     Options
}

// NewResolver builds a Resolver from the StatsD and Graphite (carbon)
// mapping rules in use (nil: no rules, names are escaped) and the etsy
// statsd settings the legacy names were flushed with.
func NewResolver(statsd, graphite *names.Mapper, etsy Options) *Resolver {
	if statsd == nil {
		statsd = names.Empty()
	}
	if graphite == nil {
		graphite = names.Empty()
	}
	if len(etsy.PercentThresholds) == 0 {
		etsy.PercentThresholds = []float64{90}
	}
	return &Resolver{statsd: statsd, graphite: graphite, etsy: etsy}
}

// node says where one Graphite path node is in the translated series.
type node struct {
	kind  names.NodeKind
	label string
	// For a NodeMixed node whose mapping rules differ: the labels holding
	// it where one does, and whether every rule keeps it either whole in
	// one label or as a constant (then sumSeriesWithWildcards can drop it).
	labels    []string
	droppable bool
}

// val is a translated series expression and what is known about it.
type val struct {
	q      string
	atom   bool          // can be an operand without parentheses
	sel    bool          // a bare instant-vector selector (can take [range])
	single bool          // at most one series, without labels
	one    bool          // one Graphite series (a path without globs), labels included
	nodes  []node        // per Graphite node; nil when unknown
	step   time.Duration // Graphite's step for these series
	// rateOf is set when q is the per-second rate of a counter: the
	// selector and the factor, so hitcount can use increase() on it.
	rateOf *rateInfo
}

type rateInfo struct {
	sel    string // range-able selector text: "x{...}" or a subquery body
	factor string // " / 1024" or ""
	sub    bool   // sel needs a subquery range ([w:step])
}

func (v val) paren() string {
	if v.atom {
		return v.q
	}
	return "(" + v.q + ")"
}

// selector renders a Case's selector with a name suffix.
func selector(c names.Case, suffix string, extra ...names.Matcher) string {
	var b strings.Builder
	var ms []names.Matcher
	for _, m := range append(append([]names.Matcher{}, c.Labels...), extra...) {
		if m.Regex && !m.Neg && m.Value == ".*" {
			continue // matches every value, an absent label included
		}
		ms = append(ms, m)
	}
	if c.Name.Regex {
		re := "(?:" + c.Name.Value + ")" + suffix
		ms = append([]names.Matcher{{Name: "__name__", Value: re, Regex: true}}, ms...)
		if cre, err := regexp.Compile("^(?:" + re + ")$"); err != nil || cre.MatchString("") {
			// PromQL wants one matcher that rejects the empty string;
			// metric names are never empty.
			ms = append([]names.Matcher{{Name: "__name__", Value: ".+", Regex: true}}, ms...)
		}
	} else {
		b.WriteString(c.Name.Value + suffix)
	}
	if len(ms) == 0 {
		return b.String()
	}
	b.WriteByte('{')
	for i, m := range ms {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(m.Name)
		switch {
		case m.Regex && m.Neg:
			b.WriteString("!~")
		case m.Regex:
			b.WriteString("=~")
		case m.Neg:
			b.WriteString("!=")
		default:
			b.WriteByte('=')
		}
		b.WriteString(quote(m.Value))
	}
	b.WriteByte('}')
	return b.String()
}

// quote writes a PromQL string literal.
func quote(s string) string { return strconv.Quote(s) }

// dur formats a duration the way PromQL writes it (1m30s, 5m, 1h, 7d).
func dur(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	var b strings.Builder
	ms := d.Milliseconds()
	units := []struct {
		n int64
		u string
	}{{7 * 24 * 3600 * 1000, "w"}, {24 * 3600 * 1000, "d"}, {3600 * 1000, "h"}, {60 * 1000, "m"}, {1000, "s"}, {1, "ms"}}
	for _, u := range units {
		if ms >= u.n {
			b.WriteString(strconv.FormatInt(ms/u.n, 10) + u.u)
			ms %= u.n
		}
	}
	return b.String()
}

func num(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// percent turns 99.9 into 0.999 exactly as written (99.9/100 is not).
func percent(p float64) float64 {
	q, err := strconv.ParseFloat(num(p)+"e-2", 64)
	if err != nil {
		return p / 100
	}
	return q
}

// rangeOf returns "S[w]" for a case, or a subquery that first copies the
// metric name into a label when the name is a regex: functions over ranges
// drop the metric name, and series of different names with the same
// labels would collide.
func (t *tr) rangeOf(c names.Case, suffix string, w time.Duration, step time.Duration, extra ...names.Matcher) (string, bool) {
	s := selector(c, suffix, extra...)
	if !c.Name.Regex {
		return s + "[" + dur(w) + "]", false
	}
	t.approx(fmt.Sprintf("the metric name is a pattern (%s): it is kept in label metric_name through a subquery at %s, since rate() and friends drop metric names", c.Name.Value, dur(step)))
	return fmt.Sprintf("label_replace(%s, \"metric_name\", \"$1\", \"__name__\", %s)[%s:%s]", s, quote("(.+)"+suffix), dur(w), dur(step)), true
}

// instant is a case's instant selector; a name pattern is copied into
// label metric_name first, since arithmetic drops metric names and series
// of different names with the same labels would collide.
func (t *tr) instant(c names.Case, suffix string, extra ...names.Matcher) string {
	s := selector(c, suffix, extra...)
	if !c.Name.Regex {
		return s
	}
	t.info("the metric name is a pattern: it is copied into label metric_name so that series stay distinct")
	return fmt.Sprintf("label_replace(%s, \"metric_name\", \"$1\", \"__name__\", %s)", s, quote("(.+)"+suffix))
}

// path resolves a Graphite path into PromQL.
func (t *tr) path(p *Path) (val, error) {
	o := t.r.etsy
	f, amb := o.classify(p.Segments)
	if amb != "" {
		return val{}, t.fail(p, "ambiguous: %s", amb)
	}
	if f.note != "" {
		t.approx(f.note)
	}
	if f.kind == kindStatsdSelf {
		return val{}, t.fail(p, "%s is the statsd daemon's own metric; Copenhagen's own metrics are named copenhagen_*", p.Text)
	}
	m, typ, escape := t.r.statsd, names.Counter, names.Escape
	step := o.flush()
	switch f.kind {
	case kindCarbon:
		m, typ, escape, step = t.r.graphite, names.Gauge, names.EscapeGraphite, o.carbonStep()
	case kindTimer:
		typ = names.Observer
	case kindGauge, kindSet:
		typ = names.Gauge
	}
	var stat string
	var pct float64
	if f.kind == kindTimer {
		var hasPct, ok bool
		stat, pct, hasPct, ok = o.timerStat(f.stat)
		if !ok {
			if hasPct {
				return val{}, t.fail(p, "%s: %s is not among the percent thresholds (%v)", p.Text, f.stat, o.PercentThresholds)
			}
			return val{}, t.fail(p, "%s: %q is not a statistic statsd writes for timers", p.Text, f.stat)
		}
		if hasPct && stat != "upper" {
			return val{}, t.fail(p, "%s: %s_%s of a timer (the statistic of its lowest %s%% values) is not kept by histograms or summaries", p.Text, stat, num(pct), num(pct))
		}
		if pct < 0 {
			return val{}, t.fail(p, "%s: negative percent thresholds are not kept by histograms or summaries", p.Text)
		}
	}
	segs := make([]names.PatternSegment, len(f.name))
	for i, s := range f.name {
		ps := names.PatternSegment{Regex: s.Regex(nil), EscapedRegex: s.Regex(escape)}
		if !s.HasVar() {
			if vs, ok := s.Values(); ok {
				// Names have no empty segments: {,a} is just a.
				for _, v := range vs {
					if v != "" {
						ps.Values = append(ps.Values, v)
					}
				}
				if len(ps.Values) == 0 {
					return val{}, t.fail(p, "segment %s of %s only matches empty segments, which names never have", s.String(), p.Text)
				}
			}
		}
		if ps.Values == nil {
			re := s.Matcher()
			ps.Match = re.MatchString
			if s.HasVar() {
				t.info(fmt.Sprintf("template variable in %q: its values are assumed not to be literals of other mapping rules", s.String()))
			}
		}
		segs[i] = ps
	}
	pr := m.MapPattern(segs, typ, escape)
	if pr.Ambiguous != "" {
		return val{}, t.fail(p, "ambiguous: %s", pr.Ambiguous)
	}
	for _, n := range pr.Notes {
		t.approx(n)
	}
	var live []names.Case
	for _, c := range pr.Cases {
		if c.Drop {
			t.info(fmt.Sprintf("names matching rule %q are dropped at ingestion", c.Rule.Match))
			continue
		}
		live = append(live, c)
	}
	if len(live) == 0 {
		return val{}, t.fail(p, "every name of %s is dropped by the mapping rules", p.Text)
	}
	live = mergeCases(live)
	if len(live) > 1 {
		t.info(fmt.Sprintf("%s spans %d mapping rules: their selectors are joined with `or`, each result labelled with its metric_name", p.Text, len(live)))
	}
	var parts []val
	for _, c := range live {
		if c.Rule == nil && f.kind != kindCarbon && hasOpen(c) {
			t.approx("unmapped names are escaped: '.' and '_' become the same, so the name regex may also match names with more segments")
		}
		if c.Rule == nil && f.kind == kindCarbon && hasOpen(c) {
			t.approx("unmapped carbon names are escaped: '.' and '_' become the same, so the name regex may also match names with more segments")
		}
		for i, n := range c.Nodes {
			if n.Kind == names.NodeMerged {
				t.approx(fmt.Sprintf("rule %q keeps node %d (%s) in no label: Graphite's separate series are one series here", c.Rule.Match, f.prefix+i, f.name[i].String()))
			}
		}
		v, err := t.caseExpr(p, f, c, stat, pct, step)
		if err != nil {
			return val{}, err
		}
		if len(live) > 1 && !c.Name.Regex {
			v.q = fmt.Sprintf("label_replace(%s, \"metric_name\", %s, \"\", \"\")", v.q, quote(c.Name.Value))
			v.atom, v.sel = true, false
		}
		parts = append(parts, v)
	}
	out := parts[0]
	if len(parts) > 1 {
		qs := make([]string, len(parts))
		for i, v := range parts {
			qs[i] = v.paren()
		}
		out = val{q: strings.Join(qs, " or ")}
	}
	out.step = step
	out.nodes = pathNodes(p, f, live)
	out.one = len(live) == 1
	for _, n := range out.nodes {
		out.one = out.one && n.kind == names.NodeConst
	}
	return out, nil
}

func hasOpen(c names.Case) bool {
	for _, n := range c.Nodes {
		if n.Kind != names.NodeConst {
			return true
		}
	}
	return false
}

// pathNodes merges where each Graphite node is across the cases.
func pathNodes(p *Path, f flushName, cs []names.Case) []node {
	nodes := make([]node, len(p.Segments))
	for i := range nodes {
		nodes[i] = node{kind: names.NodeConst}
	}
	for i := range f.name {
		n := node{kind: names.NodeConst}
		value, label, varies := "", "", false
		for j, c := range cs {
			cn := c.Nodes[i]
			if cn.Kind == names.NodeConst {
				if j > 0 && cn.Value != value {
					varies = true
				}
				value = cn.Value
				cn = names.PatternNode{Kind: names.NodeLabel, Label: cn.Label}
				if cn.Label == "" {
					cn.Kind = names.NodeMixed
				}
			} else {
				varies = true
			}
			if j == 0 {
				label = cn.Label
				n = node{kind: cn.Kind, label: cn.Label}
			} else if cn.Kind != n.kind || cn.Label != label {
				n = node{kind: names.NodeMixed}
			}
		}
		if !varies {
			n = node{kind: names.NodeConst}
		} else if n.kind == names.NodeMixed {
			n.droppable = true
			for _, c := range cs {
				cn := c.Nodes[i]
				switch {
				case cn.Kind == names.NodeLabel || (cn.Kind == names.NodeConst && cn.Label != ""):
					n.labels = append(n.labels, cn.Label)
				case cn.Kind != names.NodeConst:
					n.droppable = false
				}
			}
			n.labels = sortedLabels(n.labels)
		}
		nodes[f.prefix+i] = n
	}
	return nodes
}

// mergeCases joins cases of the same rule and metric name that differ in
// one label only ({user,system} alternatives) into one selector with a
// regex alternation: the same series, without a union.
func mergeCases(cs []names.Case) []names.Case {
	var out []names.Case
	for _, c := range cs {
		merged := false
		for k := range out {
			if m, ok := merge(out[k], c); ok {
				out[k] = m
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, c)
		}
	}
	return out
}

func merge(a, b names.Case) (names.Case, bool) {
	if a.Rule == nil || b.Rule == nil || a.Rule.Match != b.Rule.Match || a.Rule.MatchMetricType != b.Rule.MatchMetricType ||
		a.Name != b.Name || a.Name.Regex || len(a.Labels) != len(b.Labels) {
		return a, false
	}
	diff := -1
	for i := range a.Labels {
		la, lb := a.Labels[i], b.Labels[i]
		if la == lb {
			continue
		}
		if la.Name != lb.Name || la.Neg || lb.Neg || diff >= 0 {
			return a, false
		}
		diff = i
	}
	if diff < 0 {
		return a, true
	}
	re := func(m names.Matcher) string {
		if m.Regex {
			return m.Value
		}
		return regexp.QuoteMeta(m.Value)
	}
	out := a
	out.Labels = append([]names.Matcher(nil), a.Labels...)
	out.Labels[diff] = names.Matcher{Name: a.Labels[diff].Name, Value: re(a.Labels[diff]) + "|" + re(b.Labels[diff]), Regex: true}
	out.Nodes = append([]names.PatternNode(nil), a.Nodes...)
	for i := range out.Nodes {
		if a.Nodes[i] != b.Nodes[i] {
			if a.Nodes[i].Kind == names.NodeConst && b.Nodes[i].Kind == names.NodeConst && a.Nodes[i].Label == b.Nodes[i].Label && a.Nodes[i].Label != "" {
				out.Nodes[i] = names.PatternNode{Kind: names.NodeLabel, Label: a.Nodes[i].Label}
			} else {
				return a, false
			}
		}
	}
	return out, true
}

// caseExpr is the PromQL for one mapping case of a path.
func (t *tr) caseExpr(p *Path, f flushName, c names.Case, stat string, pct float64, step time.Duration) (val, error) {
	o := t.r.etsy
	rule := c.Rule
	scale := 1.0
	// Carbon ingestion does not apply scale (translate/carbon); StatsD
	// ingestion does.
	if rule != nil && rule.Scale.Set && rule.Scale.Val != 0 && f.kind != kindCarbon {
		scale = rule.Scale.Val
	}
	unscale := ""
	if scale != 1 {
		unscale = " / " + num(scale)
		t.info(fmt.Sprintf("rule %q scales values by %s at ingestion: divided back", rule.Match, num(scale)))
	}
	w := o.rateWindow()
	flushSec := num(o.flush().Seconds())
	switch f.kind {
	case kindCarbon, kindGauge, kindSet:
		s := selector(c, "")
		if c.Name.Regex {
			// Any function or operator drops the metric name; series of
			// different names with the same labels would then collide.
			t.info("the metric name is a pattern: it is copied into label metric_name so that series stay distinct")
			s = fmt.Sprintf("label_replace(%s, \"metric_name\", \"$1\", \"__name__\", \"(.+)\")", s)
			if unscale != "" && f.kind != kindSet {
				return val{q: s + unscale}, nil
			}
			return val{q: s, atom: true}, nil
		}
		if unscale != "" && f.kind != kindSet {
			return val{q: s + unscale}, nil
		}
		return val{q: s, atom: true, sel: true}, nil
	case kindCounterRate, kindCounterCount:
		r, sub := t.rangeOf(c, "", w, step)
		q := "rate(" + r + ")"
		ri := &rateInfo{sel: selector(c, ""), factor: unscale, sub: sub}
		if sub {
			ri.sel = fmt.Sprintf("label_replace(%s, \"metric_name\", \"$1\", \"__name__\", \"(.+)\")", selector(c, ""))
		}
		if f.kind == kindCounterRate {
			t.approx(fmt.Sprintf("statsd's per-second rate of one %s flush is rate() averaged over %s", dur(o.flush()), dur(w)))
			if unscale != "" {
				return val{q: q + unscale, rateOf: ri}, nil
			}
			return val{q: q, atom: true, rateOf: ri}, nil
		}
		t.approx(fmt.Sprintf("statsd's count of one %s flush is rate() over %s times %ss", dur(o.flush()), dur(w), flushSec))
		return val{q: q + " * " + flushSec + unscale}, nil
	}
	// Timers: observations in seconds, Graphite had milliseconds.
	toMs := " * " + num(1000/scale)
	layout, hist := t.r.statsd.Histogram(rule)
	if hist && layout.Native() {
		if v, ok := t.nativeTimer(c, f.stat, stat, pct, step, layout, unscale, toMs); ok {
			return v, nil
		}
	}
	switch stat {
	case "count", "count_ps":
		r, _ := t.rangeOf(c, "_count", w, step)
		if stat == "count_ps" {
			t.approx(fmt.Sprintf("statsd's count_ps of one %s flush is rate() averaged over %s", dur(o.flush()), dur(w)))
			return val{q: "rate(" + r + ")", atom: true}, nil
		}
		t.approx(fmt.Sprintf("statsd's count of one %s flush is rate() over %s times %ss", dur(o.flush()), dur(w), flushSec))
		return val{q: "rate(" + r + ") * " + flushSec}, nil
	case "sum":
		r, _ := t.rangeOf(c, "_sum", w, step)
		t.approx(fmt.Sprintf("statsd's sum of one %s flush is rate() over %s times %ss", dur(o.flush()), dur(w), flushSec))
		return val{q: "rate(" + r + ") * " + flushSec + toMs}, nil
	case "mean":
		rs, _ := t.rangeOf(c, "_sum", w, step)
		rc, _ := t.rangeOf(c, "_count", w, step)
		t.approx(fmt.Sprintf("statsd's mean of one %s flush is the mean over %s (rate of _sum / rate of _count)", dur(o.flush()), dur(w)))
		return val{q: "rate(" + rs + ") / rate(" + rc + ")" + toMs}, nil
	case "upper", "median":
		q := percent(pct)
		if stat == "median" {
			q = 0.5
		}
		if stat == "upper" && pct == 0 {
			if !hist && summaryHas(rule, t.r.statsd, 1) {
				t.approx("upper (the maximum of a flush) is the summary's quantile 1 over its max_age window")
				return val{q: t.instant(c, "", names.Matcher{Name: "quantile", Value: "1"}) + toMs}, nil
			}
			return val{}, t.fail(p, "%s: the maximum of a flush (upper) is not kept by histograms or summaries", p.Text)
		}
		if hist {
			r, _ := t.rangeOf(c, "_bucket", w, step)
			t.approx(fmt.Sprintf("the %s of one flush is histogram_quantile(%s) over %s: interpolated within buckets", f.stat, num(q), dur(w)))
			return val{q: fmt.Sprintf("histogram_quantile(%s, rate(%s))%s", num(q), r, toMs)}, nil
		}
		if !summaryHas(rule, t.r.statsd, q) {
			return val{}, t.fail(p, "%s: the summary has no %s quantile (map the timer with observer_type: histogram, or add quantile %s to its summary_options)", p.Text, num(q), num(q))
		}
		t.approx(fmt.Sprintf("the %s of one flush is the summary's %s quantile over its max_age window", f.stat, num(q)))
		return val{q: t.instant(c, "", names.Matcher{Name: "quantile", Value: num(q)}) + toMs}, nil
	case "lower":
		if !hist && summaryHas(rule, t.r.statsd, 0) {
			t.approx("lower (the minimum of a flush) is the summary's quantile 0 over its max_age window")
			return val{q: t.instant(c, "", names.Matcher{Name: "quantile", Value: "0"}) + toMs}, nil
		}
		return val{}, t.fail(p, "%s: the minimum of a flush (lower) is not kept by histograms or summaries", p.Text)
	case "std", "sum_squares":
		return val{}, t.fail(p, "%s: %s needs the sum of squares of the observations, which histograms and summaries do not keep", p.Text, stat)
	}
	return val{}, t.fail(p, "%s: %q is not a statistic statsd writes for timers", p.Text, stat)
}

func summaryHas(rule *mapper.MetricMapping, m *names.Mapper, q float64) bool {
	qs := m.Defaults().SummaryOptions.Quantiles
	if rule != nil && rule.SummaryOptions != nil && len(rule.SummaryOptions.Quantiles) > 0 {
		qs = rule.SummaryOptions.Quantiles
	}
	for _, o := range qs {
		if o.Quantile == q {
			return true
		}
	}
	return false
}

// sortedLabels lists distinct labels in order.
func sortedLabels(ls []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range ls {
		if !seen[l] {
			seen[l] = true
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}
