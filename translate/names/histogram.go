package names

import (
	"fmt"

	"github.com/prometheus/statsd_exporter/pkg/mapper"
	"go.yaml.in/yaml/v3"
)

// HistogramLayout is how an observer (a StatsD timer, histogram or
// distribution) mapped to observer_type: histogram is stored. Ingestion
// (translate/series), the expression translator (translate/graphiteql) and
// `import seyren` all ask Mapper.Histogram, so the stored series and the
// PromQL written against them cannot disagree.
//
// A native (exponential) histogram is used when the mapping file sets
// native_histogram_bucket_factor, on the rule's histogram_options or in
// defaults.histogram_options. statsd_exporter fills in a factor of 1.1 when
// the file has none, and exposes native buckets beside the classic ones on
// protobuf scrapes; Copenhagen stores only what the file asks for, because
// a native histogram changes the series (name instead of name_bucket,
// name_count, name_sum) and so every query on it. With a factor set, the
// classic buckets are kept as well only when the same place (the rule, or
// the defaults for a rule without histogram_options) lists buckets
// explicitly, as client_golang keeps both when both are configured.
type HistogramLayout struct {
	// Classic are the classic bucket upper bounds (without +Inf); nil
	// when only the native histogram is stored.
	Classic []float64
	// NativeFactor > 1 stores a native histogram whose buckets are each
	// at most that many times wider than the previous one (the schema
	// is the coarsest whose growth factor does not exceed it).
	NativeFactor float64
	// NativeMaxBuckets bounds the populated native buckets; beyond it the
	// resolution is halved (client_golang's NativeHistogramMaxBucketNumber).
	NativeMaxBuckets uint32
}

// Native reports whether a native histogram is stored.
func (l HistogramLayout) Native() bool { return l.NativeFactor > 1 }

// DefaultNativeMaxBuckets is statsd_exporter's default for
// native_histogram_max_buckets.
const DefaultNativeMaxBuckets = 256

// MaxNativeBuckets bounds native_histogram_max_buckets: each populated
// bucket of each series costs memory whatever the traffic, so a typo (or
// 4294967295) must not let hostile observations hold tens of thousands
// of buckets per series. 4096 buckets at the finest schema span a factor
// of 2^16 in value; Prometheus's own scrape default is 160.
const MaxNativeBuckets = 4096

// rawHistogramOptions is histogram_options as written in the file, so that
// keys left out can be told from statsd_exporter's filled-in defaults.
type rawHistogramOptions struct {
	Buckets    []float64 `yaml:"buckets"`
	Factor     *float64  `yaml:"native_histogram_bucket_factor"`
	MaxBuckets *uint32   `yaml:"native_histogram_max_buckets"`
}

type rawMappingFile struct {
	Defaults struct {
		HistogramOptions *rawHistogramOptions `yaml:"histogram_options"`
	} `yaml:"defaults"`
	Mappings []struct {
		Match            string               `yaml:"match"`
		HistogramOptions *rawHistogramOptions `yaml:"histogram_options"`
	} `yaml:"mappings"`
}

// histogramLayouts computes the layout of the defaults and of every rule
// with histogram options, keyed by the rule's *HistogramOptions (shared by
// the copies statsd_exporter's mapper returns). It refuses a factor that
// would not give a native histogram.
func histogramLayouts(data []byte, filename string, m *mapper.MetricMapper) (HistogramLayout, map[*mapper.HistogramOptions]HistogramLayout, error) {
	var raw rawMappingFile
	var doc yaml.Node
	// The mapper parsed the file strictly already; a failure here cannot
	// happen for a file it accepted, except for an empty one.
	if len(data) > 0 {
		if err := yaml.Unmarshal(data, &doc); err != nil {
			return HistogramLayout{}, nil, fmt.Errorf("%s: %w", filename, err)
		}
		if err := doc.Decode(&raw); err != nil {
			return HistogramLayout{}, nil, fmt.Errorf("%s: %w", filename, err)
		}
	}
	def := m.Defaults.HistogramOptions
	defaults := HistogramLayout{Classic: def.Buckets, NativeMaxBuckets: def.NativeHistogramMaxBuckets}
	if defaults.NativeMaxBuckets == 0 {
		defaults.NativeMaxBuckets = DefaultNativeMaxBuckets
	}
	if defaults.NativeMaxBuckets > MaxNativeBuckets {
		return HistogramLayout{}, nil, fmt.Errorf("%s:%d: defaults.histogram_options.native_histogram_max_buckets: must be at most %d, got %d",
			filename, keyLine(&doc, -1), MaxNativeBuckets, defaults.NativeMaxBuckets)
	}
	defaultsExplicitBuckets := false
	if r := raw.Defaults.HistogramOptions; r != nil {
		defaultsExplicitBuckets = len(r.Buckets) > 0
		if r.Factor != nil {
			if err := checkFactor(*r.Factor); err != nil {
				return HistogramLayout{}, nil, fmt.Errorf("%s:%d: defaults.histogram_options.native_histogram_bucket_factor: %w",
					filename, keyLine(&doc, -1), err)
			}
			defaults.NativeFactor = *r.Factor
			if !defaultsExplicitBuckets {
				defaults.Classic = nil
			}
		}
	}
	rules := map[*mapper.HistogramOptions]HistogramLayout{}
	for i := range m.Mappings {
		opts := m.Mappings[i].HistogramOptions
		if opts == nil {
			continue
		}
		l := HistogramLayout{Classic: opts.Buckets, NativeFactor: defaults.NativeFactor, NativeMaxBuckets: defaults.NativeMaxBuckets}
		var r *rawHistogramOptions
		if i < len(raw.Mappings) {
			r = raw.Mappings[i].HistogramOptions
		}
		explicitBuckets := r != nil && len(r.Buckets) > 0
		if r != nil && r.Factor != nil {
			if err := checkFactor(*r.Factor); err != nil {
				return HistogramLayout{}, nil, fmt.Errorf("%s:%d: mappings[%d] (match %q): histogram_options.native_histogram_bucket_factor: %w",
					filename, keyLine(&doc, i), i, raw.Mappings[i].Match, err)
			}
			l.NativeFactor = *r.Factor
		}
		if r != nil && r.MaxBuckets != nil && *r.MaxBuckets > 0 {
			if *r.MaxBuckets > MaxNativeBuckets {
				return HistogramLayout{}, nil, fmt.Errorf("%s:%d: mappings[%d] (match %q): histogram_options.native_histogram_max_buckets: must be at most %d, got %d",
					filename, keyLine(&doc, i), i, raw.Mappings[i].Match, MaxNativeBuckets, *r.MaxBuckets)
			}
			l.NativeMaxBuckets = *r.MaxBuckets
		}
		if l.Native() && !explicitBuckets && r != nil && r.Factor != nil {
			// The rule asked for native: classic only if it lists buckets.
			l.Classic = nil
		} else if l.Native() && !explicitBuckets && !defaultsExplicitBuckets {
			// Native from the defaults, and nobody listed buckets.
			l.Classic = nil
		}
		rules[opts] = l
	}
	return defaults, rules, nil
}

// checkFactor refuses factors that cannot give a native histogram:
// client_golang silently stores no native buckets for a factor <= 1.
func checkFactor(f float64) error {
	if !(f > 1) {
		return fmt.Errorf("must be greater than 1 (each bucket at most that many times wider than the previous, e.g. 1.1), got %v", f)
	}
	if f > 65536 {
		return fmt.Errorf("must be at most 65536 (schema -4), got %v", f)
	}
	return nil
}

// keyLine is the line of defaults (i < 0) or of mappings[i] in the file,
// for messages; 0 when unknown.
func keyLine(doc *yaml.Node, i int) int {
	if len(doc.Content) == 0 {
		return 0
	}
	root := doc.Content[0]
	for j := 0; j+1 < len(root.Content); j += 2 {
		switch {
		case i < 0 && root.Content[j].Value == "defaults":
			return root.Content[j].Line
		case i >= 0 && root.Content[j].Value == "mappings":
			seq := root.Content[j+1]
			if i < len(seq.Content) {
				return seq.Content[i].Line
			}
		}
	}
	return 0
}

// Histogram returns how an observer matched by rule (nil when no rule
// matched) is stored; ok is false when it is a summary.
func (m *Mapper) Histogram(rule *mapper.MetricMapping) (l HistogramLayout, ok bool) {
	ot := mapper.ObserverTypeDefault
	if rule != nil {
		ot = rule.ObserverType
	}
	if ot == mapper.ObserverTypeDefault {
		ot = m.m.Defaults.ObserverType
	}
	if ot != mapper.ObserverTypeHistogram {
		return HistogramLayout{}, false
	}
	if rule != nil && rule.HistogramOptions != nil {
		if l, ok := m.histRules[rule.HistogramOptions]; ok {
			return l, true
		}
	}
	return m.histDefaults, true
}
