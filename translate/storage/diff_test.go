package storage_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promconfig "github.com/prometheus/prometheus/config"

	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// TestQueryAPIMatchesPrometheus puts the same data in Copenhagen's
// embedded storage and, by remote write, in a real Prometheus 2.42, then
// asks both the same questions through the HTTP API: the answers (the
// "data" of the JSON envelope, with unordered lists sorted) must be equal,
// and so must the status codes and error types. Labels, timestamps,
// result types and the number of points are compared exactly; values
// exactly in most cases, but within 1e-12 relative: Prometheus 3's engine
// (the one Copenhagen runs) sums with Kahan compensation (sum, avg,
// avg_over_time...), so its last digit sometimes differs from 2.42's, the
// 3 one being the more accurate.
func TestQueryAPIMatchesPrometheus(t *testing.T) {
	prom := startPrometheus(t)
	st := open(t, cstorage.Options{Path: t.TempDir(), MaxFuture: time.Hour, // the dataset is in the near future (see appendDataset)
		Registerer: prometheus.NewRegistry(), RemoteWrite: []*promconfig.RemoteWriteConfig{
			remoteWrite(t, "prometheus", prom.URL+"/api/v1/write"),
		}})
	defer st.Close()
	d := appendDataset(t, st)
	local := serveAPI(t, st)
	oracle := prom.URL
	waitUntil(t, 60*time.Second, "Prometheus to receive every sample", func() (bool, string) {
		n := len(rawSamples(t, oracle, d.end()))
		return n >= d.samples, fmt.Sprintf("%d of %d samples", n, d.samples)
	})

	at := []time.Time{d.start.Add(3 * time.Minute), d.start.Add(10 * time.Minute), d.end(), d.end().Add(4 * time.Minute), d.end().Add(10 * time.Minute)}
	exprs := []string{
		`http_requests_total`,
		`http_requests_total{code="500"}`,
		`http_requests_total{code=~"2..",instance!="b"}`,
		`rate(http_requests_total[2m])`,
		`irate(http_requests_total[2m])`,
		`increase(http_requests_total[5m])`,
		`sum by (code) (rate(http_requests_total[5m]))`,
		`sum without (instance) (rate(http_requests_total[5m]))`,
		`sum(rate(http_requests_total[1m])) / sum(rate(http_requests_total[1m] offset 1m))`,
		`topk(2, http_requests_total)`,
		`bottomk(1, rate(http_requests_total[3m]))`,
		`count by (instance) (http_requests_total)`,
		`http_requests_total offset 5m`,
		`resets(http_requests_total[20m])`,
		`changes(room_temperature_celsius[10m])`,
		`histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))`,
		`histogram_quantile(0.5, rate(http_request_duration_seconds_bucket[5m]))`,
		`histogram_quantile(0.99, sum by (le, instance) (increase(http_request_duration_seconds_bucket[10m])))`,
		`rate(http_request_duration_seconds_sum[5m]) / rate(http_request_duration_seconds_count[5m])`,
		`room_temperature_celsius`,
		`room_temperature_celsius > 20`,
		`room_temperature_celsius > bool 20`,
		`max by (room) (room_temperature_celsius)`,
		`avg_over_time(room_temperature_celsius[3m])`,
		`max_over_time(room_temperature_celsius[5m]) - min_over_time(room_temperature_celsius[5m])`,
		`quantile_over_time(0.5, room_temperature_celsius[10m])`,
		`stddev_over_time(room_temperature_celsius[10m])`,
		`delta(room_temperature_celsius[5m])`,
		`deriv(room_temperature_celsius[5m])`,
		`predict_linear(room_temperature_celsius[10m], 3600)`,
		`quantile(0.5, room_temperature_celsius)`,
		`count_over_time(room_temperature_celsius[20m])`,
		`last_over_time(room_temperature_celsius[20m])`,
		`tiny_value`, `huge_value * 3`, `negative_value`, `1 / negative_value`,
		`absent(nonexistent_metric)`,
		`absent(room_temperature_celsius)`,
		`scalar(sum(room_temperature_celsius))`,
		`vector(1) + 0.1`,
		`time()`,
		`label_replace(room_temperature_celsius, "where", "$1", "room", "(.*)e.*")`,
		`sort_desc(room_temperature_celsius)`,
		`room_temperature_celsius and on (room) (room_temperature_celsius > 19)`,
		`http_requests_total / on (instance, job) group_left sum by (instance, job) (http_requests_total)`,
		// A subquery's steps are aligned to multiples of its resolution;
		// 4m50s keeps its first step off the (left-open in 3, closed
		// in 2.42) range boundary.
		`max_over_time(rate(http_requests_total[1m])[4m50s:1m])`,
		`http_requests_total[1m]`,
		`sum(`,
		`rate(room_temperature_celsius)`,
		`foo{`,
	}
	calls := queryCalls(exprs, at, d.start, d.end())
	rangeAll := url.Values{"start": {unix(d.start)}, "end": {unix(d.end())}}
	with := func(v url.Values, kv ...string) url.Values {
		out := url.Values{}
		for k, vs := range v {
			out[k] = vs
		}
		for i := 0; i+1 < len(kv); i += 2 {
			out.Add(kv[i], kv[i+1])
		}
		return out
	}
	calls = append(calls,
		apiCall{"/api/v1/labels", rangeAll},
		apiCall{"/api/v1/labels", with(rangeAll, "match[]", `{__name__=~"http_.*"}`)},
		apiCall{"/api/v1/label/__name__/values", rangeAll},
		apiCall{"/api/v1/label/le/values", rangeAll},
		apiCall{"/api/v1/label/code/values", with(rangeAll, "match[]", `http_requests_total{instance="a"}`)},
		apiCall{"/api/v1/label/nonexistent/values", rangeAll},
		apiCall{"/api/v1/series", with(rangeAll, "match[]", `http_requests_total`)},
		apiCall{"/api/v1/series", with(rangeAll, "match[]", `{__name__=~"room.*|tiny.*"}`, "match[]", `{instance="b"}`)},
		apiCall{"/api/v1/series", with(rangeAll, "match[]", `nonexistent`)},
		apiCall{"/api/v1/series", rangeAll},
		apiCall{"/api/v1/query_range", url.Values{"query": {"up"}, "start": {"10"}, "end": {"5"}, "step": {"1"}}},
		apiCall{"/api/v1/query_range", url.Values{"query": {"up"}, "start": {"0"}, "end": {"100000"}, "step": {"1"}}},
		apiCall{"/api/v1/query", url.Values{"query": {"up"}, "time": {"yesterday"}}},
	)

	mismatches, withData := 0, 0
	for _, c := range calls {
		lc, lb := fetch(t, local, c.path, c.params)
		pc, pb := fetch(t, oracle, c.path, c.params)
		if lc == 200 && (strings.Contains(lb, `"result":[{`) || strings.HasPrefix(lb, `["`) || strings.HasPrefix(lb, `[{`)) {
			withData++
		}
		if lc != pc || !similar(decode(t, lb), decode(t, pb)) {
			mismatches++
			if mismatches <= 10 {
				t.Errorf("%s?%s\nCopenhagen: %d %s\nPrometheus: %d %s", c.path, c.params.Encode(), lc, short(lb), pc, short(pb))
			}
		}
	}
	if mismatches > 10 {
		t.Errorf("... %d mismatches in all", mismatches)
	}
	// Guard against comparing nothing with nothing.
	if withData < len(calls)*3/4 {
		t.Errorf("only %d of %d answers hold data", withData, len(calls))
	}
	t.Logf("%d API calls compared, %d with data", len(calls), withData)
}

// fetch returns the status code and the normalised answer: for a success,
// the data with unordered lists sorted; for an error, the error type
// (messages differ between Prometheus versions).
func fetch(t *testing.T, base, path string, params url.Values) (int, string) {
	t.Helper()
	resp, err := http.Get(base + path + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return resp.StatusCode, "not JSON: " + string(b)
	}
	if r.Status != "success" {
		return resp.StatusCode, r.Status + " " + r.ErrorType
	}
	return resp.StatusCode, normalise(t, r.Data)
}

// normalise sorts the lists whose order Prometheus does not specify
// (vector results, series) and re-encodes without changing any number:
// json.Number keeps the exact text.
func normalise(t *testing.T, raw json.RawMessage) string {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	sortLists(v)
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func decode(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return s // an error type or a non-JSON answer: compared as text
	}
	return v
}

// similar compares decoded answers: exactly, except sample values
// (numbers written as strings) which may differ by 1e-12 relative.
func similar(a, b any) bool {
	switch x := a.(type) {
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if !similar(v, y[k]) {
				return false
			}
		}
		return true
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !similar(x[i], y[i]) {
				return false
			}
		}
		return true
	case string:
		y, ok := b.(string)
		if !ok {
			return false
		}
		if x == y {
			return true
		}
		fx, err1 := strconv.ParseFloat(x, 64)
		fy, err2 := strconv.ParseFloat(y, 64)
		if err1 != nil || err2 != nil || math.IsInf(fx, 0) || math.IsInf(fy, 0) || math.IsNaN(fx) || math.IsNaN(fy) {
			return false
		}
		return math.Abs(fx-fy) <= 1e-12*math.Max(math.Abs(fx), math.Abs(fy))
	default:
		return a == b
	}
}

func sortLists(v any) {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			sortLists(e)
		}
		if res, ok := x["result"].([]any); ok && x["resultType"] == "vector" {
			sortByJSON(res)
		}
	case []any:
		allMaps := len(x) > 0
		for _, e := range x {
			sortLists(e)
			if _, ok := e.(map[string]any); !ok {
				allMaps = false
			}
		}
		if allMaps {
			if _, isSeries := x[0].(map[string]any)["__name__"]; isSeries {
				sortByJSON(x)
			}
		}
	}
}

func sortByJSON(xs []any) {
	keys := make([]string, len(xs))
	for i, x := range xs {
		b, _ := json.Marshal(x)
		keys[i] = string(b)
	}
	sort.Sort(byKey{xs, keys})
}

type byKey struct {
	xs   []any
	keys []string
}

func (b byKey) Len() int           { return len(b.xs) }
func (b byKey) Less(i, j int) bool { return b.keys[i] < b.keys[j] }
func (b byKey) Swap(i, j int) {
	b.xs[i], b.xs[j] = b.xs[j], b.xs[i]
	b.keys[i], b.keys[j] = b.keys[j], b.keys[i]
}

func short(s string) string {
	if len(s) > 600 {
		return s[:600] + "..."
	}
	return s
}

// apiCall is one request of a differential test.
type apiCall struct {
	path   string
	params url.Values
}

// queryCalls are the instant queries of every expression at each of at,
// and, but for bare range selectors, two range queries over the data
// between start and end. Evaluation times are whole multiples of 15 s
// and samples are 7 s past them, so no sample sits on a range boundary:
// Prometheus 3 made ranges left-open, 2.42 has them closed, and that
// difference is by design.
func queryCalls(exprs []string, at []time.Time, start, end time.Time) []apiCall {
	var calls []apiCall
	for _, e := range exprs {
		for _, tm := range at {
			calls = append(calls, apiCall{"/api/v1/query", url.Values{"query": {e}, "time": {unix(tm)}}})
		}
		if !strings.HasSuffix(e, "[1m]") {
			calls = append(calls,
				apiCall{"/api/v1/query_range", url.Values{"query": {e}, "start": {unix(start)}, "end": {unix(end.Add(6 * time.Minute))}, "step": {"60"}}},
				apiCall{"/api/v1/query_range", url.Values{"query": {e}, "start": {unix(start.Add(90 * time.Second))}, "end": {unix(end)}, "step": {"45"}}},
			)
		}
	}
	return calls
}

func unix(tm time.Time) string { return fmt.Sprint(tm.Unix()) }
