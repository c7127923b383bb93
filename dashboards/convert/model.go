package convert

import (
	"regexp"
	"strings"
)

// stripNulls removes the null fields of one object (not recursively):
// Grafana reads a null field as an absent one, and its schema types them
// without null. Values inside options and field config are left alone
// (a threshold's null value means minus infinity there).
func stripNulls(d doc) {
	for k, v := range d {
		if v == nil {
			delete(d, k)
		}
	}
}

// linkDefaults are the values Grafana's dashboard link editor writes.
var linkDefaults = map[string]any{
	"icon": "external link", "tooltip": "", "asDropdown": false, "targetBlank": false,
	"includeVars": false, "keepTime": false,
}

// fixLink completes a dashboard or panel link with Grafana's defaults and
// turns the link types of Grafana 5 panels into the current "link" (as
// schema 19 does: absolute keeps its url, dashboard links point at the
// dashboard's old URL, which Grafana still redirects).
func fixLink(l doc) {
	stripNulls(l)
	switch l["type"] {
	case "absolute":
		l["type"] = "link"
	case "dashboard":
		l["type"] = "link"
		if u, _ := l["dashUri"].(string); u != "" && l["url"] == nil {
			l["url"] = "dashboard/" + strings.TrimPrefix(u, "/")
		}
	case nil:
		l["type"] = "link"
	}
	delete(l, "dashUri")
	delete(l, "dashboard")
	if _, ok := l["tags"]; !ok {
		l["tags"] = []any{}
	}
	for k, v := range linkDefaults {
		if _, ok := l[k]; !ok {
			l[k] = v
		}
	}
	if _, ok := l["title"]; !ok {
		l["title"] = ""
	}
}

func fixLinks(x any) {
	ls, _ := x.([]any)
	for _, y := range ls {
		if l, ok := y.(doc); ok {
			fixLink(l)
		}
	}
}

// timepickerKeys are those of Grafana's current time picker.
var timepickerKeys = map[string]bool{"hidden": true, "refresh_intervals": true, "quick_ranges": true, "nowDelay": true}

// model brings the dashboard-level fields to Grafana's current model.
func (c *conv) model(d doc) {
	stripNulls(d)
	fixLinks(d["links"])
	if tp, ok := d["timepicker"].(doc); ok {
		stripNulls(tp)
		for _, k := range sortedKeys(tp) {
			if !timepickerKeys[k] {
				delete(tp, k)
				c.note("timepicker.%s removed: Grafana no longer has it", k)
			}
		}
	}
	if t, ok := d["templating"].(doc); ok {
		list, _ := t["list"].([]any)
		for _, x := range list {
			if v, ok := x.(doc); ok {
				stripNulls(v)
				if b, ok := v["refresh"].(bool); ok {
					v["refresh"] = map[bool]int{true: 1, false: 0}[b]
				}
				if cur, ok := v["current"].(doc); ok {
					stripNulls(cur)
					if len(cur) == 0 {
						delete(v, "current")
					}
				}
			}
		}
	}
}

var (
	matcherRE = regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)(=~|!~|!=|=)"((?:[^"\\]|\\.)*)"`)
	dashVarRE = regexp.MustCompile(`\$\{([A-Za-z0-9_]+)(?::[^}]*)?\}|\[\[([A-Za-z0-9_]+)(?::[^\]]*)?\]\]|\$([A-Za-z0-9_]+)`)
)

// regexVars makes the label matchers holding dashboard variables regex
// matchers on ${var:regex}: Grafana then writes a single value escaped and
// several values (multi-value, All) as (a|b), so every selection keeps
// matching what the Graphite glob matched. Grafana's own variables
// ($__interval ...) are left alone.
func regexVars(expr string) string {
	return matcherRE.ReplaceAllStringFunc(expr, func(m string) string {
		sm := matcherRE.FindStringSubmatch(m)
		name, op, val := sm[1], sm[2], sm[3]
		changed := false
		val = dashVarRE.ReplaceAllStringFunc(val, func(v string) string {
			vm := dashVarRE.FindStringSubmatch(v)
			vn := vm[1] + vm[2] + vm[3]
			if strings.HasPrefix(vn, "__") {
				return v
			}
			changed = true
			return "${" + vn + ":regex}"
		})
		if !changed {
			return m
		}
		switch op {
		case "=":
			op = "=~"
		case "!=":
			op = "!~"
		}
		return name + op + `"` + val + `"`
	})
}
