package convert

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteql"
)

// templating converts the Graphite query variables into label_values()
// variables and the data source variables into Prometheus ones; interval,
// custom, constant and text variables are kept as they are.
func (c *conv) templating(d doc) {
	t, _ := d["templating"].(doc)
	list, _ := t["list"].([]any)
	for _, x := range list {
		v, ok := x.(doc)
		if !ok {
			continue
		}
		name, _ := v["name"].(string)
		typ, _ := v["type"].(string)
		// Removed by Grafana in schema 28.
		for _, k := range []string{"tags", "tagsQuery", "tagValuesQuery", "useTags"} {
			delete(v, k)
		}
		switch typ {
		case "datasource":
			if q, _ := v["query"].(string); q == "graphite" {
				v["query"] = "prometheus"
				v["current"] = doc{}
				v["options"] = []any{}
				c.rep.Variables = append(c.rep.Variables, VarReport{Name: name, From: "graphite", To: "prometheus", Status: graphiteql.Translated})
				c.graphite["$"+name] = true
				c.graphite["${"+name+"}"] = true
			}
		case "query":
			if !c.isGraphiteDS(v["datasource"]) && v["datasource"] != nil {
				continue
			}
			c.queryVar(v, name)
		case "adhoc":
			if c.isGraphiteDS(v["datasource"]) {
				v["datasource"] = c.promRef
				c.rep.Variables = append(c.rep.Variables, VarReport{Name: name, From: "adhoc", To: "adhoc", Status: graphiteql.Partial, Reason: "Graphite tag filters become Prometheus label filters: check the keys"})
			}
		}
	}
}

func (c *conv) queryVar(v doc, name string) {
	var q string
	switch qv := v["query"].(type) {
	case string:
		q = qv
	case doc:
		q, _ = qv["target"].(string)
		if q == "" {
			q, _ = qv["query"].(string)
		}
	}
	vr := VarReport{Name: name, From: q}
	expr, err := c.labelValues(q)
	if err != nil {
		vr.Status, vr.Reason = graphiteql.Untranslated, err.Error()
		c.rep.Variables = append(c.rep.Variables, vr)
		// Left on Graphite; panels still using it keep working there.
		v["datasource"] = graphiteRef(v["datasource"])
		return
	}
	vr.To, vr.Status = expr, graphiteql.Translated
	v["datasource"] = c.promRef
	v["query"] = doc{"qryType": 1, "query": expr, "refId": "PrometheusVariableQueryEditor-VariableQuery"}
	v["definition"] = expr
	if av, ok := v["allValue"].(string); ok && av != "" {
		re, err := globRegex(av)
		if err != nil {
			vr.Status, vr.Reason = graphiteql.Partial, fmt.Sprintf("custom All value %q: %v", av, err)
		} else {
			v["allValue"] = re
			vr.Reason = fmt.Sprintf("custom All value %q became the regex %q", av, re)
		}
	}
	c.rep.Variables = append(c.rep.Variables, vr)
}

// globRegex turns a Graphite glob (a custom All value: *, {a,b}) into the
// regex PromQL matchers take.
func globRegex(glob string) (string, error) {
	p, err := graphiteql.Parse(glob)
	if err != nil {
		return "", err
	}
	path, ok := p.(*graphiteql.Path)
	if !ok || len(path.Segments) != 1 {
		if glob == "*" {
			return ".*", nil
		}
		return "", fmt.Errorf("not a one-node glob")
	}
	return path.Segments[0].Regex(nil), nil
}

// labelValues finds the label a Graphite find query enumerates: its last
// node, resolved as a path of the series below it, must be held by one
// label. The query's own template variables stay in the selector, so
// chained variables keep working.
func (c *conv) labelValues(q string) (string, error) {
	q = strings.TrimSpace(q)
	if q == "" {
		return "", fmt.Errorf("empty query")
	}
	n, err := graphiteql.Parse(q)
	if err != nil {
		return "", fmt.Errorf("query %q: %v", q, err)
	}
	p, ok := n.(*graphiteql.Path)
	if !ok {
		return "", fmt.Errorf("query %q is not a metric path (functions in variable queries have no label_values equivalent)", q)
	}
	k := len(p.Segments) - 1
	var lastErr string
	// The query enumerates nodes that may be prefixes: try the series
	// below them (StatsD timers end in a statistic).
	for _, suffix := range []string{"", ".*", ".*.*", ".*.*.*", ".count", ".*.count", ".*.*.count", ".*.*.*.count"} {
		res := graphiteql.TranslateGraph(q+suffix, c.opts.Resolver, graphiteql.TranslateOptions{})
		if res.Status == graphiteql.Untranslated {
			lastErr = strings.TrimPrefix(res.Reason, "untranslated: ")
			continue
		}
		ls, err := graphiteql.PathLabels(q+suffix, c.opts.Resolver)
		if err != nil || k >= len(ls) || ls[k] == "" {
			lastErr = fmt.Sprintf("node %d of %s is kept in no label", k, q)
			continue
		}
		label := ls[k]
		sel, err := selectorOf(res.PromQL, label)
		if err != nil {
			lastErr = err.Error()
			continue
		}
		return fmt.Sprintf("label_values(%s, %s)", regexVars(sel), label), nil
	}
	return "", fmt.Errorf("query %q: %s", q, lastErr)
}

var varRE = regexp.MustCompile(`\$\{[^}]*\}|\[\[[^\]]*\]\]|\$[A-Za-z0-9_]+`)

// selectorOf builds the series selector of a label_values() query from
// a translated expression: the metric names of all its selectors, and the
// matchers they share. The enumerated label's own matcher is kept (a glob
// on that node narrows the values) unless it is a template variable.
func selectorOf(promql, label string) (string, error) {
	// One placeholder per variable, so the same variable in several
	// selectors is the same matcher.
	var vars []string
	index := map[string]int{}
	masked := varRE.ReplaceAllStringFunc(promql, func(v string) string {
		i, ok := index[v]
		if !ok {
			i = len(vars)
			index[v] = i
			vars = append(vars, v)
		}
		return fmt.Sprintf("__tmplvar%d__", i)
	})
	e, err := promParser.ParseExpr(masked)
	if err != nil {
		return "", err
	}
	var sels []*parser.VectorSelector
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		if vs, ok := n.(*parser.VectorSelector); ok {
			sels = append(sels, vs)
		}
		return nil
	})
	// Selectors of unmapped names (a __name__ regex) select what no
	// mapping rule covers: enumerate over the mapped metrics when any.
	var named []*parser.VectorSelector
	for _, s := range sels {
		if s.Name != "" {
			named = append(named, s)
		}
	}
	if len(named) > 0 {
		sels = named
	}
	if len(sels) == 0 {
		return "", fmt.Errorf("no series selector in %s", promql)
	}
	var metricNames []string
	seen := map[string]bool{}
	for _, s := range sels {
		if s.Name != "" && !seen[s.Name] {
			seen[s.Name] = true
			metricNames = append(metricNames, s.Name)
		}
	}
	// Matchers every selector has.
	var common []*labels.Matcher
	for _, m := range sels[0].LabelMatchers {
		if m.Name == labels.MetricName {
			continue
		}
		if m.Name == label && strings.Contains(m.Value, "__tmplvar") {
			continue
		}
		shared := true
		for _, s := range sels[1:] {
			found := false
			for _, o := range s.LabelMatchers {
				found = found || (o.Name == m.Name && o.Type == m.Type && o.Value == m.Value)
			}
			shared = shared && found
		}
		if shared {
			common = append(common, m)
		}
	}
	vs := &parser.VectorSelector{LabelMatchers: common}
	switch len(metricNames) {
	case 0:
		return "", fmt.Errorf("no metric name in %s", promql)
	case 1:
		vs.Name = metricNames[0]
	default:
		sort.Strings(metricNames)
		vs.LabelMatchers = append([]*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, strings.Join(metricNames, "|"))}, common...)
	}
	sel := vs.String()
	// Put the template variables back.
	sel = regexp.MustCompile(`__tmplvar(\d+)__`).ReplaceAllStringFunc(sel, func(m string) string {
		var i int
		fmt.Sscanf(m, "__tmplvar%d__", &i)
		return vars[i]
	})
	return sel, nil
}

// annotations converts Graphite target annotations to PromQL ones;
// Graphite event annotations (by tag) have no PromQL source and stay,
// disabled, on Graphite.
func (c *conv) annotations(d doc) {
	a, ok := d["annotations"].(doc)
	if !ok {
		a = doc{}
		d["annotations"] = a
	}
	list, _ := a["list"].([]any)
	if list == nil {
		list = []any{}
	}
	hasBuiltIn := false
	for _, x := range list {
		an, ok := x.(doc)
		if !ok {
			continue
		}
		if b, _ := toInt(an["builtIn"]); b == 1 {
			hasBuiltIn = true
			if s, ok := an["datasource"].(string); ok {
				an["datasource"] = doc{"type": "grafana", "uid": s}
			}
			continue
		}
		stripNulls(an)
		if !c.isGraphiteDS(an["datasource"]) {
			continue
		}
		name, _ := an["name"].(string)
		target, _ := an["target"].(string)
		tr := TargetReport{RefID: name, Graphite: target}
		if target == "" {
			tags, _ := an["tags"].(string)
			tr.Graphite = "events(" + tags + ")"
			// The Graphite annotation editor's current form: the tags in
			// the target object.
			var tl []any
			for _, t := range strings.Fields(tags) {
				tl = append(tl, t)
			}
			if _, ok := an["tags"]; ok {
				delete(an, "tags")
				an["target"] = doc{"fromAnnotations": true, "tags": tl, "target": ""}
			}
			tr.Status, tr.Reason = graphiteql.Untranslated, "untranslated: Graphite events have no PromQL source (use Grafana annotations or Loki)"
			an["enable"] = false
			an["datasource"] = graphiteRef(an["datasource"])
			c.rep.Annotations = append(c.rep.Annotations, tr)
			continue
		}
		res := graphiteql.TranslateGraph(target, c.opts.Resolver, graphiteql.TranslateOptions{})
		tr.Status, tr.Reason, tr.Notes, tr.PromQL = res.Status, res.Reason, res.Notes, res.PromQL
		if res.Status == graphiteql.Untranslated {
			an["enable"] = false
			an["datasource"] = graphiteRef(an["datasource"])
			an["target"] = doc{"fromAnnotations": true, "target": target, "textEditor": true}
		} else {
			delete(an, "target")
			an["expr"] = regexVars(res.PromQL)
			an["datasource"] = c.promRef
			an["step"] = "60s"
			if res.Legend != nil && res.Legend.Exact {
				an["titleFormat"] = res.Legend.Format
			}
		}
		c.rep.Annotations = append(c.rep.Annotations, tr)
	}
	if !hasBuiltIn {
		list = append([]any{doc{
			"builtIn": 1, "datasource": doc{"type": "grafana", "uid": "-- Grafana --"}, "enable": true,
			"hide": true, "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard",
		}}, list...)
	}
	a["list"] = list
}

// promParser parses produced PromQL with the default function set.
var promParser = parser.NewParser(parser.Options{})
