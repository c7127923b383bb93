package routing

import (
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"strings"
	tmpltext "text/template"

	"github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/template"
	"go.yaml.in/yaml/v3"
)

// checkTemplates parses every inline template of every receiver (Slack
// title and text, email html, webhook and PagerDuty fields...), which
// Alertmanager only does when it first notifies: a typo would otherwise
// pass the check and the reload and fail at 3 a.m. with the alert.
// Parsing needs no data and no named templates ({{ template "x" }} is
// resolved at execution), so it refuses syntax errors only.
func checkTemplates(conf *config.Config) error {
	var errs []error
	for _, rcv := range conf.Receivers {
		v := reflect.Indirect(reflect.ValueOf(rcv))
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Type.Kind() != reflect.Slice || !strings.HasSuffix(f.Name, "Configs") {
				continue
			}
			kind := strings.Split(f.Tag.Get("yaml"), ",")[0]
			for j := range v.Field(i).Len() {
				walkStrings(v.Field(i).Index(j), func(field, s string) {
					if !strings.Contains(s, "{{") {
						return
					}
					if _, err := tmpltext.New(field).Funcs(tmpltext.FuncMap(template.DefaultFuncs)).Parse(s); err != nil {
						errs = append(errs, &templateError{
							where: fmt.Sprintf("receiver %s %s[%d].%s", rcv.Name, kind, j, field),
							text:  s, err: err,
						})
					}
				})
			}
		}
	}
	return errors.Join(errs...)
}

type templateError struct {
	where, text string
	err         error
}

func (e *templateError) Error() string {
	return fmt.Sprintf("%s: template does not parse: %v", e.where, e.err)
}

// walkStrings calls f with the yaml name and value of every plain string
// field under v (secrets are of other types and are left alone).
func walkStrings(v reflect.Value, f func(field, s string)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			walkStrings(v.Elem(), f)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			sf := v.Type().Field(i)
			if !sf.IsExported() {
				continue
			}
			fv := v.Field(i)
			name := strings.Split(sf.Tag.Get("yaml"), ",")[0]
			if fv.Kind() == reflect.String && fv.Type() == reflect.TypeFor[string]() {
				if name != "" && name != "-" {
					f(name, fv.String())
				}
				continue
			}
			walkStrings(fv, f)
		}
	case reflect.Slice:
		for i := range v.Len() {
			walkStrings(v.Index(i), f)
		}
	case reflect.Map:
		if v.Type().Elem().Kind() == reflect.String && v.Type().Elem() == reflect.TypeFor[string]() {
			for _, k := range v.MapKeys() {
				f(fmt.Sprint(k.Interface()), v.MapIndex(k).String())
			}
		}
	}
}

var (
	yamlLineRE = regexp.MustCompile(`^line (\d+): (.*)$`)
	quotedRE   = regexp.MustCompile(`"([^"]+)"`)
)

// locate rewrites an error about an Alertmanager configuration file as
// "file:line: message", as Copenhagen's own config errors are. YAML
// errors carry their line; semantic ones (an undefined receiver, a
// template that does not parse) are found by the value they name.
func locate(file string, err error) error {
	if err == nil {
		return nil
	}
	data, _ := os.ReadFile(file)
	var doc yaml.Node
	_ = yaml.Unmarshal(data, &doc)
	var out []error
	for _, e := range unjoin(err) {
		msg := e.Error()
		if strings.HasPrefix(msg, "yaml: ") {
			msg = strings.TrimPrefix(msg, "yaml: ")
			msg = strings.TrimPrefix(msg, "unmarshal errors:\n")
			for _, l := range strings.Split(msg, "\n") {
				l = strings.TrimSpace(l)
				if m := yamlLineRE.FindStringSubmatch(l); m != nil {
					out = append(out, fmt.Errorf("%s:%s: %s", file, m[1], m[2]))
				} else if l != "" {
					out = append(out, fmt.Errorf("%s: %s", file, l))
				}
			}
			continue
		}
		var te *templateError
		needle := ""
		if errors.As(e, &te) {
			needle = te.text
		} else if m := quotedRE.FindStringSubmatch(msg); m != nil {
			needle = m[1]
		}
		if line := findLine(&doc, needle); line > 0 {
			out = append(out, fmt.Errorf("%s:%d: %w", file, line, e))
		} else {
			out = append(out, fmt.Errorf("%s: %w", file, e))
		}
	}
	return errors.Join(out...)
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// findLine is the line of the first scalar value equal to s (keys are
// skipped: "receiver" names the key, not the value), 0 if none.
func findLine(n *yaml.Node, s string) int {
	if s == "" || n == nil {
		return 0
	}
	switch n.Kind {
	case yaml.ScalarNode:
		if n.Value == s {
			return n.Line
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			if l := findLine(n.Content[i], s); l > 0 {
				return l
			}
		}
	default:
		for _, c := range n.Content {
			if l := findLine(c, s); l > 0 {
				return l
			}
		}
	}
	return 0
}
