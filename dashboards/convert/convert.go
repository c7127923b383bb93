package convert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteql"
)

// Options are what a conversion depends on besides the dashboard.
type Options struct {
	// Resolver maps Graphite paths to the series Copenhagen writes (the
	// StatsD and carbon mapping rules in use).
	Resolver *graphiteql.Resolver
	// DatasourceUID is the uid of the Prometheus data source the converted
	// dashboard uses where the original named its Graphite data source.
	// Dashboards exported for sharing (${DS_...} inputs) keep an input
	// instead. Default "copenhagen", the uid of the data source that
	// deploy/grafana provisions (Copenhagen or VictoriaMetrics).
	DatasourceUID string
	// MaxBytes bounds the input document. Default 16 MiB.
	MaxBytes int
}

// Status of a target's translation, as graphiteql gives it.
type Status = graphiteql.Status

// Report is what happened to one dashboard.
type Report struct {
	UID           string          `json:"uid"`
	Title         string          `json:"title"`
	SchemaVersion int             `json:"schemaVersion"`
	Panels        []PanelReport   `json:"panels"`
	Variables     []VarReport     `json:"variables,omitempty"`
	Annotations   []TargetReport  `json:"annotations,omitempty"`
	Notes         []string        `json:"notes,omitempty"`
	Counts        map[Status]int  `json:"counts"`
	Overrides     []OverrideCheck `json:"overrides,omitempty"`
}

// PanelReport is one panel: its targets, and its upgrade when legacy.
type PanelReport struct {
	ID      any            `json:"id"`
	Title   string         `json:"title"`
	Type    string         `json:"type"`
	NewType string         `json:"newType,omitempty"`
	Row     string         `json:"row,omitempty"`
	Targets []TargetReport `json:"targets"`
	Notes   []string       `json:"notes,omitempty"`
}

// TargetReport is one Graphite target and its PromQL.
type TargetReport struct {
	RefID       string   `json:"refId"`
	Graphite    string   `json:"graphite"`
	PromQL      string   `json:"promql,omitempty"`
	Legend      string   `json:"legendFormat,omitempty"`
	LegendExact bool     `json:"legendExact"`
	Hidden      bool     `json:"hidden,omitempty"`
	Status      Status   `json:"status"`
	Reason      string   `json:"reason,omitempty"`
	Notes       []string `json:"notes,omitempty"`
}

// VarReport is one template variable.
type VarReport struct {
	Name   string `json:"name"`
	From   string `json:"graphite"`
	To     string `json:"prometheus,omitempty"`
	Status Status `json:"status"`
	Reason string `json:"reason,omitempty"`
}

// OverrideCheck says whether a series override (seriesOverrides,
// aliasColors) still matches a series name of the converted panel.
type OverrideCheck struct {
	PanelID any    `json:"panelId"`
	Name    string `json:"name"`
	Matches bool   `json:"matches"`
}

type doc = map[string]any

// mixedDS is Grafana's "-- Mixed --" data source, for panels whose
// untranslated targets stay on Graphite.
var mixedDS = doc{"type": "datasource", "uid": "-- Mixed --"}

type conv struct {
	opts     Options
	rep      *Report
	promRef  doc               // the Prometheus data source reference
	inputs   map[string]string // ${DS_GRAPHITE} -> ${DS_PROMETHEUS}
	graphite map[string]bool   // data source names known to be Graphite
}

// Convert converts one dashboard document (the dashboard JSON, or the
// {"dashboard": ..., "meta": ...} object of Grafana's API). The output is
// indented JSON with sorted keys, deterministic for the same input.
func Convert(data []byte, opts Options) ([]byte, *Report, error) {
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = 16 << 20
	}
	if opts.DatasourceUID == "" {
		opts.DatasourceUID = "copenhagen"
	}
	if opts.Resolver == nil {
		opts.Resolver = graphiteql.NewResolver(nil, nil, graphiteql.DefaultOptions())
	}
	if len(data) > opts.MaxBytes {
		return nil, nil, fmt.Errorf("dashboard is %d bytes, more than the limit of %d", len(data), opts.MaxBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var d doc
	if err := dec.Decode(&d); err != nil {
		return nil, nil, fmt.Errorf("dashboard JSON: %w", err)
	}
	if inner, ok := d["dashboard"].(doc); ok {
		d = inner
	}
	if d == nil {
		return nil, nil, fmt.Errorf("dashboard JSON: not an object")
	}
	c := &conv{opts: opts, rep: &Report{Counts: map[Status]int{}}, inputs: map[string]string{}, graphite: map[string]bool{}}
	c.rep.UID, _ = d["uid"].(string)
	c.rep.Title, _ = d["title"].(string)
	sv, _ := toInt(d["schemaVersion"])
	c.rep.SchemaVersion = sv
	if _, hasRows := d["rows"]; hasRows || (sv > 0 && sv < 16) {
		return nil, c.rep, fmt.Errorf("dashboard %q: schemaVersion %d with rows[] (Grafana < 5): open and save it in Grafana 5 or later first, which moves rows into panels", c.rep.UID, sv)
	}
	if err := c.dashboard(d); err != nil {
		return nil, c.rep, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(d); err != nil {
		return nil, c.rep, err
	}
	return buf.Bytes(), c.rep, nil
}

func (c *conv) note(format string, args ...any) {
	c.rep.Notes = append(c.rep.Notes, fmt.Sprintf(format, args...))
}

func (c *conv) dashboard(d doc) error {
	c.rewriteInputs(d)
	if uid, ok := c.inputs["${DS_GRAPHITE}"]; ok {
		c.promRef = doc{"type": "prometheus", "uid": uid}
	} else if len(c.inputs) > 0 {
		keys := sortedKeys(c.inputs)
		c.promRef = doc{"type": "prometheus", "uid": c.inputs[keys[0]]}
	} else {
		c.promRef = doc{"type": "prometheus", "uid": c.opts.DatasourceUID}
	}
	// Options Grafana itself removed from the model (sharedCrosshair became
	// graphTooltip in schema 14; hideControls and style went with the
	// Angular UI; iteration was the repeat bookkeeping of Grafana 6 and 7).
	if v, ok := d["sharedCrosshair"]; ok {
		if b, _ := v.(bool); b {
			if _, has := d["graphTooltip"]; !has {
				d["graphTooltip"] = 1
			}
		}
		delete(d, "sharedCrosshair")
		c.note("sharedCrosshair became graphTooltip, as Grafana migrates it")
	}
	for _, k := range []string{"hideControls", "style", "iteration"} {
		if _, ok := d[k]; ok {
			delete(d, k)
			c.note("%s removed: Grafana no longer has it", k)
		}
	}
	c.model(d)
	c.templating(d)
	c.annotations(d)
	if ps, ok := d["panels"].([]any); ok {
		c.panels(ps, "")
	} else {
		d["panels"] = []any{}
	}
	if _, ok := d["templating"]; !ok {
		d["templating"] = doc{"list": []any{}}
	}
	for _, pr := range c.rep.Panels {
		for _, t := range pr.Targets {
			c.rep.Counts[t.Status]++
		}
	}
	return nil
}

// rewriteInputs turns the Graphite inputs of a dashboard exported for
// sharing into Prometheus ones, so Grafana's import dialog still asks for
// the data source, and updates __requires.
func (c *conv) rewriteInputs(d doc) {
	if ins, ok := d["__inputs"].([]any); ok {
		for _, x := range ins {
			in, ok := x.(doc)
			if !ok || in["type"] != "datasource" || in["pluginId"] != "graphite" {
				continue
			}
			name, _ := in["name"].(string)
			newName := strings.Replace(name, "GRAPHITE", "PROMETHEUS", 1)
			if newName == name {
				newName = name + "_PROMETHEUS"
			}
			in["name"] = newName
			in["pluginId"] = "prometheus"
			in["pluginName"] = "Prometheus"
			if l, _ := in["label"].(string); l == "" || strings.Contains(strings.ToLower(l), "graphite") {
				in["label"] = "Prometheus"
			}
			if desc, ok := in["description"].(string); ok && desc != "" {
				in["description"] = strings.ReplaceAll(desc, "Graphite", "Prometheus")
			}
			c.inputs["${"+name+"}"] = "${" + newName + "}"
			c.graphite["${"+name+"}"] = true
		}
	}
	if reqs, ok := d["__requires"].([]any); ok {
		seen := map[string]bool{}
		var out []any
		for _, x := range reqs {
			r, ok := x.(doc)
			if !ok {
				out = append(out, x)
				continue
			}
			id, _ := r["id"].(string)
			switch {
			case r["type"] == "datasource" && id == "graphite":
				r = doc{"type": "datasource", "id": "prometheus", "name": "Prometheus", "version": "1.0.0"}
			case r["type"] == "panel" && id == "graph":
				r = doc{"type": "panel", "id": "timeseries", "name": "Time series", "version": ""}
			case r["type"] == "panel" && id == "singlestat":
				r = doc{"type": "panel", "id": "stat", "name": "Stat", "version": ""}
			}
			key, _ := r["type"].(string)
			id, _ = r["id"].(string)
			if seen[key+"/"+id] {
				continue
			}
			seen[key+"/"+id] = true
			out = append(out, r)
		}
		d["__requires"] = out
	}
}

// isGraphiteDS tells whether a data source reference is Graphite's. A
// name is taken for Graphite when the targets it serves are Graphite
// targets (checked by the caller); nil is the default data source.
func (c *conv) isGraphiteDS(ds any) bool {
	switch v := ds.(type) {
	case string:
		if c.graphite[v] {
			return true
		}
		if strings.HasPrefix(v, "${") {
			return false
		}
		return strings.Contains(strings.ToLower(v), "graphite")
	case doc:
		if v["type"] == "graphite" {
			return true
		}
		uid, _ := v["uid"].(string)
		return c.graphite[uid]
	}
	return false
}

// graphiteRef is the reference an untranslated target keeps to its
// Graphite data source.
func graphiteRef(ds any) any {
	switch v := ds.(type) {
	case string:
		return doc{"type": "graphite", "uid": v}
	case doc:
		return v
	}
	return doc{"type": "graphite"}
}

func isGraphiteTarget(t doc) bool {
	_, hasTarget := t["target"]
	_, hasExpr := t["expr"]
	return hasTarget && !hasExpr
}

var refRE = regexp.MustCompile(`#([A-Z]{1,3})\b`)

// expand replaces the #A references of a target with the targets they
// name, recursively, as Grafana's targetFull does. Each reference is
// expanded once; cycles and expansions longer than maxTarget are errors.
func expand(target string, byRef map[string]string, depth int) (string, error) {
	e := &expander{byRef: byRef, done: map[string]string{}, busy: map[string]bool{}}
	return e.expand(target, depth)
}

type expander struct {
	byRef map[string]string
	done  map[string]string
	busy  map[string]bool
}

func (x *expander) expand(target string, depth int) (string, error) {
	if depth > 10 {
		return "", fmt.Errorf("the #references nest more than 10 deep")
	}
	var err error
	out := refRE.ReplaceAllStringFunc(target, func(m string) string {
		if err != nil {
			return m
		}
		ref := m[1:]
		if e, ok := x.done[ref]; ok {
			return e
		}
		t, ok := x.byRef[ref]
		if !ok {
			err = fmt.Errorf("#%s refers to no target", ref)
			return m
		}
		if x.busy[ref] {
			err = fmt.Errorf("#%s refers to itself through other targets", ref)
			return m
		}
		x.busy[ref] = true
		e, xerr := x.expand(t, depth+1)
		x.busy[ref] = false
		if xerr != nil {
			err = xerr
			return m
		}
		x.done[ref] = e
		return e
	})
	if err == nil && len(out) > maxTarget {
		err = fmt.Errorf("the target with its #references expanded is longer than %d bytes", maxTarget)
	}
	return out, err
}

// maxTarget bounds a target with its #references expanded.
const maxTarget = 64 << 10

func (c *conv) panels(ps []any, row string) {
	for _, x := range ps {
		p, ok := x.(doc)
		if !ok {
			continue
		}
		if p["type"] == "row" {
			stripNulls(p)
			title, _ := p["title"].(string)
			if c.isGraphiteDS(p["datasource"]) {
				p["datasource"] = c.promRef
			}
			if _, ok := p["collapsed"]; !ok {
				p["collapsed"] = false
			}
			if _, ok := p["panels"]; !ok {
				p["panels"] = []any{}
			}
			if nested, ok := p["panels"].([]any); ok {
				c.panels(nested, title)
			}
			continue
		}
		c.panel(p, row)
	}
}

func (c *conv) panel(p doc, row string) {
	stripNulls(p)
	fixLinks(p["links"])
	typ, _ := p["type"].(string)
	title, _ := p["title"].(string)
	pr := PanelReport{ID: p["id"], Title: title, Type: typ, Row: row, Targets: []TargetReport{}}
	targets, _ := p["targets"].([]any)
	panelDS := p["datasource"]
	graphitePanel := c.isGraphiteDS(panelDS)
	byRef := map[string]string{}
	for _, x := range targets {
		if t, ok := x.(doc); ok && isGraphiteTarget(t) {
			ref, _ := t["refId"].(string)
			s, _ := t["target"].(string)
			byRef[ref] = s
			if t["datasource"] == nil && panelDS == nil {
				graphitePanel = true
			}
			if s, ok := panelDS.(string); ok && !strings.HasPrefix(s, "${") && s != "-- Mixed --" {
				graphitePanel = true
			}
		}
	}
	var legends []string
	anyGraphite, anyKept := false, false
	for _, x := range targets {
		t, ok := x.(doc)
		if !ok || !isGraphiteTarget(t) {
			continue
		}
		tds := t["datasource"]
		if tds == nil && !graphitePanel {
			continue
		}
		if tds != nil && !c.isGraphiteDS(tds) {
			// A string name on a Graphite-shaped target is Graphite.
			if _, isStr := tds.(string); !isStr {
				continue
			}
		}
		anyGraphite = true
		ref, _ := t["refId"].(string)
		src, _ := t["targetFull"].(string)
		var xerr error
		if src == "" {
			src, _ = t["target"].(string)
			src, xerr = expand(src, byRef, 0)
		}
		hidden, _ := t["hide"].(bool)
		tr := TargetReport{RefID: ref, Graphite: src, Hidden: hidden}
		var res graphiteql.Result
		if xerr != nil {
			res = graphiteql.Result{Status: graphiteql.Untranslated, Reason: "untranslated: " + xerr.Error()}
		} else if strings.TrimSpace(src) == "" {
			res = graphiteql.Result{Status: graphiteql.Untranslated, Reason: "untranslated: empty target"}
		} else {
			res = graphiteql.TranslateGraph(src, c.opts.Resolver, graphiteql.TranslateOptions{})
		}
		tr.Status, tr.Reason, tr.Notes = res.Status, res.Reason, res.Notes
		if res.Status == graphiteql.Untranslated {
			// Kept on Graphite, hidden: the panel still says what it drew.
			t["hide"] = true
			t["datasource"] = graphiteRef(firstNonNil(tds, panelDS))
			anyKept = true
			pr.Targets = append(pr.Targets, tr)
			continue
		}
		tr.PromQL = regexVars(res.PromQL)
		nt := doc{
			"refId":      ref,
			"expr":       tr.PromQL,
			"datasource": c.promRef,
			"editorMode": "code",
			"range":      true,
			"instant":    false,
		}
		if res.Legend != nil {
			tr.Legend, tr.LegendExact = res.Legend.Format, res.Legend.Exact
			if res.Legend.Exact {
				nt["legendFormat"] = res.Legend.Format
				if res.Legend.Shared {
					tr.Notes = append(tr.Notes, fmt.Sprintf("legend: every series of this target is named %q, as in Graphite: they cannot be told apart", res.Legend.Format))
				}
			} else {
				nt["legendFormat"] = "__auto"
				tr.Notes = append(tr.Notes, "legend: "+res.Legend.Reason+"; the series keep Prometheus's names")
			}
		}
		if hidden {
			nt["hide"] = true
		} else if res.Legend != nil && res.Legend.Exact {
			legends = append(legends, res.Legend.Format)
		}
		for k, v := range t {
			// Query options that mean the same on both data sources.
			switch k {
			case "interval", "maxDataPoints":
				nt[k] = v
			}
		}
		for k := range t {
			delete(t, k)
		}
		for k, v := range nt {
			t[k] = v
		}
		pr.Targets = append(pr.Targets, tr)
	}
	if anyGraphite || graphitePanel {
		if anyKept {
			p["datasource"] = mixedDS
		} else {
			p["datasource"] = c.promRef
		}
	}
	switch typ {
	case "graph":
		pr.NewType = "timeseries"
		pr.Notes = append(pr.Notes, graphToTimeseries(p)...)
	case "singlestat", "grafana-singlestat-panel":
		pr.NewType = "stat"
		pr.Notes = append(pr.Notes, singlestatToStat(p)...)
	case "text":
		pr.Notes = append(pr.Notes, textOptions(p)...)
	}
	pr.Notes = append(pr.Notes, currentOptions(p)...)
	c.checkOverrides(p, pr.ID, legends)
	if anyKept {
		var lines []string
		for _, t := range pr.Targets {
			if t.Status == graphiteql.Untranslated {
				lines = append(lines, fmt.Sprintf("target %s (%s) is not translated and stays hidden on Graphite: %s", t.RefID, t.Graphite, strings.TrimPrefix(t.Reason, "untranslated: ")))
			}
		}
		desc, _ := p["description"].(string)
		if desc != "" {
			desc += "\n\n"
		}
		p["description"] = desc + "Copenhagen: " + strings.Join(lines, "; ")
	}
	c.rep.Panels = append(c.rep.Panels, pr)
}

func firstNonNil(xs ...any) any {
	for _, x := range xs {
		if x != nil {
			return x
		}
	}
	return nil
}

// checkOverrides records, for each field override matching by name,
// whether a legend of the panel still gives that name.
func (c *conv) checkOverrides(p doc, id any, legends []string) {
	fc, _ := p["fieldConfig"].(doc)
	ovs, _ := fc["overrides"].([]any)
	for _, x := range ovs {
		o, _ := x.(doc)
		m, _ := o["matcher"].(doc)
		name, _ := m["options"].(string)
		var matches bool
		switch m["id"] {
		case "byName":
			for _, l := range legends {
				matches = matches || legendMatches(l, name)
			}
		case "byRegexp":
			re, err := regexp.Compile(strings.TrimSuffix(strings.TrimPrefix(name, "/"), "/"))
			if err != nil {
				break
			}
			for _, l := range legends {
				matches = matches || re.MatchString(legendSample(l))
			}
		default:
			continue
		}
		c.rep.Overrides = append(c.rep.Overrides, OverrideCheck{PanelID: id, Name: name, Matches: matches})
	}
}

var labelRefRE = regexp.MustCompile(`\{\{\s*[A-Za-z_][A-Za-z0-9_]*\s*\}\}|\$\{[^}]*\}`)

// legendMatches tells whether a legendFormat can produce the name.
func legendMatches(legend, name string) bool {
	pieces := labelRefRE.Split(legend, -1)
	var b strings.Builder
	b.WriteString("^")
	for i, s := range pieces {
		if i > 0 {
			b.WriteString(".+")
		}
		b.WriteString(regexp.QuoteMeta(s))
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String()).MatchString(name)
}

// legendSample is a name the legend gives, label values standing as "x".
func legendSample(legend string) string {
	return labelRefRE.ReplaceAllString(legend, "x")
}

func toInt(x any) (int, bool) {
	switch v := x.(type) {
	case json.Number:
		i, err := v.Int64()
		if err != nil {
			f, ferr := v.Float64()
			return int(f), ferr == nil
		}
		return int(i), true
	case float64:
		return int(v), true
	case int:
		return v, true
	}
	return 0, false
}

func toFloat(x any) (float64, bool) {
	switch v := x.(type) {
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	case float64:
		return v, true
	case int:
		return float64(v), true
	case string:
		var f float64
		if _, err := fmt.Sscanf(strings.TrimSpace(v), "%g", &f); err == nil {
			return f, true
		}
	}
	return 0, false
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
