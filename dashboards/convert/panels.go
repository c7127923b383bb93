package convert

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
)

// panelKeys are the panel fields of Grafana's current model: everything
// else on a legacy panel is an option of the old plugin, which the upgrade
// either carries over or reports.
var panelKeys = map[string]bool{
	"type": true, "id": true, "pluginVersion": true, "targets": true, "title": true, "description": true,
	"transparent": true, "datasource": true, "gridPos": true, "links": true, "repeat": true,
	"repeatDirection": true, "maxPerRow": true, "maxDataPoints": true, "transformations": true,
	"interval": true, "timeFrom": true, "timeShift": true, "hideTimeOverride": true, "timeCompare": true,
	"libraryPanel": true, "cacheTimeout": true, "queryCachingTTL": true, "options": true, "fieldConfig": true,
}

// legacyIgnored are legacy options with nothing to carry over: Angular
// bookkeeping, or options whose effect Grafana's own upgrade also drops.
var legacyIgnored = map[string]bool{
	"$$hashKey": true, "editable": true, "error": true, "isNew": true, "span": true, "renderer": true,
	"x-axis": true, "y-axis": true, "xaxis": true, "grid": true, "tooltip": true, "timeRegions": true,
	"yaxis": true, "percentage": true, "options": true, "height": true, "minSpan": true, "scopedVars": true,
	"leftYAxisLabel": true, "y_formats": true, "dashLength": true, "spaceLength": true, "dashes": true,
	"hiddenSeries": true, "seriesOverrides": true, "aliasColors": true, "thresholds": true, "legend": true,
	"lines": true, "linewidth": true, "fill": true, "fillGradient": true, "points": true, "pointradius": true,
	"bars": true, "stack": true, "nullPointMode": true, "steppedLine": true, "yaxes": true, "decimals": true,
	"format": true, "valueName": true, "colors": true, "colorBackground": true, "colorValue": true,
	"sparkline": true, "gauge": true, "valueMaps": true, "rangeMaps": true, "mappingType": true,
	"mappingTypes": true, "nullText": true, "tableColumn": true, "postfixFontSize": true,
	"prefixFontSize": true, "valueFontSize": true, "colorPrefix": true, "colorPostfix": true,
	"content": true, "mode": true, "alert": true,
}

// cleanLegacy removes the old plugin's options from a panel upgraded to a
// new type, and lists those that had an effect and are not carried over.
func cleanLegacy(p doc, from, to string) []string {
	var notes []string
	for _, k := range sortedKeys(p) {
		if panelKeys[k] {
			continue
		}
		v := p[k]
		delete(p, k)
		if legacyIgnored[k] || isEmpty(v) {
			continue
		}
		b, _ := json.Marshal(v)
		notes = append(notes, fmt.Sprintf("%s option %s=%s has no equivalent in %s and is dropped", from, k, truncate(string(b), 80), to))
	}
	return notes
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case doc:
		return len(x) == 0
	}
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

func getDoc(p doc, k string) doc {
	if d, ok := p[k].(doc); ok {
		return d
	}
	return doc{}
}

// graphDefaults are the Angular graph panel's defaults, which a saved
// panel may omit: what users saw.
var graphDefaults = map[string]any{
	"lines": true, "linewidth": json.Number("1"), "fill": json.Number("1"), "points": false,
	"pointradius": json.Number("2"), "bars": false, "stack": false, "nullPointMode": "null",
}

// graphToTimeseries is Grafana's flotToGraphOptions (timeseries panel
// migrations) applied to the document.
func graphToTimeseries(p doc) []string {
	var notes []string
	get := func(k string) any {
		if v, ok := p[k]; ok {
			return v
		}
		return graphDefaults[k]
	}
	yaxes, _ := p["yaxes"].([]any)
	var y1, y2 doc
	if len(yaxes) > 0 {
		y1, _ = yaxes[0].(doc)
	}
	if len(yaxes) > 1 {
		y2, _ = yaxes[1].(doc)
	}
	defaults := axisConfig(y1)
	custom := getDoc(defaults, "custom")
	bars, _ := get("bars").(bool)
	lines, _ := get("lines").(bool)
	points, _ := get("points").(bool)
	switch {
	case bars:
		custom["drawStyle"] = "bars"
	case lines:
		custom["drawStyle"] = "line"
	default:
		custom["drawStyle"] = "points"
	}
	if points {
		custom["showPoints"] = "always"
		if r, ok := toFloat(get("pointradius")); ok {
			custom["pointSize"] = 2 + r*2
		}
	} else if custom["drawStyle"] != "points" {
		custom["showPoints"] = "never"
	}
	if lw, ok := toFloat(get("linewidth")); ok {
		custom["lineWidth"] = lw
	}
	if d, _ := p["dashes"].(bool); d {
		dl, sl := 10.0, 10.0
		if v, ok := toFloat(p["dashLength"]); ok {
			dl = v
		}
		if v, ok := toFloat(p["spaceLength"]); ok {
			sl = v
		}
		custom["lineStyle"] = doc{"fill": "dash", "dash": []any{dl, sl}}
	}
	hasFillBelowTo := false
	overrides := []any{}
	if fc, ok := p["fieldConfig"].(doc); ok {
		if o, ok := fc["overrides"].([]any); ok {
			overrides = o
		}
	}
	if ac, ok := p["aliasColors"].(doc); ok {
		for _, alias := range sortedKeys(ac) {
			color, _ := ac[alias].(string)
			if color == "" {
				continue
			}
			overrides = append(overrides, doc{
				"matcher":    doc{"id": "byName", "options": alias},
				"properties": []any{doc{"id": "color", "value": doc{"mode": "fixed", "fixedColor": color}}},
			})
		}
	}
	if sos, ok := p["seriesOverrides"].([]any); ok {
		for _, x := range sos {
			so, _ := x.(doc)
			alias, _ := so["alias"].(string)
			if alias == "" {
				continue
			}
			id := "byName"
			if len(alias) > 1 && strings.HasPrefix(alias, "/") && strings.HasSuffix(alias, "/") {
				id = "byRegexp"
			}
			var props []any
			add := func(pid string, v any) { props = append(props, doc{"id": pid, "value": v}) }
			var dash doc
			for _, k := range sortedKeys(so) {
				v := so[k]
				switch k {
				case "alias", "$$hashKey":
				case "yaxis":
					if n, _ := toInt(v); n == 2 {
						y2c := axisConfig(y2)
						for _, sk := range sortedKeys(y2c) {
							if sk == "custom" {
								c1 := getDoc(defaults, "custom")
								c2 := getDoc(y2c, "custom")
								for _, ck := range sortedKeys(c2) {
									if fmt.Sprint(c2[ck]) != fmt.Sprint(c1[ck]) {
										add("custom."+ck, c2[ck])
									}
								}
								continue
							}
							if fmt.Sprint(y2c[sk]) != fmt.Sprint(defaults[sk]) {
								add(sk, y2c[sk])
							}
						}
						add("custom.axisPlacement", "right")
					}
				case "fill":
					if f, ok := toFloat(v); ok {
						add("custom.fillOpacity", f*10)
					}
				case "fillBelowTo":
					hasFillBelowTo = true
					add("custom.fillBelowTo", v)
				case "fillGradient":
					if f, ok := toFloat(v); ok && f > 0 {
						add("custom.gradientMode", "opacity")
						add("custom.fillOpacity", f*10)
					}
				case "points":
					b, _ := v.(bool)
					add("custom.showPoints", map[bool]string{true: "always", false: "never"}[b])
				case "bars":
					if b, _ := v.(bool); b {
						add("custom.drawStyle", "bars")
						add("custom.fillOpacity", 100)
					} else {
						add("custom.drawStyle", "line")
					}
				case "lines":
					if b, _ := v.(bool); !b {
						add("custom.lineWidth", 0)
					}
				case "linewidth":
					add("custom.lineWidth", v)
				case "pointradius":
					if f, ok := toFloat(v); ok {
						add("custom.pointSize", 2+f*2)
					}
				case "dashes", "dashLength", "spaceLength":
					if dash == nil {
						dash = doc{"fill": "solid", "dash": []any{10.0, 10.0}}
						if d, _ := p["dashes"].(bool); d {
							dash["fill"] = "dash"
						}
					}
					switch k {
					case "dashes":
						if b, _ := v.(bool); b {
							dash["fill"] = "dash"
						} else {
							dash["fill"] = "solid"
						}
					case "dashLength":
						dash["dash"].([]any)[0] = v
					case "spaceLength":
						dash["dash"].([]any)[1] = v
					}
				case "stack":
					add("custom.stacking", doc{"mode": "normal", "group": fmt.Sprint(v)})
				case "color":
					add("color", doc{"mode": "fixed", "fixedColor": v})
				case "legend":
					if b, _ := v.(bool); !b {
						add("custom.hideFrom", doc{"legend": true, "tooltip": false, "viz": false})
					}
				case "hideTooltip":
					if b, _ := v.(bool); b {
						add("custom.hideFrom", doc{"legend": false, "tooltip": true, "viz": false})
					}
				default:
					notes = append(notes, fmt.Sprintf("series override %q: %s is not carried over (Grafana's upgrade ignores it too)", alias, k))
				}
			}
			if dash != nil {
				add("custom.lineStyle", dash)
			}
			if len(props) > 0 {
				overrides = append(overrides, doc{"matcher": doc{"id": id, "options": alias}, "properties": props})
			}
		}
	}
	if hasFillBelowTo {
		custom["fillOpacity"] = 35
	} else if f, ok := toFloat(get("fill")); ok {
		custom["fillOpacity"] = f * 10
	}
	if f, ok := toFloat(p["fillGradient"]); ok && f > 0 {
		custom["gradientMode"] = "opacity"
		custom["fillOpacity"] = f * 10
	}
	custom["spanNulls"] = get("nullPointMode") == "null"
	if s, _ := p["steppedLine"].(bool); s {
		custom["lineInterpolation"] = "stepAfter"
	}
	if custom["drawStyle"] == "bars" {
		custom["fillOpacity"] = 100
	}
	if s, _ := get("stack").(bool); s {
		custom["stacking"] = doc{"mode": "normal", "group": "A"}
		if pc, _ := p["percentage"].(bool); pc {
			custom["stacking"] = doc{"mode": "percent", "group": "A"}
		}
	}
	if _, ok := custom["stacking"]; !ok {
		custom["stacking"] = doc{"mode": "none", "group": "A"}
	}
	defaults["custom"] = custom
	defaults["color"] = doc{"mode": "palette-classic"}

	options := doc{
		"legend":  doc{"displayMode": "list", "placement": "bottom", "showLegend": true, "calcs": []any{}},
		"tooltip": doc{"mode": "single", "sort": "none"},
	}
	if tt, ok := p["tooltip"].(doc); ok {
		if sh, _ := tt["shared"].(bool); sh {
			options["tooltip"] = doc{"mode": "multi", "sort": "none"}
			if s, _ := toInt(tt["sort"]); s == 1 {
				options["tooltip"].(doc)["sort"] = "asc"
			} else if s == 2 {
				options["tooltip"].(doc)["sort"] = "desc"
			}
		}
	}
	legend := options["legend"].(doc)
	if lc, ok := p["legend"].(doc); ok {
		if show, ok := lc["show"].(bool); ok && !show {
			legend["showLegend"] = false
		} else if t, _ := lc["alignAsTable"].(bool); t {
			legend["displayMode"] = "table"
		}
		if r, _ := lc["rightSide"].(bool); r {
			legend["placement"] = "right"
		}
		if v, _ := lc["values"].(bool); v {
			var calcs []any
			for _, k := range []string{"min", "max", "avg", "current", "total"} {
				if on, _ := lc[k].(bool); on {
					calcs = append(calcs, map[string]string{"min": "min", "max": "max", "avg": "mean", "current": "lastNotNull", "total": "sum"}[k])
				}
			}
			if calcs != nil {
				legend["calcs"] = calcs
			}
		}
	}
	if ts, ok := p["thresholds"].([]any); ok && len(ts) > 0 {
		steps, mode := graphThresholds(ts)
		custom["thresholdsStyle"] = doc{"mode": mode}
		defaults["thresholds"] = doc{"mode": "absolute", "steps": steps}
	} else {
		defaults["thresholds"] = doc{"mode": "absolute", "steps": []any{doc{"color": "green", "value": nil}, doc{"color": "red", "value": 80}}}
		custom["thresholdsStyle"] = doc{"mode": "off"}
	}
	if _, ok := p["alert"]; ok {
		notes = append(notes, "the legacy panel alert is not carried over: alert rules come from `copenhagen import seyren` or Grafana alerting")
	}
	notes = append(notes, cleanLegacy(p, "graph", "timeseries")...)
	p["type"] = "timeseries"
	p["fieldConfig"] = doc{"defaults": defaults, "overrides": overrides}
	p["options"] = options
	return notes
}

// axisConfig is getFieldConfigFromOldAxis: unit, decimals, min, max and
// the axis' custom options.
func axisConfig(ax doc) doc {
	out := doc{}
	custom := doc{}
	if ax == nil {
		out["custom"] = custom
		return out
	}
	show := true
	if s, ok := ax["show"].(bool); ok {
		show = s
	}
	if show {
		custom["axisPlacement"] = "auto"
	} else {
		custom["axisPlacement"] = "hidden"
	}
	if l, _ := ax["label"].(string); l != "" {
		custom["axisLabel"] = l
	}
	if lb, ok := toInt(ax["logBase"]); ok && (lb == 2 || lb == 10) {
		custom["scaleDistribution"] = doc{"type": "log", "log": lb}
	}
	if f, _ := ax["format"].(string); f != "" {
		out["unit"] = f
	}
	for _, k := range []string{"decimals", "min", "max"} {
		if v, ok := toFloat(ax[k]); ok && ax[k] != nil {
			out[k] = v
		}
	}
	out["custom"] = custom
	return out
}

type angularThreshold struct {
	op, colorMode, fillColor, lineColor string
	value                               float64
	fill, line                          bool
}

func graphThresholds(ts []any) ([]any, string) {
	var list []angularThreshold
	for _, x := range ts {
		t, _ := x.(doc)
		v, ok := toFloat(t["value"])
		if !ok {
			continue
		}
		a := angularThreshold{value: v}
		a.op, _ = t["op"].(string)
		a.colorMode, _ = t["colorMode"].(string)
		a.fillColor, _ = t["fillColor"].(string)
		a.lineColor, _ = t["lineColor"].(string)
		a.fill, _ = t["fill"].(bool)
		a.line, _ = t["line"].(bool)
		list = append(list, a)
	}
	sort.SliceStable(list, func(i, j int) bool { return list[i].value < list[j].value })
	color := func(a angularThreshold) string {
		switch a.colorMode {
		case "critical":
			return "red"
		case "warning":
			return "orange"
		case "custom":
			if a.fillColor != "" {
				return a.fillColor
			}
			return a.lineColor
		}
		return "red"
	}
	var steps []any
	area, line := false, false
	base := false
	for i, a := range list {
		area = area || a.fill
		line = line || a.line
		var next *angularThreshold
		if i+1 < len(list) {
			next = &list[i+1]
		}
		switch a.op {
		case "gt":
			steps = append(steps, doc{"value": a.value, "color": color(a)})
		case "lt":
			if len(steps) == 0 {
				steps = append(steps, doc{"value": nil, "color": color(a)})
				base = true
			}
			switch {
			case next != nil && next.op == "gt" && next.value > a.value:
				steps = append(steps, doc{"value": a.value, "color": "transparent"})
			case next != nil && next.op == "lt":
				steps = append(steps, doc{"value": a.value, "color": color(*next)})
			default:
				steps = append(steps, doc{"value": a.value, "color": "transparent"})
			}
		}
	}
	if len(steps) > 0 && !base {
		steps = append([]any{doc{"value": nil, "color": "transparent"}}, steps...)
	}
	mode := "line"
	if area {
		mode = "area"
	}
	if area && line {
		mode = "line+area"
	}
	if len(steps) == 0 {
		steps = []any{doc{"value": nil, "color": "transparent"}}
	}
	return steps, mode
}

// singlestatColors are the Angular singlestat panel's default colours,
// used when a panel sets thresholds but no colours (Grafana's own upgrade
// then drops the thresholds and the tile loses its colour).
var singlestatColors = []any{"#299c46", "rgba(237, 129, 40, 0.89)", "#d44a3a"}

var reducers = map[string]string{
	"min": "min", "max": "max", "avg": "mean", "mean": "mean", "median": "median", "sum": "sum",
	"count": "count", "first": "firstNotNull", "last": "lastNotNull", "name": "lastNotNull",
	"current": "lastNotNull", "total": "sum", "diff": "diff", "range": "range", "last_time": "lastNotNull",
	"delta": "delta",
}

// singlestatToStat is Grafana's schema version 28 migration.
func singlestatToStat(p doc) []string {
	var notes []string
	defaults := doc{}
	valueName, _ := p["valueName"].(string)
	if valueName == "" {
		valueName = "avg" // the singlestat default
	}
	reducer, ok := reducers[valueName]
	if !ok {
		reducer = "mean"
		notes = append(notes, fmt.Sprintf("singlestat value %q has no reducer: mean", valueName))
	}
	options := doc{
		"reduceOptions":          doc{"calcs": []any{reducer}, "fields": "", "values": false},
		"orientation":            "horizontal",
		"graphMode":              "none",
		"colorMode":              "none",
		"justifyMode":            "auto",
		"textMode":               "auto",
		"wideLayout":             true,
		"showPercentChange":      false,
		"percentChangeColorMode": "standard",
	}
	if valueName == "name" {
		options["textMode"] = "name"
	}
	if tc, _ := p["tableColumn"].(string); tc != "" {
		options["reduceOptions"].(doc)["fields"] = "/^" + tc + "$/"
	}
	if f, _ := p["format"].(string); f != "" {
		defaults["unit"] = f
	}
	if d, ok := toFloat(p["decimals"]); ok && p["decimals"] != nil {
		defaults["decimals"] = d
	}
	if nt, _ := p["nullText"].(string); nt != "" {
		defaults["noValue"] = nt
	}
	if ts, _ := p["thresholds"].(string); strings.TrimSpace(ts) != "" {
		colors, _ := p["colors"].([]any)
		if len(colors) == 0 {
			colors = singlestatColors
			notes = append(notes, "thresholds without colours: the singlestat default colours (green, orange, red) are used, as the old panel drew them")
		}
		vals := strings.Split(ts, ",")
		steps := []any{}
		prev := 0.0
		for i, c := range colors {
			if i == 0 {
				steps = append(steps, doc{"color": c, "value": nil})
				continue
			}
			if i-1 >= len(vals) {
				break
			}
			v, ok := toFloat(vals[i-1])
			if !ok {
				notes = append(notes, fmt.Sprintf("threshold %q is not a number and is dropped", vals[i-1]))
				continue
			}
			if i > 1 && v < prev {
				notes = append(notes, fmt.Sprintf("thresholds %q are not ascending: the old panel compared them from the last one", ts))
			}
			prev = v
			steps = append(steps, doc{"color": c, "value": v})
		}
		defaults["thresholds"] = doc{"mode": "absolute", "steps": steps}
	} else {
		defaults["thresholds"] = doc{"mode": "absolute", "steps": []any{doc{"color": "green", "value": nil}, doc{"color": "red", "value": 80}}}
	}
	if m := valueMappings(p); len(m) > 0 {
		defaults["mappings"] = m
	} else {
		defaults["mappings"] = []any{}
	}
	sparkline := getDoc(p, "sparkline")
	if show, _ := sparkline["show"].(bool); show {
		options["graphMode"] = "area"
	}
	bg, _ := p["colorBackground"].(bool)
	cv, _ := p["colorValue"].(bool)
	switch {
	case bg:
		options["colorMode"] = "background"
	case cv:
		options["colorMode"] = "value"
	}
	if bg || cv {
		defaults["color"] = doc{"mode": "thresholds"}
	} else if lc, _ := sparkline["lineColor"].(string); lc != "" && options["graphMode"] == "area" {
		defaults["color"] = doc{"mode": "fixed", "fixedColor": lc}
	} else {
		defaults["color"] = doc{"mode": "thresholds"}
	}
	if g := getDoc(p, "gauge"); g["show"] == true {
		notes = append(notes, "singlestat gauge mode becomes a stat panel, as Grafana's own upgrade does")
	}
	switch u, _ := defaults["unit"].(string); u {
	case "percent":
		setDefault(defaults, "min", 0)
		setDefault(defaults, "max", 100)
	case "percentunit":
		setDefault(defaults, "min", 0)
		setDefault(defaults, "max", 1)
	}
	for _, k := range []string{"prefix", "postfix"} {
		if s, _ := p[k].(string); s != "" {
			notes = append(notes, fmt.Sprintf("singlestat %s %q is dropped: stat panels have none (put it in the title or a custom unit)", k, s))
			delete(p, k)
		}
	}
	notes = append(notes, cleanLegacy(p, "singlestat", "stat")...)
	p["type"] = "stat"
	p["options"] = options
	p["fieldConfig"] = doc{"defaults": defaults, "overrides": []any{}}
	return notes
}

func setDefault(d doc, k string, v any) {
	if _, ok := d[k]; !ok {
		d[k] = v
	}
}

// valueMappings converts singlestat valueMaps/rangeMaps (the list its
// mappingType selects) to value, special and range mappings.
func valueMappings(p doc) []any {
	mt, ok := toInt(p["mappingType"])
	if !ok {
		mt = 1
	}
	var out []any
	idx := 0
	if mt == 1 {
		vm, _ := p["valueMaps"].([]any)
		values := doc{}
		for _, x := range vm {
			m, _ := x.(doc)
			text, _ := m["text"].(string)
			val := fmt.Sprint(m["value"])
			if val == "null" {
				out = append(out, doc{"type": "special", "options": doc{"match": "null", "result": doc{"text": text, "index": idx}}})
				idx++
				continue
			}
			values[val] = doc{"text": text, "index": idx}
			idx++
		}
		if len(values) > 0 {
			out = append([]any{doc{"type": "value", "options": values}}, out...)
		}
	}
	if mt == 2 {
		rm, _ := p["rangeMaps"].([]any)
		for _, x := range rm {
			m, _ := x.(doc)
			text, _ := m["text"].(string)
			var from, to any
			if f, ok := toFloat(m["from"]); ok {
				from = f
			}
			if t, ok := toFloat(m["to"]); ok {
				to = t
			}
			if from == nil && to == nil && fmt.Sprint(m["from"]) == "null" {
				out = append(out, doc{"type": "special", "options": doc{"match": "null", "result": doc{"text": text, "index": idx}}})
				idx++
				continue
			}
			out = append(out, doc{"type": "range", "options": doc{"from": from, "to": to, "result": doc{"text": text, "index": idx}}})
			idx++
		}
	}
	return out
}

// textOptions moves the options of the Angular-era text panel (mode and
// content on the panel) into options, as Grafana's text panel migration
// does.
func textOptions(p doc) []string {
	content, hasContent := p["content"]
	mode, hasMode := p["mode"]
	if !hasContent && !hasMode {
		return nil
	}
	opts := getDoc(p, "options")
	if hasContent {
		opts["content"] = content
		delete(p, "content")
	}
	if m, _ := mode.(string); m != "" {
		if m == "text" {
			m = "markdown"
		}
		opts["mode"] = m
	} else if _, ok := opts["mode"]; !ok {
		opts["mode"] = "markdown"
	}
	delete(p, "mode")
	p["options"] = opts
	return []string{"text panel options moved into options"}
}

// statDefaults are the stat panel options Grafana fills in when a panel
// saved by an older version lacks them.
var statDefaults = map[string]any{
	"graphMode": "area", "colorMode": "value", "justifyMode": "auto", "textMode": "auto", "wideLayout": true,
	"showPercentChange": false, "percentChangeColorMode": "standard", "orientation": "auto",
}

// currentOptions brings the options of timeseries and stat panels saved
// by Grafana 7 and 8 to the current model, as Grafana's own migrations do
// on load: hideFrom.graph becomes viz, legends say showLegend, tooltips
// have a sort, stat options their defaults, and value mappings the
// schema 30 form.
func currentOptions(p doc) []string {
	typ, _ := p["type"].(string)
	var notes []string
	fc, _ := p["fieldConfig"].(doc)
	if fc != nil {
		stripNulls(fc)
		if _, ok := fc["overrides"]; !ok {
			fc["overrides"] = []any{}
		}
		if _, ok := fc["defaults"]; !ok {
			fc["defaults"] = doc{}
		}
		d, _ := fc["defaults"].(doc)
		if m, ok := d["mappings"].([]any); ok {
			d["mappings"] = upgradeMappings(m)
		}
		if c, ok := d["custom"].(doc); ok {
			migrateHideFrom(c)
		}
		ovs, _ := fc["overrides"].([]any)
		for _, x := range ovs {
			o, _ := x.(doc)
			props, _ := o["properties"].([]any)
			for _, y := range props {
				pr, _ := y.(doc)
				if pr["id"] == "custom.hideFrom" {
					if v, ok := pr["value"].(doc); ok {
						migrateHideFrom(doc{"hideFrom": v})
					}
				}
			}
		}
	}
	opts, _ := p["options"].(doc)
	switch typ {
	case "timeseries":
		if opts == nil {
			opts = doc{}
			p["options"] = opts
		}
		lg, ok := opts["legend"].(doc)
		if !ok {
			lg = doc{"displayMode": "list", "placement": "bottom", "calcs": []any{}}
			opts["legend"] = lg
		}
		if _, ok := lg["showLegend"]; !ok {
			lg["showLegend"] = lg["displayMode"] != "hidden"
			if lg["displayMode"] == "hidden" {
				lg["displayMode"] = "list"
			}
		}
		setDefault(lg, "displayMode", "list")
		setDefault(lg, "placement", "bottom")
		setDefault(lg, "calcs", []any{})
		tt, ok := opts["tooltip"].(doc)
		if !ok {
			tt = doc{"mode": "single"}
			opts["tooltip"] = tt
		}
		setDefault(tt, "mode", "single")
		setDefault(tt, "sort", "none")
	case "stat":
		if opts == nil {
			opts = doc{}
			p["options"] = opts
		}
		for k, v := range statDefaults {
			setDefault(opts, k, v)
		}
		if _, ok := opts["reduceOptions"]; !ok {
			opts["reduceOptions"] = doc{"calcs": []any{"lastNotNull"}, "fields": "", "values": false}
		}
	}
	return notes
}

func migrateHideFrom(custom doc) {
	hf, ok := custom["hideFrom"].(doc)
	if !ok {
		return
	}
	if g, ok := hf["graph"]; ok {
		hf["viz"] = g
		delete(hf, "graph")
	}
	setDefault(hf, "viz", false)
	setDefault(hf, "legend", false)
	setDefault(hf, "tooltip", false)
}

// upgradeMappings converts Grafana 7 value mappings ({type: 1, value,
// text} and {type: 2, from, to, text}) to the current form (schema 30).
func upgradeMappings(ms []any) []any {
	var out []any
	values := doc{}
	var valuesAt = -1
	for i, x := range ms {
		m, ok := x.(doc)
		if !ok {
			continue
		}
		t, isNum := toInt(m["type"])
		if _, isStr := m["type"].(string); isStr || !isNum {
			out = append(out, m)
			continue
		}
		text, _ := m["text"].(string)
		result := doc{"text": text, "index": i}
		switch t {
		case 1:
			val := fmt.Sprint(m["value"])
			if val == "null" {
				out = append(out, doc{"type": "special", "options": doc{"match": "null", "result": result}})
				continue
			}
			if valuesAt < 0 {
				valuesAt = len(out)
				out = append(out, nil)
			}
			values[val] = result
		case 2:
			var from, to any
			if f, ok := toFloat(m["from"]); ok {
				from = f
			}
			if f, ok := toFloat(m["to"]); ok {
				to = f
			}
			out = append(out, doc{"type": "range", "options": doc{"from": from, "to": to, "result": result}})
		}
	}
	if valuesAt >= 0 {
		out[valuesAt] = doc{"type": "value", "options": values}
	}
	if out == nil {
		out = []any{}
	}
	return out
}
