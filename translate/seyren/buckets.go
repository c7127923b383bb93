package seyren

import (
	"fmt"
	"math"
	"regexp"
	"strconv"
)

// TimerHistogram is how a StatsD timer is stored: classic histogram bucket
// bounds in seconds, or a native histogram's bucket factor.
type TimerHistogram struct {
	Buckets []float64
	// NativeFactor > 1: a native histogram (mapping key
	// native_histogram_bucket_factor); each bucket is at most that many
	// times wider than the previous.
	NativeFactor float64
}

// TimerHistogramFunc returns how the timer named (a StatsD name, as the
// application sends it) is stored; ok is false when it is not a histogram
// (a summary, or dropped).
type TimerHistogramFunc func(timer string) (h TimerHistogram, ok bool)

var timerPercentile = regexp.MustCompile(`^stats\.timers\.(.+)\.(upper|mean|sum)_(\d+)$`)

// bucketNote says, for a check on one timer's percentile, how far off
// histogram_quantile can be next to each threshold: Seyren's upper_90 is
// the nearest-rank value of one flush, histogram_quantile interpolates
// linearly inside the bucket holding the quantile, so near a threshold
// the error is bounded by that bucket's width (a p90 of 30 ms in buckets
// 10 ms, 100 ms, 1 s comes out as 91 ms).
func bucketNote(target string, warn, crit float64, f TimerHistogramFunc) string {
	m := timerPercentile.FindStringSubmatch(target)
	if m == nil || f == nil || m[2] != "upper" {
		return ""
	}
	h, ok := f(m[1])
	if !ok {
		return ""
	}
	if h.NativeFactor > 1 {
		return fmt.Sprintf("timer %s is a native histogram (bucket factor %s): histogram_quantile is within %.1f%% of the true p%s at any value",
			m[1], strconv.FormatFloat(h.NativeFactor, 'g', -1, 64), (h.NativeFactor-1)*100, m[3])
	}
	if len(h.Buckets) == 0 {
		return ""
	}
	part := func(name string, thresholdMs float64) string {
		lo, hi := bucketAround(h.Buckets, thresholdMs/1000)
		if math.IsInf(hi, 1) {
			return fmt.Sprintf("%s %s ms is beyond the last bucket (%s ms): histogram_quantile cannot go past %s ms", name, ms(thresholdMs/1000), ms(lo), ms(lo))
		}
		return fmt.Sprintf("%s %s ms lies in bucket (%s ms, %s ms]: off by up to %s ms there", name, ms(thresholdMs/1000), ms(lo), ms(hi), ms(hi-lo))
	}
	return fmt.Sprintf("timer %s p%s from buckets, interpolated: %s; %s (a native histogram, mapping key native_histogram_bucket_factor, bounds the error relatively)",
		m[1], m[3], part("warn", warn), part("error", crit))
}

func bucketAround(bounds []float64, v float64) (lo, hi float64) {
	for _, b := range bounds {
		if v <= b {
			return lo, b
		}
		lo = b
	}
	return lo, math.Inf(1)
}

func ms(seconds float64) string {
	// Rounded to the microsecond: 0.1 - 0.01 is not 0.09 in float64.
	return strconv.FormatFloat(math.Round(seconds*1e6)/1e3, 'f', -1, 64)
}
