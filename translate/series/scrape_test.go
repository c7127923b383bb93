package series

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
)

// TestPrometheusScrapesUnmappedCountersAsCounters: a real Prometheus
// (Debian's 2.42, which asks for OpenMetrics first) scrapes the handler.
// An unmapped StatsD counter (no _total in its name) must arrive as a
// counter, not as an "unknown" metric: series api_requests_total, family
// api_requests of type counter in the metadata API; a counter named with
// _total is unchanged.
func TestPrometheusScrapesUnmappedCountersAsCounters(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(Options{}, reg)
	c, err := s.Get(&Spec{Name: "api_requests", Kind: KindCounter, Help: "Requests.", Labels: labels.FromStrings("route", "home")})
	if err != nil {
		t.Fatal(err)
	}
	c.Add(3)
	j, err := s.Get(&Spec{Name: "jobs_total", Kind: KindCounter, Help: "Jobs."})
	if err != nil {
		t.Fatal(err)
	}
	j.Add(2)
	var mu sync.Mutex
	var accepts []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		accepts = append(accepts, r.Header.Get("Accept"))
		mu.Unlock()
		Handler(reg, s).ServeHTTP(w, r)
	}))
	defer srv.Close()
	target := strings.TrimPrefix(srv.URL, "http://")
	prom := storagetest.StartPrometheusWithConfig(t, fmt.Sprintf(
		"global: {scrape_interval: 1s}\nscrape_configs:\n  - job_name: copenhagen\n    static_configs: [{targets: [%q]}]\n", target))

	query := func(path string, v url.Values, out any) {
		t.Helper()
		resp, err := http.Get(prom.URL + path + "?" + v.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
	var got struct {
		Data struct {
			Result []struct {
				Metric map[string]string
				Value  [2]any
			}
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		query("/api/v1/query", url.Values{"query": {`{__name__=~"api_requests.*|jobs.*", job="copenhagen"}`}}, &got)
		if len(got.Data.Result) >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	names := map[string]string{}
	for _, r := range got.Data.Result {
		names[r.Metric["__name__"]] = fmt.Sprint(r.Value[1])
	}
	mu.Lock()
	defer mu.Unlock()
	if len(names) != 2 || names["api_requests_total"] != "3" || names["jobs_total"] != "2" {
		t.Fatalf("Prometheus stored %v, want api_requests_total 3 and jobs_total 2 (Accept: %q)", names, accepts)
	}
	if len(accepts) == 0 || !strings.HasPrefix(accepts[0], "application/openmetrics-text") {
		t.Fatalf("Prometheus did not ask for OpenMetrics first (Accept: %q); the test proves nothing", accepts)
	}
	var meta struct {
		Data map[string][]struct{ Type string }
	}
	query("/api/v1/metadata", url.Values{}, &meta)
	for _, family := range []string{"api_requests", "jobs"} {
		if m := meta.Data[family]; len(m) != 1 || m[0].Type != "counter" {
			t.Errorf("metadata of %s = %+v, want type counter (all: %+v)", family, m, meta.Data)
		}
	}
}
