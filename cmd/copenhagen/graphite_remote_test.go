package main

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
)

// queryRaw reads the raw samples of the series matching sel from a
// Prometheus-compatible API (Copenhagen, Prometheus, VictoriaMetrics).
func queryRaw(t *testing.T, base, sel string, at time.Time) ([]stored, error) {
	t.Helper()
	q := url.Values{"query": {sel + "[15m]"}, "time": {strconv.FormatInt(at.Unix(), 10)}}
	resp, err := http.Get(base + "/api/v1/query?" + q.Encode())
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var body struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Values [][2]any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		return nil, err
	}
	if body.Status != "success" {
		return nil, fmt.Errorf("%s: %s", base, body.Error)
	}
	var out []stored
	for _, s := range body.Data.Result {
		name := labels.FromMap(s.Metric).String()
		for _, p := range s.Values {
			ts, _ := p[0].(float64)
			v, err := strconv.ParseFloat(p[1].(string), 64)
			if err != nil {
				return nil, err
			}
			out = append(out, stored{name, int64(math.Round(ts * 1000)), v})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].series != out[j].series {
			return out[i].series < out[j].series
		}
		return out[i].t < out[j].t
	})
	return out, nil
}

// TestGraphiteToPrometheusAndVictoriaMetrics: points sent over TCP, UDP and
// pickle are stored with their timestamps and shipped by remote write to a
// real Prometheus 2.42 and a real VictoriaMetrics 1.79.5 (Debian); queried
// back from each, they equal what the embedded storage holds.
func TestGraphiteToPrometheusAndVictoriaMetrics(t *testing.T) {
	prom := storagetest.StartPrometheus(t)
	vm := storagetest.StartVictoriaMetrics(t)
	extra := fmt.Sprintf("remote_write:\n"+
		"  - {url: %s/api/v1/write, name: prom, queue: {batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 1s}}\n"+
		"  - {url: %s/api/v1/write, name: vm, queue: {batch_send_deadline: 100ms, min_backoff: 50ms, max_backoff: 1s}}\n",
		prom.URL, vm.URL)
	r, w := startGraphite(t, extra)
	tcp, udp, pickle := w.addrs()
	// Remote write ships samples newer than the process start, as
	// Prometheus does: stamp the points after it.
	base := time.Now().Unix() + 1
	sendTCP(t, tcp, fmt.Sprintf("rw.tcp.load 0.5 %d\nrw.tcp.load 1.5 %d\nrw.tcp.cpu;host=web01;dc=par 42 %d\n", base, base+1, base))
	sendUDP(t, udp.String(), fmt.Sprintf("rw.udp.hits-total 3 %d\nrw.udp.hits-total 4 %d\n", base, base+2))
	sendTCP(t, pickle, string(pythonPickle(t, 2, fmt.Sprintf("[('rw.pickle.p', (%d, 1.25)), ('rw.pickle.p', (%d.5, 2))]", base, base+1))))
	ms := base * 1000
	want := []stored{
		{`{__name__="rw_pickle_p"}`, ms, 1.25},
		{`{__name__="rw_pickle_p"}`, ms + 1500, 2},
		{`{__name__="rw_tcp_cpu", dc="par", host="web01"}`, ms, 42},
		{`{__name__="rw_tcp_load"}`, ms, 0.5},
		{`{__name__="rw_tcp_load"}`, ms + 1000, 1.5},
		{`{__name__="rw_udp_hits_total"}`, ms, 3},
		{`{__name__="rw_udp_hits_total"}`, ms + 2000, 4},
	}
	waitStored(t, r, "rw_.*", want)
	at := time.Unix(base+5, 0)
	for _, srv := range []struct{ name, url string }{
		{"copenhagen", r.url("")},
		{"prometheus 2.42", prom.URL},
		{"victoria-metrics 1.79.5", vm.URL},
	} {
		deadline := time.Now().Add(30 * time.Second)
		for {
			got, err := queryRaw(t, srv.url, `{__name__=~"rw_.*"}`, at)
			if err == nil && slices.Equal(got, want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s holds:\n  %v (err %v)\nwant:\n  %v", srv.name, got, err, want)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}
