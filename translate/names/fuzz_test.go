package names

import (
	"testing"
)

// FuzzParse: any mapping file is refused with an error or gives a Mapper
// whose histogram layouts keep their bounds (no factor at or below 1, at
// most MaxNativeBuckets), never a panic.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"",
		"defaults:\n  observer_type: histogram\n  histogram_options:\n    native_histogram_bucket_factor: 1.1\n",
		"mappings:\n- match: api.*\n  name: api_latency_seconds\n  observer_type: histogram\n  histogram_options:\n    buckets: [0.01]\n    native_histogram_bucket_factor: 1.2\n    native_histogram_max_buckets: 50\n",
		"mappings:\n- match: a.*\n  name: a\n  histogram_options:\n    native_histogram_bucket_factor: .nan\n",
		"defaults: [1, 2]\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, file string) {
		m, err := Parse([]byte(file), "mapping.yml")
		if err != nil {
			return
		}
		layouts := []HistogramLayout{m.histDefaults}
		for _, l := range m.histRules {
			layouts = append(layouts, l)
		}
		for _, l := range layouts {
			if l.NativeFactor != 0 && !(l.NativeFactor > 1) {
				t.Fatalf("factor %v accepted", l.NativeFactor)
			}
			if l.NativeMaxBuckets > MaxNativeBuckets {
				t.Fatalf("max buckets %d accepted", l.NativeMaxBuckets)
			}
		}
	})
}
