package storage_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"

	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
)

// Short names for the helpers of package storagetest (which other
// packages' integration tests use too).
type server = storagetest.Server

var (
	startPrometheus      = func(t *testing.T) *server { return storagetest.StartPrometheus(t) }
	startVictoriaMetrics = func(t *testing.T) *server { return storagetest.StartVictoriaMetrics(t) }
	remoteWrite          = func(t *testing.T, name, u string) *promconfig.RemoteWriteConfig {
		return storagetest.RemoteWrite(t, name, u)
	}
)

// apiResponse is the Prometheus API envelope.
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

// apiGet calls a Prometheus-compatible API and returns the envelope.
func apiGet(t *testing.T, base, path string, params url.Values) (int, apiResponse) {
	t.Helper()
	resp, err := http.Get(base + path + "?" + params.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var r apiResponse
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("GET %s%s?%s: %d %s", base, path, params.Encode(), resp.StatusCode, b)
	}
	return resp.StatusCode, r
}

// instant runs an instant query and returns the vector as
// "labels" -> value.
func instant(t *testing.T, base, query string, at time.Time) map[string]string {
	t.Helper()
	code, r := apiGet(t, base, "/api/v1/query", url.Values{"query": {query}, "time": {fmt.Sprint(at.Unix())}})
	if code != 200 || r.Status != "success" {
		t.Fatalf("%s %s: %d %s %s", base, query, code, r.ErrorType, r.Error)
	}
	var d struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Value  [2]any            `json:"value"`
		} `json:"result"`
	}
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatalf("%s: %v in %s", query, err, r.Data)
	}
	out := map[string]string{}
	for _, s := range d.Result {
		out[model.LabelSet(toLabelSet(s.Metric)).String()] = fmt.Sprint(s.Value[1])
	}
	return out
}

func toLabelSet(m map[string]string) model.LabelSet {
	ls := model.LabelSet{}
	for k, v := range m {
		ls[model.LabelName(k)] = model.LabelValue(v)
	}
	return ls
}

func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out after %v waiting for %s; last: %s", timeout, what, strings.TrimSpace(last))
}
