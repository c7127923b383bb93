package names

import (
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestHistogramLayout(t *testing.T) {
	for _, tc := range []struct {
		name, file, metric string
		want               HistogramLayout
		summary            bool
	}{
		{
			name:    "no file: summary",
			file:    "",
			metric:  "api.latency",
			summary: true,
		},
		{
			name:   "histogram defaults, no factor: classic DefBuckets, no native",
			file:   "defaults:\n  observer_type: histogram\n",
			metric: "api.latency",
			want:   HistogramLayout{Classic: prometheus.DefBuckets, NativeMaxBuckets: 256},
		},
		{
			name: "factor in defaults, no buckets anywhere: native only",
			file: "defaults:\n  observer_type: histogram\n  histogram_options:\n    native_histogram_bucket_factor: 1.1\n" +
				"mappings:\n- match: api.*\n  name: api_latency_seconds\n",
			metric: "api.latency",
			want:   HistogramLayout{NativeFactor: 1.1, NativeMaxBuckets: 256},
		},
		{
			name:   "factor and buckets in defaults: both",
			file:   "defaults:\n  observer_type: histogram\n  histogram_options:\n    buckets: [0.01, 0.1]\n    native_histogram_bucket_factor: 1.05\n    native_histogram_max_buckets: 100\n",
			metric: "api.latency",
			want:   HistogramLayout{Classic: []float64{0.01, 0.1}, NativeFactor: 1.05, NativeMaxBuckets: 100},
		},
		{
			name: "factor on the rule only: native only, that rule only",
			file: "defaults:\n  observer_type: histogram\n  histogram_options:\n    buckets: [0.01, 0.1, 1]\n" +
				"mappings:\n- match: api.*\n  name: api_latency_seconds\n  histogram_options:\n    native_histogram_bucket_factor: 1.1\n",
			metric: "api.latency",
			want:   HistogramLayout{NativeFactor: 1.1, NativeMaxBuckets: 256},
		},
		{
			name: "unmatched name keeps the defaults' classic buckets",
			file: "defaults:\n  observer_type: histogram\n  histogram_options:\n    buckets: [0.01, 0.1, 1]\n" +
				"mappings:\n- match: api.*\n  name: api_latency_seconds\n  histogram_options:\n    native_histogram_bucket_factor: 1.1\n",
			metric: "db.latency",
			want:   HistogramLayout{Classic: []float64{0.01, 0.1, 1}, NativeMaxBuckets: 256},
		},
		{
			name:   "factor and buckets on the rule: both",
			file:   "mappings:\n- match: api.*\n  name: api_latency_seconds\n  observer_type: histogram\n  histogram_options:\n    buckets: [0.005, 0.05]\n    native_histogram_bucket_factor: 1.2\n    native_histogram_max_buckets: 50\n",
			metric: "api.latency",
			want:   HistogramLayout{Classic: []float64{0.005, 0.05}, NativeFactor: 1.2, NativeMaxBuckets: 50},
		},
		{
			name: "factor from defaults, buckets on the rule: both",
			file: "defaults:\n  histogram_options:\n    native_histogram_bucket_factor: 1.1\n" +
				"mappings:\n- match: api.*\n  name: api_latency_seconds\n  observer_type: histogram\n  histogram_options:\n    buckets: [0.5]\n",
			metric: "api.latency",
			want:   HistogramLayout{Classic: []float64{0.5}, NativeFactor: 1.1, NativeMaxBuckets: 256},
		},
		{
			name: "rule observer_type summary wins over histogram defaults",
			file: "defaults:\n  observer_type: histogram\n  histogram_options:\n    native_histogram_bucket_factor: 1.1\n" +
				"mappings:\n- match: api.*\n  name: api_latency_seconds\n  observer_type: summary\n",
			metric:  "api.latency",
			summary: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := Parse([]byte(tc.file), "mapping.yml")
			if err != nil {
				t.Fatal(err)
			}
			r := m.Map(tc.metric, Observer)
			got, ok := m.Histogram(r.Rule)
			if ok == tc.summary {
				t.Fatalf("histogram: ok=%v, want %v", ok, !tc.summary)
			}
			if tc.summary {
				return
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("layout = %+v, want %+v", got, tc.want)
			}
			if got.Native() != (tc.want.NativeFactor > 1) {
				t.Errorf("Native() = %v", got.Native())
			}
		})
	}
}

func TestHistogramLayoutBadFactor(t *testing.T) {
	for _, tc := range []struct{ file, want string }{
		{
			file: "defaults:\n  observer_type: histogram\n  histogram_options:\n    native_histogram_bucket_factor: 1\n",
			want: "mapping.yml:1: defaults.histogram_options.native_histogram_bucket_factor: must be greater than 1",
		},
		{
			file: "mappings:\n- match: a.*\n  name: a\n- match: api.*\n  name: api_latency_seconds\n  observer_type: histogram\n  histogram_options:\n    native_histogram_bucket_factor: 0.5\n",
			want: `mapping.yml:4: mappings[1] (match "api.*"): histogram_options.native_histogram_bucket_factor: must be greater than 1`,
		},
		{
			file: "defaults:\n  observer_type: histogram\n  histogram_options:\n    native_histogram_bucket_factor: 1.1\n    native_histogram_max_buckets: 100000\n",
			want: "mapping.yml:1: defaults.histogram_options.native_histogram_max_buckets: must be at most 4096, got 100000",
		},
		{
			file: "mappings:\n- match: api.*\n  name: api_latency_seconds\n  observer_type: histogram\n  histogram_options:\n    native_histogram_bucket_factor: 1.1\n    native_histogram_max_buckets: 5000\n",
			want: `mapping.yml:2: mappings[0] (match "api.*"): histogram_options.native_histogram_max_buckets: must be at most 4096, got 5000`,
		},
	} {
		_, err := Parse([]byte(tc.file), "mapping.yml")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("error = %v, want it to contain %q", err, tc.want)
		}
	}
}

// The schema must be the one client_golang picks for the factor (its
// pickSchema), so the bound the translator and the import quote is the
// bucket width ingestion really stores.
func TestNativeSchema(t *testing.T) {
	for _, tc := range []struct {
		factor  float64
		schema  int32
		relErr  float64
		epsilon float64
	}{
		{1.1, 3, 0.0905, 0.0001},                // 2^(1/8)
		{1.0905077326652577, 3, 0.0905, 0.0001}, // exactly schema 3's growth
		{1.2, 2, 0.1892, 0.0001},                // 2^(1/4)
		{2, 0, 1, 0},
		{4, -1, 3, 0},
		{1.001, 8, 0.0027, 0.0001}, // finest schema
		{50000, -3, 255, 0},
		{65536, -4, 65535, 0}, // coarsest
	} {
		l := HistogramLayout{NativeFactor: tc.factor}
		if got := l.NativeSchema(); got != tc.schema {
			t.Errorf("factor %v: schema %d, want %d", tc.factor, got, tc.schema)
		}
		if got := l.NativeRelativeError(); math.Abs(got-tc.relErr) > tc.epsilon {
			t.Errorf("factor %v: relative error %v, want %v", tc.factor, got, tc.relErr)
		}
		// Schema 8 is the finest there is: a smaller factor gets its growth.
		if g := l.NativeGrowth(); g > tc.factor*(1+1e-12) && tc.schema != 8 {
			t.Errorf("factor %v: growth %v exceeds the factor", tc.factor, g)
		}
	}
}
