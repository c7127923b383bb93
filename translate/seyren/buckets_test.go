package seyren

import (
	"strings"
	"testing"
)

func TestBucketNote(t *testing.T) {
	classic := func(string) (TimerHistogram, bool) { return TimerHistogram{Buckets: []float64{0.01, 0.1, 1}}, true }
	native := func(string) (TimerHistogram, bool) { return TimerHistogram{NativeFactor: 1.1}, true }
	none := func(string) (TimerHistogram, bool) { return TimerHistogram{}, false }
	for _, tc := range []struct {
		target     string
		warn, crit float64
		f          TimerHistogramFunc
		want       []string
	}{
		{"stats.timers.api.get.upper_90", 50, 800, classic, []string{"timer api.get p90", "warn 50 ms lies in bucket (10 ms, 100 ms]: off by up to 90 ms", "error 800 ms lies in bucket (100 ms, 1000 ms]: off by up to 900 ms"}},
		{"stats.timers.api.get.upper_99", 500, 2000, classic, []string{"error 2000 ms is beyond the last bucket (1000 ms)"}},
		{"stats.timers.api.get.upper_90", 50, 800, native, []string{"native histogram (bucket factor 1.1)", "within 10.0%"}},
		{"stats.timers.api.get.upper_90", 50, 800, none, nil},
		{"stats.timers.api.get.mean", 50, 800, classic, nil},
		{"sumSeries(stats.timers.api.*.upper_90)", 50, 800, classic, nil},
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
	}
}
