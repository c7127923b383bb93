package storage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// nativeSchema is the schema statsd_exporter's
// native_histogram_bucket_factor 1.1 gives (client_golang picks the
// largest schema whose factor 2^(2^-schema) is at most 1.1: 2^(1/8) =
// 1.0905).
const nativeSchema = 3

// bucketIndex is the index of the native histogram bucket of schema
// nativeSchema that holds v > 0: bucket i is (2^((i-1)/8), 2^(i/8)].
func bucketIndex(v float64) int32 {
	return int32(math.Ceil(math.Log2(v) * (1 << nativeSchema)))
}

// bucketBounds are the bounds of bucket i.
func bucketBounds(i int32) (lower, upper float64) {
	return math.Exp2(float64(i-1) / (1 << nativeSchema)), math.Exp2(float64(i) / (1 << nativeSchema))
}

// nativeHistogram builds the integer native histogram (schema 3, positive
// observations only) of the observations, the way a client library
// encodes it: spans over the populated buckets and delta-encoded counts.
func nativeHistogram(t testing.TB, obs []float64) *histogram.Histogram {
	t.Helper()
	counts := map[int32]int64{}
	h := &histogram.Histogram{
		CounterResetHint: histogram.UnknownCounterReset,
		Schema:           nativeSchema,
		ZeroThreshold:    math.Ldexp(0.5, -127), // client_golang's default, 2.9e-39
		Count:            uint64(len(obs)),
	}
	for _, v := range obs {
		counts[bucketIndex(v)]++
		h.Sum += v
	}
	idx := make([]int32, 0, len(counts))
	for i := range counts {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	var prevCount int64
	for k, i := range idx {
		switch {
		case k == 0:
			h.PositiveSpans = append(h.PositiveSpans, histogram.Span{Offset: i, Length: 1})
		case i == idx[k-1]+1:
			h.PositiveSpans[len(h.PositiveSpans)-1].Length++
		default:
			h.PositiveSpans = append(h.PositiveSpans, histogram.Span{Offset: i - idx[k-1] - 1, Length: 1})
		}
		h.PositiveBuckets = append(h.PositiveBuckets, counts[i]-prevCount)
		prevCount = counts[i]
	}
	if err := h.Validate(); err != nil {
		t.Fatalf("test histogram invalid: %v", err)
	}
	return h
}

// timerStep is what one StatsD flush interval of a timer observes: 19
// requests at 30 ms and one at 500 ms (plus a few spread ones in
// histogramDataset's second series). Its p90 lies in the bucket of 30 ms,
// (2^(-41/8), 2^(-5)] = (28.66 ms, 31.25 ms].
var timerStep = append(slices.Repeat([]float64{0.030}, 19), 0.5)

// wantTimerP90 is histogram_quantile(0.9, ...) of any multiple of
// timerStep with Prometheus 3's exponential interpolation inside a native
// bucket: the rank (from the top, 10 % of 20 = 2 observations) lies
// 18/19 of the way into the 30 ms bucket on a logarithmic scale, so
// 2^(-41/8 + (1/8)(18/19)) = 2^(-5 - 1/152) s.
var wantTimerP90 = math.Exp2(-5 - 1.0/152)

// histogramDataset is what the native histogram tests append: two
// cumulative native histograms (the way a StatsD timer mapped with
// native_histogram_bucket_factor is flushed), every 15 s for 20 minutes,
// at 7 s past a 15 s boundary, and one float series beside them.
type histogramDataset struct {
	start time.Time
	steps int
	// want["series@ms"] is the histogram appended there.
	want map[string]*histogram.Histogram
}

const (
	timerSeries  = `request_duration_seconds{instance="a",job="api"}`
	spreadSeries = `request_duration_seconds{instance="b",job="api"}`
)

var histogramSeries = map[string]labels.Labels{
	timerSeries:  labels.FromStrings("__name__", "request_duration_seconds", "instance", "a", "job", "api"),
	spreadSeries: labels.FromStrings("__name__", "request_duration_seconds", "instance", "b", "job", "api"),
}

func (d histogramDataset) end() time.Time {
	return d.start.Add(time.Duration(d.steps) * 15 * time.Second)
}

// appendHistograms appends the dataset to st, starting at start (a whole
// minute; in the near future when remote write must see it, since the
// WAL watcher sends nothing older than its start).
func appendHistograms(t *testing.T, st *cstorage.Storage, start time.Time, steps int) histogramDataset {
	t.Helper()
	d := histogramDataset{start: start, steps: steps, want: map[string]*histogram.Histogram{}}
	var timer, spread []float64
	// Well above zero from the first sample (see appendDataset: rate's
	// extrapolation to zero differs between Prometheus 2.42 and 3).
	for range 50 {
		timer = append(timer, timerStep...)
	}
	for k := range 400 {
		spread = append(spread, 0.001*math.Pow(1.013, float64(k)))
	}
	for i := range steps {
		timer = append(timer, timerStep...)
		for k := range 7 {
			spread = append(spread, 0.002*math.Pow(1.07, float64((i*5+k*11)%60)))
		}
		ts := start.Add(time.Duration(i)*15*time.Second + 7*time.Second).UnixMilli()
		app := st.Appender(context.Background())
		for name, obs := range map[string][]float64{timerSeries: timer, spreadSeries: spread} {
			h := nativeHistogram(t, obs)
			if _, err := app.AppendHistogram(0, histogramSeries[name], ts, h, nil); err != nil {
				t.Fatalf("AppendHistogram %s@%d: %v", name, ts, err)
			}
			d.want[fmt.Sprintf("%s@%d", histogramSeries[name], ts)] = h
		}
		if _, err := app.Append(0, labels.FromStrings("__name__", "request_rate_floats", "job", "api"), ts, float64(i)); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

// apiHistogram is a native histogram as the Prometheus API writes it:
// {"count": "N", "sum": "S", "buckets": [[boundary_rule, "lower", "upper", "count"], ...]}.
type apiHistogram struct {
	Count   float64
	Sum     float64
	Buckets [][4]float64 // boundary rule, lower, upper, count
}

func (h apiHistogram) String() string {
	return fmt.Sprintf("count=%v sum=%v buckets=%v", h.Count, h.Sum, h.Buckets)
}

// expectedAPIHistogram is how the API must show h: every populated
// bucket, with its boundary rule (0: (lower, upper], the positive
// buckets), as float64.
func expectedAPIHistogram(h *histogram.Histogram) apiHistogram {
	fh := h.ToFloat(nil)
	out := apiHistogram{Count: fh.Count, Sum: fh.Sum}
	it := fh.AllBucketIterator()
	for it.Next() {
		b := it.At()
		if b.Count == 0 {
			continue
		}
		rule := 3.0 // closed both: the zero bucket
		switch {
		case b.LowerInclusive && !b.UpperInclusive:
			rule = 1
		case !b.LowerInclusive && b.UpperInclusive:
			rule = 0
		case !b.LowerInclusive && !b.UpperInclusive:
			rule = 2
		}
		out.Buckets = append(out.Buckets, [4]float64{rule, b.Lower, b.Upper, b.Count})
	}
	return out
}

// parseAPIHistogram reads the API's JSON form of a histogram.
func parseAPIHistogram(t testing.TB, v any) apiHistogram {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("histogram: expected an object, got %v", v)
	}
	num := func(x any) float64 {
		t.Helper()
		switch y := x.(type) {
		case string:
			return parseFloatT(t, y)
		case float64:
			return y
		case json.Number:
			f, err := y.Float64()
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
		t.Fatalf("histogram: unexpected number %#v", x)
		return 0
	}
	out := apiHistogram{Count: num(m["count"]), Sum: num(m["sum"])}
	bs, _ := m["buckets"].([]any)
	for _, b := range bs {
		row, ok := b.([]any)
		if !ok || len(row) != 4 {
			t.Fatalf("histogram bucket: %v", b)
		}
		out.Buckets = append(out.Buckets, [4]float64{num(row[0]), num(row[1]), num(row[2]), num(row[3])})
	}
	return out
}

func parseFloatT(t testing.TB, s string) float64 {
	t.Helper()
	switch s {
	case "+Inf", "Inf":
		return math.Inf(1)
	case "-Inf":
		return math.Inf(-1)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return f
}

// rawHistograms returns every native histogram sample of the selector
// stored in a Prometheus-compatible API, as "series@ms" -> histogram
// (a range selector as instant query returns raw samples).
func rawHistograms(t *testing.T, base, selector string, at time.Time) map[string]apiHistogram {
	t.Helper()
	code, r := apiGet(t, base, "/api/v1/query", url.Values{"query": {selector + "[30m]"}, "time": {fmt.Sprint(at.Unix())}})
	if code != 200 || r.Status != "success" {
		t.Fatalf("%s %s: %d %s %s", base, selector, code, r.ErrorType, r.Error)
	}
	var d struct {
		Result []struct {
			Metric     map[string]string `json:"metric"`
			Histograms [][2]any          `json:"histograms"`
		} `json:"result"`
	}
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatalf("%v in %s", err, r.Data)
	}
	out := map[string]apiHistogram{}
	for _, s := range d.Result {
		ls := labels.FromMap(s.Metric).String()
		for _, h := range s.Histograms {
			ms := int64(math.Round(h[0].(float64) * 1000))
			out[fmt.Sprintf("%s@%d", ls, ms)] = parseAPIHistogram(t, h[1])
		}
	}
	return out
}

// compareHistograms reports every difference between what was appended
// and what an API returns.
func compareHistograms(t *testing.T, where string, got map[string]apiHistogram, want map[string]*histogram.Histogram) {
	t.Helper()
	bad := 0
	for k, w := range want {
		g, ok := got[k]
		e := expectedAPIHistogram(w)
		if !ok || g.String() != e.String() {
			if bad++; bad <= 3 {
				t.Errorf("%s: %s\n got: %s (present: %v)\nwant: %s", where, k, short(g.String()), ok, short(e.String()))
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			if bad++; bad <= 6 {
				t.Errorf("%s holds a histogram that was not appended: %s", where, k)
			}
		}
	}
	if bad > 0 {
		t.Errorf("%s: %d of %d histograms differ", where, bad, len(want))
	}
}
