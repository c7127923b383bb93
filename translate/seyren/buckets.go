package seyren

import (
	"fmt"
	"math"
	"regexp"
	"strconv"

	"github.com/copenhagen-obs/copenhagen/translate/names"
)

// TimerHistogramFunc returns how the timer named (a StatsD name, as the
// application sends it) is stored, as names.Mapper.Histogram says for the
// rule the name maps by (the layout ingestion stores); ok is false when it
// is not a histogram (a summary, or dropped).
type TimerHistogramFunc func(timer string) (l names.HistogramLayout, ok bool)

// TimerHistograms is the TimerHistogramFunc of a StatsD mapping.
func TimerHistograms(m *names.Mapper) TimerHistogramFunc {
	return func(timer string) (names.HistogramLayout, bool) {
		r := m.Map(timer, names.Observer)
		if r.Drop {
			return names.HistogramLayout{}, false
		}
		return m.Histogram(r.Rule)
	}
}

var timerPercentile = regexp.MustCompile(`^stats\.timers\.(.+)\.(upper|mean|sum)_(\d+)$`)

// bucketNote says, for a check on one timer's percentile, how far off
// histogram_quantile can be next to each threshold. Seyren's upper_90 is
// the nearest-rank value of one flush. From classic buckets,
// histogram_quantile interpolates linearly inside the bucket holding the
// quantile, so near a threshold the error is bounded by that bucket's
// width (a p90 of 30 ms in buckets 10 ms, 100 ms, 1 s comes out as 91 ms).
// From a native histogram (preferred when both are kept, as the
// translation does) the estimate and the true value share an exponential
// bucket: the error is at most the bucket growth minus one, relative.
func bucketNote(target string, warn, crit float64, f TimerHistogramFunc) string {
	m := timerPercentile.FindStringSubmatch(target)
	if m == nil || f == nil || m[2] != "upper" {
		return ""
	}
	l, ok := f(m[1])
	if !ok {
		return ""
	}
	if l.Native() {
		rel := l.NativeRelativeError()
		part := func(name string, thresholdMs float64) string {
			return fmt.Sprintf("%s %s ms off by up to %s ms", name, ms(thresholdMs/1000), ms(math.Abs(thresholdMs)*rel/1000))
		}
		both := ""
		if len(l.Classic) > 0 {
			both = ", queried instead of its classic buckets"
		}
		return fmt.Sprintf("timer %s p%s from a native histogram (bucket factor %s, schema %d%s): histogram_quantile is within %s%% of the true value at any value: %s; %s (while at most %d buckets are populated)",
			m[1], m[3], strconv.FormatFloat(l.NativeFactor, 'g', -1, 64), l.NativeSchema(), both,
			strconv.FormatFloat(rel*100, 'f', 1, 64), part("warn", warn), part("error", crit), l.NativeMaxBuckets)
	}
	if len(l.Classic) == 0 {
		return ""
	}
	part := func(name string, thresholdMs float64) string {
		lo, hi := bucketAround(l.Classic, thresholdMs/1000)
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
