package promapi_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/api"
	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/histogram"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/copenhagen-obs/copenhagen/translate/promapi"
	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// base is a fixed time so that results do not depend on the clock.
var base = time.Now().Add(-time.Hour).Truncate(time.Hour)

func newServer(t *testing.T, mode string) (*httptest.Server, *cstorage.Storage) {
	t.Helper()
	st, err := cstorage.Open(cstorage.Options{Mode: mode, Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	o := promapi.Options{Agent: mode == cstorage.ModeAgent, Version: "1.2.3",
		Metadata: func() []promapi.Metadata {
			return []promapi.Metadata{{Family: "http_requests_total", Type: "counter", Help: "Requests."}}
		}}
	if mode != cstorage.ModeAgent {
		q, err := st.Queryable()
		if err != nil {
			t.Fatal(err)
		}
		o.Queryable, o.Engine = q, st.Engine()
	}
	mux := http.NewServeMux()
	promapi.Register(mux, o)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv, st
}

func fill(t *testing.T, st *cstorage.Storage) {
	t.Helper()
	app := st.Appender(context.Background())
	for i := range 60 {
		ts := base.Add(time.Duration(i) * 15 * time.Second).UnixMilli()
		for _, code := range []string{"200", "500"} {
			v := float64(i * 10)
			if code == "500" {
				v = float64(i)
			}
			if _, err := app.Append(0, labels.FromStrings("__name__", "http_requests_total", "code", code, "job", "web"), ts, v); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
}

func client(t *testing.T, srv *httptest.Server) v1.API {
	t.Helper()
	c, err := api.NewClient(api.Config{Address: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	return v1.NewAPI(c)
}

func TestClientGolangAPIClient(t *testing.T) {
	srv, st := newServer(t, cstorage.ModeServer)
	fill(t, st)
	c := client(t, srv)
	ctx := context.Background()
	end := base.Add(15 * time.Minute)

	v, _, _, err := c.Query(ctx, `sum by (code) (http_requests_total)`, end)
	if err != nil {
		t.Fatal(err)
	}
	vec := v.(model.Vector)
	got := map[string]float64{}
	for _, s := range vec {
		got[string(s.Metric["code"])] = float64(s.Value)
	}
	if len(got) != 2 || got["200"] != 590 || got["500"] != 59 {
		t.Errorf("sum by (code) = %v, want 200=590 500=59", vec)
	}

	v, _, _, err = c.QueryRange(ctx, `rate(http_requests_total{code="200"}[1m])`, v1.Range{Start: base.Add(5 * time.Minute), End: end, Step: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	m := v.(model.Matrix)
	if len(m) != 1 || len(m[0].Values) != 11 {
		t.Fatalf("query_range = %v", m)
	}
	for _, p := range m[0].Values {
		if d := float64(p.Value) - 10.0/15; d > 1e-9 || d < -1e-9 {
			t.Errorf("rate at %v = %v, want %v", p.Timestamp, p.Value, 10.0/15)
		}
	}

	names, _, _, err := c.LabelNames(ctx, nil, base, end)
	if err != nil || strings.Join(modelStrings(names), ",") != "__name__,code,job" {
		t.Errorf("labels = %v, %v", names, err)
	}
	vals, _, _, err := c.LabelValues(ctx, "code", nil, base, end)
	if err != nil || len(vals) != 2 || vals[0] != "200" || vals[1] != "500" {
		t.Errorf("label values = %v, %v", vals, err)
	}
	series, _, _, err := c.Series(ctx, []string{`{code="500"}`}, base, end)
	if err != nil || len(series) != 1 || series[0]["job"] != "web" {
		t.Errorf("series = %v, %v", series, err)
	}
	md, err := c.Metadata(ctx, "", "")
	if err != nil || len(md["http_requests_total"]) != 1 || md["http_requests_total"][0].Type != v1.MetricTypeCounter {
		t.Errorf("metadata = %v, %v", md, err)
	}
	bi, err := c.Buildinfo(ctx)
	if err != nil || bi.Version != "1.2.3" {
		t.Errorf("buildinfo = %+v, %v", bi, err)
	}

	// Errors are Prometheus's: bad_data with 400 for a parse error.
	_, _, _, err = c.Query(ctx, `sum(`, end)
	var apiErr *v1.Error
	if !errors.As(err, &apiErr) || apiErr.Type != v1.ErrBadData {
		t.Errorf("parse error = %#v", err)
	}
}

func modelStrings[T ~string](xs []T) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = string(x)
	}
	return out
}

func get(t *testing.T, method, u string, form url.Values) (int, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = http.PostForm(u, form)
	} else {
		if form != nil {
			u += "?" + form.Encode()
		}
		resp, err = http.Get(u)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestExactJSON(t *testing.T) {
	srv, st := newServer(t, cstorage.ModeServer)
	fill(t, st)
	at := base.Add(15 * time.Minute).Unix()
	tests := []struct {
		method, path string
		form         url.Values
		status       int
		want         string
	}{
		{"GET", "/api/v1/query", url.Values{"query": {`http_requests_total{code="500"}`}, "time": {itoa(at)}}, 200,
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"__name__":"http_requests_total","code":"500","job":"web"},"value":[` + itoa(at) + `,"59"]}]}}`},
		{"POST", "/api/v1/query", url.Values{"query": {`1/3`}, "time": {itoa(at) + ".5"}}, 200,
			`{"status":"success","data":{"resultType":"scalar","result":[` + itoa(at) + `.5,"0.3333333333333333"]}}`},
		{"GET", "/api/v1/query", url.Values{"query": {`"a"`}, "time": {itoa(at)}}, 200,
			`{"status":"success","data":{"resultType":"string","result":[` + itoa(at) + `,"a"]}}`},
		{"GET", "/api/v1/query", url.Values{"query": {`1/0`}, "time": {itoa(at)}}, 200,
			`{"status":"success","data":{"resultType":"scalar","result":[` + itoa(at) + `,"+Inf"]}}`},
		{"GET", "/api/v1/query", url.Values{"query": {`sum(`}}, 400,
			`{"status":"error","errorType":"bad_data","error":"invalid parameter \"query\": 1:5: parse error: unclosed left parenthesis"}`},
		{"GET", "/api/v1/query_range", url.Values{"query": {`up`}, "start": {"2"}, "end": {"1"}, "step": {"1"}}, 400,
			`{"status":"error","errorType":"bad_data","error":"invalid parameter \"end\": end timestamp must not be before start time"}`},
		{"POST", "/api/v1/query_range", url.Values{"query": {`http_requests_total{code="500"}`}, "start": {itoa(at - 30)}, "end": {itoa(at)}, "step": {"15"}}, 200,
			`{"status":"success","data":{"resultType":"matrix","result":[{"metric":{"__name__":"http_requests_total","code":"500","job":"web"},"values":[[` + itoa(at-30) + `,"58"],[` + itoa(at-15) + `,"59"],[` + itoa(at) + `,"59"]]}]}}`},
		{"GET", "/api/v1/label/code/values", nil, 200, `{"status":"success","data":["200","500"]}`},
		{"POST", "/api/v1/labels", url.Values{"match[]": {`{code="200"}`}}, 200, `{"status":"success","data":["__name__","code","job"]}`},
		{"POST", "/api/v1/series", url.Values{"match[]": {`{code="200"}`}}, 200,
			`{"status":"success","data":[{"__name__":"http_requests_total","code":"200","job":"web"}]}`},
		{"GET", "/api/v1/series", nil, 400, `{"status":"error","errorType":"bad_data","error":"no match[] parameter provided"}`},
		{"GET", "/api/v1/metadata", url.Values{"metric": {"nope"}}, 200, `{"status":"success","data":{}}`},
		{"GET", "/api/v1/metadata", nil, 200, `{"status":"success","data":{"http_requests_total":[{"type":"counter","unit":"","help":"Requests."}]}}`},
		{"GET", "/api/v1/targets", nil, 404, `{"status":"error","errorType":"not_found","error":"Copenhagen does not serve /api/v1/targets"}`},
		{"GET", "/api/v1/admin/tsdb/snapshot", nil, 404, `{"status":"error","errorType":"not_found","error":"Copenhagen does not serve /api/v1/admin/tsdb/snapshot"}`},
	}
	for _, tt := range tests {
		status, body := get(t, tt.method, srv.URL+tt.path, tt.form)
		if status != tt.status || strings.TrimSpace(body) != tt.want {
			t.Errorf("%s %s %v:\n got %d %s\nwant %d %s", tt.method, tt.path, tt.form, status, body, tt.status, tt.want)
		}
	}
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }

func TestAgentModeRefusesQueries(t *testing.T) {
	srv, _ := newServer(t, cstorage.ModeAgent)
	for _, p := range []string{"/api/v1/query?query=up", "/api/v1/query_range?query=up&start=1&end=2&step=1", "/api/v1/series?match[]=up", "/api/v1/labels"} {
		status, body := get(t, "GET", srv.URL+p, nil)
		if status != 422 || !strings.Contains(body, `"errorType":"execution","error":"unavailable with Prometheus Agent"`) {
			t.Errorf("%s: %d %s", p, status, body)
		}
	}
	status, body := get(t, "GET", srv.URL+"/api/v1/status/buildinfo", nil)
	if status != 200 || !strings.Contains(body, `"version":"1.2.3"`) {
		t.Errorf("buildinfo in agent mode: %d %s", status, body)
	}
}

func TestNotReadyIs503(t *testing.T) {
	ready := false
	mux := http.NewServeMux()
	promapi.Register(mux, promapi.Options{Agent: true, Ready: func() bool { return ready }})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	if status, _ := get(t, "GET", srv.URL+"/api/v1/status/buildinfo", nil); status != 503 {
		t.Errorf("not ready: %d, want 503", status)
	}
	ready = true
	if status, _ := get(t, "GET", srv.URL+"/api/v1/status/buildinfo", nil); status != 200 {
		t.Errorf("ready: %d, want 200", status)
	}
}

// TestNativeHistogramJSON: a native histogram is served in Prometheus's
// JSON form ("histogram" and "histograms" instead of "value" and
// "values": count, sum, and each populated bucket as [boundary rule,
// lower, upper, count], rule 0 for (lower, upper]), which client_golang's
// API client (and so Grafana) decodes as a histogram sample.
func TestNativeHistogramJSON(t *testing.T) {
	srv, st := newServer(t, cstorage.ModeServer)
	// Schema 0: bucket i is (2^(i-1), 2^i]. Observed: 0.7, 1.5, 1.8.
	h := &histogram.Histogram{Schema: 0, ZeroThreshold: 1e-128, Count: 3, Sum: 4,
		PositiveSpans: []histogram.Span{{Offset: 0, Length: 2}}, PositiveBuckets: []int64{1, 1}}
	if err := h.Validate(); err != nil {
		t.Fatal(err)
	}
	ls := labels.FromStrings("__name__", "rpc_duration_seconds", "job", "web")
	app := st.Appender(context.Background())
	for i := range 2 {
		hi := h.Copy()
		hi.Count, hi.Sum, hi.PositiveBuckets = h.Count*uint64(i+1), h.Sum*float64(i+1), []int64{int64(i + 1), int64(i + 1)}
		if _, err := app.AppendHistogram(0, ls, base.Add(time.Duration(i)*15*time.Second).UnixMilli(), hi, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	t0, t1 := base.Unix(), base.Add(15*time.Second).Unix()
	metric := `{"__name__":"rpc_duration_seconds","job":"web"}`
	for _, tt := range []struct {
		path string
		form url.Values
		want string
	}{
		{"/api/v1/query", url.Values{"query": {`rpc_duration_seconds`}, "time": {itoa(t0)}},
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":` + metric + `,"histogram":[` + itoa(t0) +
				`,{"count":"3","sum":"4","buckets":[[0,"0.5","1","1"],[0,"1","2","2"]]}]}]}}`},
		{"/api/v1/query_range", url.Values{"query": {`rpc_duration_seconds`}, "start": {itoa(t0)}, "end": {itoa(t1)}, "step": {"15"}},
			`{"status":"success","data":{"resultType":"matrix","result":[{"metric":` + metric + `,"histograms":[[` + itoa(t0) +
				`,{"count":"3","sum":"4","buckets":[[0,"0.5","1","1"],[0,"1","2","2"]]}],[` + itoa(t1) +
				`,{"count":"6","sum":"8","buckets":[[0,"0.5","1","2"],[0,"1","2","4"]]}]]}]}}`},
		{"/api/v1/query", url.Values{"query": {`histogram_count(rpc_duration_seconds)`}, "time": {itoa(t1)}},
			`{"status":"success","data":{"resultType":"vector","result":[{"metric":{"job":"web"},"value":[` + itoa(t1) + `,"6"]}]}}`},
	} {
		status, body := get(t, http.MethodGet, srv.URL+tt.path, tt.form)
		if status != 200 || strings.TrimSpace(body) != tt.want {
			t.Errorf("%s %v:\n got %d %s\nwant 200 %s", tt.path, tt.form, status, body, tt.want)
		}
	}

	v, _, _, err := client(t, srv).Query(context.Background(), `rpc_duration_seconds`, base.Add(15*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	vec, ok := v.(model.Vector)
	if !ok || len(vec) != 1 || vec[0].Histogram == nil {
		t.Fatalf("client_golang decoded %#v, want one histogram sample", v)
	}
	got := vec[0].Histogram
	if got.Count != 6 || got.Sum != 8 || len(got.Buckets) != 2 || got.Buckets[1].Lower != 1 || got.Buckets[1].Upper != 2 ||
		got.Buckets[1].Count != 4 || got.Buckets[1].Boundaries != 0 {
		t.Errorf("client_golang histogram = %v", got)
	}
}
