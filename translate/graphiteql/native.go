package graphiteql

import (
	"fmt"
	"strconv"
	"time"

	"github.com/copenhagen-obs/copenhagen/translate/names"
)

// classicSuffixes matches the names of a classic histogram's series; a
// metric-name pattern over a timer stored both ways must not take them as
// native histograms of their own.
var classicSuffixes = names.Matcher{Name: "__name__", Value: ".+_(?:bucket|count|sum)", Regex: true, Neg: true}

// nativeTimer is the PromQL of a timer statistic when the timer is stored
// as a native histogram (the mapping sets native_histogram_bucket_factor):
// one histogram series under the rule's name, queried with the
// histogram_* functions instead of _bucket, _count and _sum. When classic
// buckets are kept as well the native histogram is preferred: its
// quantiles are within a relative bound at any value, not only within the
// width of whatever classic bucket holds them. ok is false for the
// statistics a histogram does not keep, which the caller refuses.
//
// The mean is histogram_sum / histogram_count of the rate. histogram_avg
// means exactly that (Sum/Count of the same histogram, NaN for 0/0) in
// the promql Copenhagen embeds, but Prometheus before 2.50 (and its
// promtool, which checks imported rule files) does not know it.
func (t *tr) nativeTimer(c names.Case, fstat, stat string, pct float64, step time.Duration, l names.HistogramLayout, unscale, toMs string) (val, bool) {
	o := t.r.etsy
	w := o.rateWindow()
	flushSec := num(o.flush().Seconds())
	var extra []names.Matcher
	if len(l.Classic) > 0 {
		t.info("the timer keeps classic buckets (_bucket, _count, _sum) and a native histogram: the native histogram is queried")
		if c.Name.Regex {
			extra = append(extra, classicSuffixes)
		}
	}
	rng := func() string {
		r, _ := t.rangeOf(c, "", w, step, extra...)
		return "rate(" + r + ")"
	}
	switch stat {
	case "count_ps":
		t.approx(fmt.Sprintf("statsd's count_ps of one %s flush is the native histogram's rate() averaged over %s", dur(o.flush()), dur(w)))
		if unscale != "" {
			// Scale changes the observed values, not how many there are.
			t.info("scale does not change how many values are observed: the count is not divided back")
		}
		return val{q: "histogram_count(" + rng() + ")", atom: true}, true
	case "count":
		t.approx(fmt.Sprintf("statsd's count of one %s flush is the native histogram's rate() over %s times %ss", dur(o.flush()), dur(w), flushSec))
		if unscale != "" {
			t.info("scale does not change how many values are observed: the count is not divided back")
		}
		return val{q: "histogram_count(" + rng() + ") * " + flushSec}, true
	case "sum":
		t.approx(fmt.Sprintf("statsd's sum of one %s flush is the native histogram's rate() over %s times %ss", dur(o.flush()), dur(w), flushSec))
		return val{q: "histogram_sum(" + rng() + ") * " + flushSec + toMs}, true
	case "mean":
		t.approx(fmt.Sprintf("statsd's mean of one %s flush is the mean over %s (histogram_sum / histogram_count of the native histogram's rate)", dur(o.flush()), dur(w)))
		r := rng()
		return val{q: "histogram_sum(" + r + ") / histogram_count(" + r + ")" + toMs}, true
	case "upper", "median":
		q := percent(pct)
		if stat == "median" {
			q = 0.5
		} else if pct == 0 {
			return val{}, false // the maximum: not kept
		}
		t.approx(fmt.Sprintf("the %s of one flush is histogram_quantile(%s) over %s: %s", fstat, num(q), dur(w), NativeBound(l)))
		return val{q: fmt.Sprintf("histogram_quantile(%s, %s)%s", num(q), rng(), toMs)}, true
	}
	return val{}, false
}

// NativeBound says how close histogram_quantile over a native histogram of
// layout l is to the true quantile of the observations: both lie in the
// same exponential bucket, so the estimate is within the bucket growth
// minus one, relative ("native histogram, within 9.1% relative" for a
// factor of 1.1).
func NativeBound(l names.HistogramLayout) string {
	return fmt.Sprintf("native histogram, within %s%% relative (schema %d, each bucket %s times as wide as the previous; coarser when more than %d buckets are populated)",
		strconv.FormatFloat(l.NativeRelativeError()*100, 'f', 1, 64), l.NativeSchema(),
		strconv.FormatFloat(l.NativeGrowth(), 'f', 4, 64), l.NativeMaxBuckets)
}
