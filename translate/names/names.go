// Package names is the single place that decides which Prometheus series a
// StatsD or Graphite name becomes. Ingestion and the expression translator
// ask it the same question, so a dashboard, an alert and the stored data can
// never disagree about a name.
//
// Mapping files use statsd_exporter's format (pkg/mapper, pinned at v0.31.0)
// so that users bring the files they already have; this package adds error
// messages that point at the offending rule and the escaping of unmapped
// names.
package names

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/prometheus/statsd_exporter/pkg/mapper"
	"go.yaml.in/yaml/v3"
)

// MetricType is the kind of sample a name carries, which rules may restrict
// themselves to with match_metric_type.
type MetricType = mapper.MetricType

// The metric types a rule can match on.
const (
	Counter  = mapper.MetricTypeCounter
	Gauge    = mapper.MetricTypeGauge
	Observer = mapper.MetricTypeObserver
)

// Result is what a name becomes.
type Result struct {
	// Name is the Prometheus metric name, already escaped.
	Name string
	// Labels are the labels the rule produced, in no particular order.
	Labels map[string]string
	// Rule is the matching mapping rule, nil when no rule matched. It carries
	// observer type, buckets, quantiles, ttl, scale, help and honor_labels.
	Rule *mapper.MetricMapping
	// Drop is true when the matching rule says action: drop.
	Drop bool
}

// Mapped reports whether a rule matched.
func (r Result) Mapped() bool { return r.Rule != nil }

// Mapper translates names according to one mapping file. It is safe for
// concurrent use; a reload builds a new Mapper rather than mutating one.
type Mapper struct {
	m    *mapper.MetricMapper
	file string

	histDefaults HistogramLayout
	histRules    map[*mapper.HistogramOptions]HistogramLayout
}

// Empty returns a Mapper without rules: every name is escaped, observers
// become summaries, exactly as statsd_exporter without a mapping file.
func Empty() *Mapper {
	m, err := Parse(nil, "")
	if err != nil {
		panic("names: empty mapping rejected: " + err.Error())
	}
	return m
}

// Load reads a mapping file. An empty path gives Empty().
func Load(path string) (*Mapper, error) {
	if path == "" {
		return Empty(), nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mapping file: %w", err)
	}
	return Parse(data, path)
}

// Parse builds a Mapper from the contents of a mapping file; filename is used
// in error messages only.
func Parse(data []byte, filename string) (*Mapper, error) {
	if filename == "" {
		filename = "<mapping>"
	}
	m := &mapper.MetricMapper{}
	if err := m.InitFromYAMLString(string(data)); err != nil {
		return nil, explain(data, filename, err)
	}
	defaults, rules, err := histogramLayouts(data, filename, m)
	if err != nil {
		return nil, err
	}
	return &Mapper{m: m, file: filename, histDefaults: defaults, histRules: rules}, nil
}

// File is the path the rules came from, for messages.
func (m *Mapper) File() string { return m.file }

// Rules returns the number of mapping rules.
func (m *Mapper) Rules() int { return len(m.m.Mappings) }

// Defaults returns the file's defaults section, after statsd_exporter filled
// in its own defaults (buckets, quantiles, match type).
func (m *Mapper) Defaults() mapper.MapperConfigDefaults { return m.m.Defaults }

// Map returns what name becomes when it carries a sample of type t.
// Unmapped names are escaped (see Escape).
func (m *Mapper) Map(name string, t MetricType) Result {
	rule, labels, ok := m.m.GetMapping(name, t)
	if !ok || rule == nil {
		return Result{Name: Escape(name)}
	}
	if rule.Action == mapper.ActionTypeDrop {
		return Result{Rule: rule, Drop: true}
	}
	return Result{Name: Escape(rule.Name), Labels: labels, Rule: rule}
}

// Escape turns a name no rule matched into a valid Prometheus metric name the
// way statsd_exporter does, so series keep their names when users switch:
// every character outside [a-zA-Z0-9_] becomes '_', a leading digit gets a
// '_' prefix.
func Escape(name string) string { return mapper.EscapeMetricName(name) }

// explain turns a mapper error into one that names the file, the line and
// the rule. statsd_exporter reports YAML errors with a line number but rule
// errors ("invalid match: ...") without one, so each rule is checked on its
// own to find which one is wrong.
func explain(data []byte, filename string, err error) error {
	msg := err.Error()
	if strings.HasPrefix(msg, "yaml: ") {
		// "yaml: unmarshal errors:\n  line 3: field foo not found in type ..."
		msg = strings.TrimPrefix(msg, "yaml: ")
		msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
		msg = strings.ReplaceAll(msg, "\n  ", "; ")
		if strings.HasPrefix(msg, "line ") {
			return fmt.Errorf("%s:%s", filename, strings.TrimPrefix(msg, "line "))
		}
		return fmt.Errorf("%s: %s", filename, msg)
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || len(doc.Content) == 0 {
		return fmt.Errorf("%s: %w", filename, err)
	}
	root := doc.Content[0]
	var defaults, mappings *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		switch root.Content[i].Value {
		case "defaults":
			defaults = root.Content[i+1]
		case "mappings":
			mappings = root.Content[i+1]
		}
	}
	if mappings == nil || mappings.Kind != yaml.SequenceNode {
		return fmt.Errorf("%s: %w", filename, err)
	}
	for i, rule := range mappings.Content {
		single := &yaml.Node{Kind: yaml.MappingNode}
		if defaults != nil {
			single.Content = append(single.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "defaults"}, defaults)
		}
		single.Content = append(single.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: "mappings"},
			&yaml.Node{Kind: yaml.SequenceNode, Content: []*yaml.Node{rule}})
		var buf bytes.Buffer
		enc := yaml.NewEncoder(&buf)
		if enc.Encode(single) != nil {
			continue
		}
		var probe mapper.MetricMapper
		if perr := probe.InitFromYAMLString(buf.String()); perr != nil {
			match := ""
			for j := 0; j+1 < len(rule.Content); j += 2 {
				if rule.Content[j].Value == "match" {
					match = rule.Content[j+1].Value
				}
			}
			return fmt.Errorf("%s:%d: mappings[%d] (match %q): %s", filename, rule.Line, i, match, strings.TrimPrefix(perr.Error(), "line 0: "))
		}
	}
	return fmt.Errorf("%s: %w", filename, err)
}
