package schema

import (
	"bytes"
	"embed"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

//go:embed schemas/*.jsonschema.json
var files embed.FS

// panelSchemas are the panel types whose options and custom field config
// have a schema: the file and whether it defines a FieldConfig.
var panelSchemas = map[string]bool{
	"stat": false, "gauge": false, "text": false, "timeseries": true, "table": true,
}

type compiled struct {
	dashboard  *jsonschema.Schema
	options    map[string]*jsonschema.Schema
	custom     map[string]*jsonschema.Schema
	prometheus *jsonschema.Schema
}

var (
	once    sync.Once
	schemas compiled
	loadErr error
)

func load() (compiled, error) {
	once.Do(func() {
		c := jsonschema.NewCompiler()
		entries, err := files.ReadDir("schemas")
		if err != nil {
			loadErr = err
			return
		}
		for _, e := range entries {
			data, err := files.ReadFile("schemas/" + e.Name())
			if err != nil {
				loadErr = err
				return
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
			if err != nil {
				loadErr = fmt.Errorf("schema %s: %w", e.Name(), err)
				return
			}
			if err := c.AddResource(e.Name(), doc); err != nil {
				loadErr = fmt.Errorf("schema %s: %w", e.Name(), err)
				return
			}
		}
		compile := func(loc string) *jsonschema.Schema {
			if loadErr != nil {
				return nil
			}
			s, err := c.Compile(loc)
			if err != nil {
				loadErr = fmt.Errorf("schema %s: %w", loc, err)
			}
			return s
		}
		schemas.dashboard = compile("dashboard.jsonschema.json")
		schemas.prometheus = compile("prometheus.jsonschema.json")
		schemas.options = map[string]*jsonschema.Schema{}
		schemas.custom = map[string]*jsonschema.Schema{}
		for typ, hasCustom := range panelSchemas {
			schemas.options[typ] = compile(typ + ".jsonschema.json#/definitions/Options")
			if hasCustom {
				schemas.custom[typ] = compile(typ + ".jsonschema.json#/definitions/FieldConfig")
			}
		}
	})
	return schemas, loadErr
}

// Errors lists every schema violation of a dashboard.
type Errors []string

func (e Errors) Error() string {
	return fmt.Sprintf("%d schema violation(s):\n  %s", len(e), strings.Join(e, "\n  "))
}

// Validate checks a dashboard document. The export envelope Grafana's
// import dialog reads (__inputs, __requires, __elements) is not part of
// the dashboard model and is skipped. It returns Errors (every violation,
// each with the JSON pointer of the value) or a parse error.
func Validate(doc []byte) error {
	s, err := load()
	if err != nil {
		return err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return fmt.Errorf("dashboard JSON: %w", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return fmt.Errorf("dashboard JSON: not an object")
	}
	model := map[string]any{}
	for k, x := range m {
		if k != "__inputs" && k != "__requires" && k != "__elements" {
			model[k] = x
		}
	}
	var errs Errors
	check := func(sch *jsonschema.Schema, where string, x any) {
		if err := sch.Validate(x); err != nil {
			errs = append(errs, describe(where, err)...)
		}
	}
	check(s.dashboard, "", model)
	panels, _ := model["panels"].([]any)
	var walk func(prefix string, ps []any)
	walk = func(prefix string, ps []any) {
		for i, p := range ps {
			pm, ok := p.(map[string]any)
			if !ok {
				continue
			}
			where := fmt.Sprintf("%s/panels/%d", prefix, i)
			typ, _ := pm["type"].(string)
			if typ == "row" {
				if nested, ok := pm["panels"].([]any); ok {
					walk(where, nested)
				}
				continue
			}
			if sch := s.options[typ]; sch != nil {
				check(sch, where+"/options", orEmpty(pm["options"]))
			}
			if sch := s.custom[typ]; sch != nil {
				if fc, ok := pm["fieldConfig"].(map[string]any); ok {
					if d, ok := fc["defaults"].(map[string]any); ok {
						check(sch, where+"/fieldConfig/defaults/custom", orEmpty(d["custom"]))
					}
				}
			}
			targets, _ := pm["targets"].([]any)
			for j, t := range targets {
				if isPrometheus(t, pm["datasource"]) {
					check(s.prometheus, fmt.Sprintf("%s/targets/%d", where, j), t)
				}
			}
		}
	}
	walk("", panels)
	if len(errs) > 0 {
		sort.Strings(errs)
		return errs
	}
	return nil
}

func orEmpty(x any) any {
	if x == nil {
		return map[string]any{}
	}
	return x
}

// isPrometheus tells whether a target is a Prometheus query: its own data
// source, or the panel's when it has none, is of type prometheus.
func isPrometheus(t, panelDS any) bool {
	tm, ok := t.(map[string]any)
	if !ok {
		return false
	}
	ds := tm["datasource"]
	if ds == nil {
		ds = panelDS
	}
	dm, ok := ds.(map[string]any)
	return ok && dm["type"] == "prometheus"
}

// describe flattens a validation error into one line per failing value.
func describe(where string, err error) []string {
	ve, ok := err.(*jsonschema.ValidationError)
	if !ok {
		return []string{where + ": " + err.Error()}
	}
	var out []string
	var leaves func(e *jsonschema.ValidationError)
	leaves = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			loc := where + "/" + strings.Join(e.InstanceLocation, "/")
			msg := e.Error()
			if i := strings.LastIndex(msg, ": "); i >= 0 && strings.Contains(msg, "jsonschema validation failed") {
				msg = msg[i+2:]
			}
			out = append(out, strings.TrimRight(loc, "/")+": "+firstLine(msg))
			return
		}
		for _, c := range e.Causes {
			leaves(c)
		}
	}
	leaves(ve)
	return out
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndex(s, "\n"); i >= 0 {
		s = strings.TrimSpace(s[i+1:])
	}
	s = strings.TrimPrefix(s, "- at ")
	return s
}
