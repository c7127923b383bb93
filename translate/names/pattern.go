package names

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/prometheus/statsd_exporter/pkg/mapper"
)

// PatternSegment is one dot-separated segment of a name pattern (a Graphite
// glob such as `api.*.{get,put}`), described independently of any glob
// syntax.
type PatternSegment struct {
	// Values lists the segment's values when they are finitely many (a
	// literal, or {a,b} alternatives); nil when the segment is open.
	Values []string
	// Match reports whether a literal segment of a mapping rule is one of
	// the values of an open segment.
	Match func(string) bool
	// Regex describes an open segment as a label value (an RE2 body,
	// unanchored); EscapedRegex describes it inside an escaped metric name.
	Regex, EscapedRegex string
}

// Matcher is one label matcher of a selector.
type Matcher struct {
	Name  string // "__name__" for the metric name
	Value string
	Regex bool // =~ (or !~ with Neg)
	Neg   bool
	ph    string // the value with placeholders, before they became regexes
}

// NodeKind says where a segment of the pattern ended up in the series.
type NodeKind uint8

// Where a pattern segment is found in the resulting series.
const (
	NodeConst  NodeKind = iota // one literal value: the same for every series
	NodeLabel                  // the whole segment is the value of Label
	NodeName                   // the segment is (part of) the metric name
	NodeMixed                  // the segment is part of a label value
	NodeMerged                 // the rule keeps the segment nowhere: series differing only there are one series
)

// PatternNode is where one segment of the pattern lives in a Case's series.
type PatternNode struct {
	Kind  NodeKind
	Label string // NodeLabel, NodeMixed; for NodeConst, the label holding the value if any
	Value string // NodeConst
}

// Case is one way names of a pattern are mapped: one mapping rule (or none)
// and the selector that finds the series it produced.
type Case struct {
	Rule   *mapper.MetricMapping // nil when the names are unmapped (escaped)
	Drop   bool                  // the rule drops these names at ingestion
	Name   Matcher
	Labels []Matcher
	Nodes  []PatternNode // one per pattern segment
	key    string
	probe  []string
	open   []bool
}

// PatternResult is what a pattern becomes.
type PatternResult struct {
	// Cases in the order the mapper would try them; drop cases included.
	Cases []Case
	// Notes are approximations the selectors make.
	Notes []string
	// Ambiguous, when set, says why no faithful selector exists.
	Ambiguous string
}

const maxCases = 256

func placeholder(i int) string { return "zzqph" + strconv.Itoa(i) + "qzz" }

var placeholderRE = regexp.MustCompile(`zzqph([0-9]+)qzz`)

// MapPattern finds the series that the names matching a pattern became,
// for samples of type t. It asks the mapper itself (not a reimplementation
// of it) about probe names: each open segment is tried with every literal
// a rule has at that position and with a placeholder standing for "any
// other value", so rule priorities, match_metric_type and captures are the
// mapper's own. escape is applied to unmapped names (nil: Escape).
func (m *Mapper) MapPattern(segs []PatternSegment, t MetricType, escape func(string) string) PatternResult {
	if escape == nil {
		escape = Escape
	}
	n := len(segs)
	var res PatternResult
	// Literal segments of the glob rules of the same length.
	hasRegex := false
	ruleLits := make([]map[string]bool, n)
	for i := range ruleLits {
		ruleLits[i] = map[string]bool{}
	}
	for _, r := range m.m.Mappings {
		if r.MatchMetricType != "" && r.MatchMetricType != t {
			continue
		}
		if r.MatchType == mapper.MatchTypeRegex {
			hasRegex = true
			continue
		}
		parts := strings.Split(r.Match, ".")
		if len(parts) != n {
			continue
		}
		for i, p := range parts {
			if p != "*" {
				ruleLits[i][p] = true
			}
		}
	}
	cands := make([][]string, n)
	open := make([][]bool, n)
	total := 1
	anyOpen := false
	for i, s := range segs {
		if s.Values != nil {
			cands[i] = s.Values
			open[i] = make([]bool, len(s.Values))
		} else {
			anyOpen = true
			lits := make([]string, 0, len(ruleLits[i]))
			for l := range ruleLits[i] {
				if s.Match == nil || s.Match(l) {
					lits = append(lits, l)
				}
			}
			sort.Strings(lits)
			cands[i] = append(lits, placeholder(i))
			open[i] = make([]bool, len(cands[i]))
			open[i][len(lits)] = true
		}
		total *= len(cands[i])
		if total > maxCases {
			res.Ambiguous = fmt.Sprintf("the pattern expands to more than %d combinations of mapping rules", maxCases)
			return res
		}
	}
	idx := make([]int, n)
	for {
		probe := make([]string, n)
		isOpen := make([]bool, n)
		for i := range segs {
			probe[i] = cands[i][idx[i]]
			isOpen[i] = open[i][idx[i]]
		}
		c, amb := m.probeCase(segs, probe, isOpen, t, escape)
		if amb != "" {
			res.Ambiguous = amb
			return res
		}
		res.Cases = append(res.Cases, c)
		// next combination
		i := n - 1
		for ; i >= 0; i-- {
			idx[i]++
			if idx[i] < len(cands[i]) {
				break
			}
			idx[i] = 0
		}
		if i < 0 {
			break
		}
	}
	res.Cases = subsume(res.Cases)
	res.Notes = append(res.Notes, exclude(res.Cases)...)
	if hasRegex && anyOpen {
		for _, c := range res.Cases {
			if c.Rule == nil {
				res.Notes = append(res.Notes, "regex mapping rules may take some of the names this glob matches; they were only tried on sample names")
				break
			}
		}
	}
	return res
}

func (m *Mapper) probeCase(segs []PatternSegment, probe []string, isOpen []bool, t MetricType, escape func(string) string) (Case, string) {
	name := strings.Join(probe, ".")
	c := Case{probe: probe, open: isOpen, Nodes: make([]PatternNode, len(probe))}
	anyOpen := false
	for _, o := range isOpen {
		anyOpen = anyOpen || o
	}
	rule, labels, ok := m.m.GetMapping(name, t)
	if ok && rule != nil {
		if rule.MatchType == mapper.MatchTypeRegex && anyOpen {
			return c, fmt.Sprintf("names of this pattern go through regex mapping rule %q: which of them it takes cannot be told from a glob", rule.Match)
		}
		c.Rule = rule
		c.key = string(rule.MatchType) + "\x00" + rule.Match + "\x00" + string(rule.MatchMetricType)
		if rule.Action == mapper.ActionTypeDrop {
			c.Drop = true
			return c, ""
		}
		c.Name = toMatcher("__name__", Escape(rule.Name), segs, true)
		for _, k := range sortedKeys(labels) {
			c.Labels = append(c.Labels, toMatcher(k, labels[k], segs, false))
		}
	} else {
		c.key = "unmapped"
		c.Name = toMatcher("__name__", escape(name), segs, true)
	}
	for i, p := range probe {
		if !isOpen[i] {
			c.Nodes[i] = PatternNode{Kind: NodeConst, Value: p, Label: m.constLabel(probe, i, t, c.key)}
			continue
		}
		ph := placeholder(i)
		c.Nodes[i] = PatternNode{Kind: NodeMerged}
		if strings.Contains(c.Name.ph, ph) {
			c.Nodes[i] = PatternNode{Kind: NodeName}
		} else {
			for _, k := range sortedKeys(labels) {
				v := labels[k]
				if v == ph {
					c.Nodes[i] = PatternNode{Kind: NodeLabel, Label: k}
					break
				}
				if strings.Contains(v, ph) {
					c.Nodes[i] = PatternNode{Kind: NodeMixed, Label: k}
				}
			}
		}
	}
	return c, ""
}

// constLabel finds the label that holds literal segment i of probe, by
// mapping the name again with a placeholder there: when the same rule
// takes it and puts the placeholder whole into one label, that label holds
// the segment. "" when no label does.
func (m *Mapper) constLabel(probe []string, i int, t MetricType, key string) string {
	alt := append([]string(nil), probe...)
	alt[i] = placeholder(len(probe) + i)
	rule, labels, ok := m.m.GetMapping(strings.Join(alt, "."), t)
	if !ok || rule == nil || string(rule.MatchType)+"\x00"+rule.Match+"\x00"+string(rule.MatchMetricType) != key {
		return ""
	}
	for _, k := range sortedKeys(labels) {
		if labels[k] == alt[i] {
			return k
		}
	}
	return ""
}

// toMatcher turns a value in which placeholders stand for open segments
// into an equality or an anchored-regex matcher.
func toMatcher(name, v string, segs []PatternSegment, escaped bool) Matcher {
	locs := placeholderRE.FindAllStringSubmatchIndex(v, -1)
	if len(locs) == 0 {
		return Matcher{Name: name, Value: v}
	}
	var b strings.Builder
	last := 0
	for _, l := range locs {
		b.WriteString(regexp.QuoteMeta(v[last:l[0]]))
		i, _ := strconv.Atoi(v[l[2]:l[3]])
		if escaped {
			b.WriteString(segs[i].EscapedRegex)
		} else {
			b.WriteString(segs[i].Regex)
		}
		last = l[1]
	}
	b.WriteString(regexp.QuoteMeta(v[last:]))
	return Matcher{Name: name, Value: b.String(), Regex: true, ph: v}
}

// instanceOf reports whether a's probe is one of the names b's probe
// stands for.
func instanceOf(a, b Case) bool {
	for i := range a.probe {
		if b.open[i] {
			continue
		}
		if a.open[i] || a.probe[i] != b.probe[i] {
			return false
		}
	}
	return true
}

// subsume drops cases that another case of the same rule already covers.
func subsume(cs []Case) []Case {
	out := cs[:0]
	for i, a := range cs {
		covered := false
		for j, b := range cs {
			if i == j || a.key != b.key {
				continue
			}
			if instanceOf(a, b) && (!instanceOf(b, a) || j < i) {
				covered = true
				break
			}
		}
		if !covered {
			out = append(out, a)
		}
	}
	return out
}

// exclude adds negative matchers to open cases for the literal values that
// other rules take, where the two could select the same series.
func exclude(cs []Case) []string {
	var notes []string
	for ci := range cs {
		c := &cs[ci]
		if c.Drop {
			continue
		}
		neg := map[string][]string{}
		for _, l := range cs {
			if l.key == c.key || !instanceOf(l, *c) || instanceOf(*c, l) {
				continue
			}
			if !l.Drop && !c.Name.Regex && !l.Name.Regex && l.Name.Value != c.Name.Value {
				continue // different metrics: the series cannot mix
			}
			if !l.Drop && c.Name.Regex && !l.Name.Regex {
				if re, err := regexp.Compile("^(?:" + c.Name.Value + ")$"); err == nil && !re.MatchString(l.Name.Value) {
					continue
				}
			}
			if l.Drop {
				continue // dropped names have no series to exclude
			}
			var diff []int
			for i := range l.probe {
				if c.open[i] && !l.open[i] {
					diff = append(diff, i)
				}
			}
			if len(diff) == 1 && c.Nodes[diff[0]].Kind == NodeLabel {
				lbl := c.Nodes[diff[0]].Label
				neg[lbl] = append(neg[lbl], l.probe[diff[0]])
				continue
			}
			notes = append(notes, fmt.Sprintf("the selector of %s may also match series of %s", c.describe(), l.describe()))
		}
		keys := make([]string, 0, len(neg))
		for k := range neg {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			vs := neg[k]
			for i := range vs {
				vs[i] = regexp.QuoteMeta(vs[i])
			}
			c.Labels = append(c.Labels, Matcher{Name: k, Value: strings.Join(vs, "|"), Regex: true, Neg: true})
		}
	}
	return notes
}

func (c Case) describe() string {
	if c.Rule == nil {
		return "unmapped names"
	}
	return fmt.Sprintf("rule %q", c.Rule.Match)
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
