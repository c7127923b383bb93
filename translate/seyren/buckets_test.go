package seyren

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/copenhagen-obs/copenhagen/translate/names"
)

func timerLayouts(t *testing.T, file string) TimerHistogramFunc {
	t.Helper()
	m, err := names.Load(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return TimerHistograms(m)
}

// The note comes from the layout ingestion stores (names.Mapper.Histogram):
// per threshold, how far the configured buckets can put
// histogram_quantile, or a native histogram's relative bound.
func TestBucketNote(t *testing.T) {
	classic := timerLayouts(t, "timers-classic.yml")
	native := timerLayouts(t, "timers-native.yml")
	for _, tc := range []struct {
		target     string
		warn, crit float64
		f          TimerHistogramFunc
		want       []string
		not        []string
	}{
		{"stats.timers.api.get.upper_90", 50, 800, classic,
			[]string{"timer api.get p90", "warn 50 ms lies in bucket (10 ms, 100 ms]: off by up to 90 ms", "error 800 ms lies in bucket (100 ms, 1000 ms]: off by up to 900 ms"},
			[]string{"native histogram (bucket"}},
		// Unmatched name: the defaults' buckets; statsd_exporter's
		// filled-in factor of 1.1 is not a native histogram.
		{"stats.timers.other.upper_90", 35, 100, classic, []string{"warn 35 ms lies in bucket (10 ms, 100 ms]"}, []string{"native histogram (bucket"}},
		{"stats.timers.api.get.upper_99", 500, 2000, classic, []string{"error 2000 ms is beyond the last bucket (1000 ms)"}, nil},
		{"stats.timers.api.get.upper_90", 50, 800, native,
			[]string{"timer api.get p90 from a native histogram (bucket factor 1.1, schema 3)", "within 9.1% of the true value", "warn 50 ms off by up to 4.525 ms", "error 800 ms off by up to 72.406 ms", "at most 256 buckets"},
			[]string{"classic"}},
		{"stats.timers.db.list.upper_90", 50, 800, native,
			[]string{"bucket factor 1.02, schema 6, queried instead of its classic buckets", "within 1.1%", "at most 160 buckets"}, nil},
		{"stats.timers.jobs.run.upper_90", 50, 800, classic, nil, nil}, // summary
		{"stats.timers.debug.x.upper_90", 50, 800, classic, nil, nil},  // dropped
		{"stats.timers.api.get.mean", 50, 800, classic, nil, nil},      // not a percentile
		{"sumSeries(stats.timers.api.*.upper_90)", 50, 800, classic, nil, nil},
		{"stats.timers.api.get.upper_90", 50, 800, nil, nil, nil},
	} {
		got := bucketNote(tc.target, tc.warn, tc.crit, tc.f)
		if len(tc.want) == 0 && got != "" {
			t.Errorf("%s: unexpected note %q", tc.target, got)
		}
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: note %q lacks %q", tc.target, got, w)
			}
		}
		for _, w := range tc.not {
			if strings.Contains(got, w) {
				t.Errorf("%s: note %q says %q", tc.target, got, w)
			}
		}
	}
}
