package storage_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"

	"github.com/copenhagen-obs/copenhagen/translate/promapi"
	"github.com/copenhagen-obs/copenhagen/translate/series"
	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
)

// dataset is what the remote write and differential tests append: StatsD
// counters, a gauge and a histogram flushed through series.Store.AppendTo
// (the path StatsD takes), every 15 s for 20 minutes, at timestamps that
// never fall on a whole minute (so that no sample sits exactly on a range
// boundary, where Prometheus 2 and 3 differ by design).
type dataset struct {
	start   time.Time // a whole minute
	steps   int
	samples int // appended in total
}

func appendDataset(t *testing.T, st *cstorage.Storage) dataset {
	t.Helper()
	// Remote write sends only samples newer than the moment its WAL
	// watcher started (Prometheus's behaviour: it does not backfill), so
	// the 20 minutes are in the near future rather than the past.
	start := time.Now().Truncate(time.Minute).Add(2 * time.Minute)
	d := dataset{start: start, steps: 80}
	s := series.New(series.Options{}, nil)
	get := func(spec series.Spec) *series.Series {
		t.Helper()
		ser, err := s.Get(&spec)
		if err != nil {
			t.Fatal(err)
		}
		return ser
	}
	var reqs []*series.Series
	for _, inst := range []string{"a", "b"} {
		for _, code := range []string{"200", "500"} {
			reqs = append(reqs, get(series.Spec{Name: "http_requests_total", Kind: series.KindCounter,
				Labels: labels.FromStrings("code", code, "instance", inst, "job", "api")}))
		}
	}
	temps := []*series.Series{
		get(series.Spec{Name: "room_temperature_celsius", Kind: series.KindGauge, Labels: labels.FromStrings("room", "kitchen")}),
		get(series.Spec{Name: "room_temperature_celsius", Kind: series.KindGauge, Labels: labels.FromStrings("room", "bureau")}),
	}
	lat := []*series.Series{
		get(series.Spec{Name: "http_request_duration_seconds", Kind: series.KindHistogram, Buckets: []float64{0.05, 0.1, 0.5, 1, 2.5},
			Labels: labels.FromStrings("instance", "a")}),
		get(series.Spec{Name: "http_request_duration_seconds", Kind: series.KindHistogram, Buckets: []float64{0.05, 0.1, 0.5, 1, 2.5},
			Labels: labels.FromStrings("instance", "b")}),
	}
	// Extreme magnitudes, each in its own series (VictoriaMetrics shares
	// one decimal exponent per block, so mixing 1e21 and 1e-7 in a series
	// would lose precision there by design).
	tiny := get(series.Spec{Name: "tiny_value", Kind: series.KindGauge})
	huge := get(series.Spec{Name: "huge_value", Kind: series.KindGauge})
	neg := get(series.Spec{Name: "negative_value", Kind: series.KindGauge})
	// Counters and histograms start well above zero: where a series'
	// first sample is near zero, rate() extrapolates "to zero", and
	// Prometheus 2.42 does that before its extrapolation threshold while
	// Prometheus 3 (whose engine Copenhagen runs) does it after (a fix in
	// Prometheus 2.53). The differential test compares versions, not that
	// fix.
	for j, r := range reqs {
		r.Add(float64(1000 * (j + 1)))
	}
	for _, h := range lat {
		for k := range 1000 {
			h.Observe(float64(k%300)/100, 1)
		}
	}
	// For the same reason, no start-timestamp zero before the first
	// samples (AppendTo injects one for new cumulative series): a first
	// flush into a scratch storage, rolled back, marks every series as
	// already stored.
	scratch := open(t, cstorage.Options{Path: t.TempDir(), MaxFuture: time.Hour})
	sapp := scratch.Appender(context.Background())
	if _, err := s.AppendTo(sapp, start.UnixMilli()); err != nil {
		t.Fatal(err)
	}
	_ = sapp.Rollback()
	_ = scratch.Close()
	for i := range d.steps {
		for j, r := range reqs {
			r.Add(float64((i*7+j*13)%11 + j))
		}
		temps[0].Set(18 + float64(i%9)*0.7)
		temps[1].Set(21.25 - float64(i%5)*1.1)
		for j, h := range lat {
			for k := range 20 {
				h.Observe(float64((i*31+k*17+j*5)%300)/100, 1)
			}
		}
		tiny.Set(1.5e-7 * float64(i+1))
		huge.Set(1e21 * float64(i+1))
		neg.Set(-0.1 * float64(i+1)) // not -0, whose sign Prometheus 2.42 does not report
		ts := start.Add(time.Duration(i)*15*time.Second + 7*time.Second)
		app := st.Appender(context.Background())
		n, err := s.AppendTo(app, ts.UnixMilli())
		if err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
		d.samples += n
	}
	return d
}

func (d dataset) end() time.Time { return d.start.Add(time.Duration(d.steps) * 15 * time.Second) }

// serveAPI serves Copenhagen's Prometheus API over st.
func serveAPI(t *testing.T, st *cstorage.Storage) string {
	t.Helper()
	q, err := st.Queryable()
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	promapi.Register(mux, promapi.Options{Queryable: q, Engine: st.Engine()})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// rawSamples returns every stored sample as "series@ms=value", sorted,
// from a Prometheus-compatible API (a range selector as instant query
// returns raw samples).
func rawSamples(t *testing.T, base string, at time.Time) []string {
	t.Helper()
	code, r := apiGet(t, base, "/api/v1/query", url.Values{"query": {`{__name__=~".+"}[30m]`}, "time": {fmt.Sprint(at.Unix())}})
	if code != 200 {
		t.Fatalf("%s: %d %s", base, code, r.Error)
	}
	var d struct {
		Result []struct {
			Metric map[string]string `json:"metric"`
			Values [][2]any          `json:"values"`
		} `json:"result"`
	}
	if err := json.Unmarshal(r.Data, &d); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, s := range d.Result {
		ls := toLabelSet(s.Metric).String()
		for _, v := range s.Values {
			ms := int64(math.Round(v[0].(float64) * 1000))
			out = append(out, fmt.Sprintf("%s@%d=%v", ls, ms, v[1]))
		}
	}
	sort.Strings(out)
	return out
}

// vmExport returns VictoriaMetrics's raw samples in the same form.
func vmExport(t *testing.T, base, match string) []string {
	t.Helper()
	// The export's default end is now; the test data reaches into the
	// near future.
	resp, err := http.Get(base + "/api/v1/export?" + url.Values{"match[]": {match}, "start": {"0"},
		"end": {fmt.Sprint(time.Now().Add(2 * time.Hour).Unix())}}.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out []string
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 64<<20)
	for sc.Scan() {
		var line struct {
			Metric     map[string]string `json:"metric"`
			Values     []json.Number     `json:"values"`
			Timestamps []int64           `json:"timestamps"`
		}
		if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
			t.Fatalf("export: %v in %s", err, sc.Bytes())
		}
		ls := toLabelSet(line.Metric).String()
		for i, v := range line.Values {
			out = append(out, fmt.Sprintf("%s@%d=%v", ls, line.Timestamps[i], canonicalNumber(string(v))))
		}
	}
	sort.Strings(out)
	return out
}

// cutValue splits "series@ms=value" at the last "=".
func cutValue(s string) (string, string, bool) {
	i := strings.LastIndexByte(s, '=')
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+1:], true
}

func parseFloat(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return f
}

// canonicalNumber formats a JSON number as Prometheus's API does.
func canonicalNumber(s string) string {
	var f float64
	if _, err := fmt.Sscan(s, &f); err != nil {
		return s
	}
	return formatFloat(f)
}

func formatFloat(f float64) string {
	switch {
	case math.IsInf(f, 1):
		return "+Inf"
	case math.IsInf(f, -1):
		return "-Inf"
	case math.IsNaN(f):
		return "NaN"
	}
	return strconv.FormatFloat(f, 'f', -1, 64)
}

func TestRemoteWriteToPrometheusAndVictoriaMetrics(t *testing.T) {
	prom := startPrometheus(t)
	vm := startVictoriaMetrics(t)
	reg := prometheus.NewRegistry()
	st := open(t, cstorage.Options{Path: t.TempDir(), MaxFuture: time.Hour, // the dataset is in the near future (see appendDataset)
		Registerer: reg, RemoteWrite: []*promconfig.RemoteWriteConfig{
			remoteWrite(t, "prometheus", prom.URL+"/api/v1/write"),
			remoteWrite(t, "vm", vm.URL+"/api/v1/write"),
		}})
	defer st.Close()
	d := appendDataset(t, st)
	local := serveAPI(t, st)

	waitUntil(t, 60*time.Second, "Prometheus to receive every sample", func() (bool, string) {
		n := len(rawSamples(t, prom.URL, d.end()))
		return n >= d.samples, fmt.Sprintf("%d of %d samples", n, d.samples)
	})
	waitUntil(t, 60*time.Second, "VictoriaMetrics to receive every sample", func() (bool, string) {
		n := len(vmExport(t, vm.URL, `{__name__=~".+"}`))
		return n >= d.samples, fmt.Sprintf("%d of %d samples", n, d.samples)
	})

	want := rawSamples(t, local, d.end())
	if len(want) != d.samples {
		t.Fatalf("local storage returns %d raw samples, %d were appended", len(want), d.samples)
	}
	if got := rawSamples(t, prom.URL, d.end()); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("Prometheus holds other samples than Copenhagen:\n%s", firstDiff(got, want))
	}
	// VictoriaMetrics holds the same samples; it stores floats as decimals
	// with about 12 significant digits (documented), so values compare
	// with a relative tolerance.
	vmRaw := vmExport(t, vm.URL, `{__name__=~".+"}`)
	if len(vmRaw) != len(want) {
		t.Errorf("VictoriaMetrics holds %d samples, Copenhagen %d:\n%s", len(vmRaw), len(want), firstDiff(vmRaw, want))
	}
	wantByKey := map[string]float64{}
	for _, w := range want {
		k, v, _ := cutValue(w)
		wantByKey[k] = parseFloat(t, v)
	}
	for _, g := range vmRaw {
		k, v, _ := cutValue(g)
		w, ok := wantByKey[k]
		if !ok {
			t.Errorf("VictoriaMetrics has a sample Copenhagen does not: %s", g)
			continue
		}
		if f := parseFloat(t, v); !(f == w || math.Abs(f-w) <= 1e-11*math.Abs(w) || (math.IsNaN(f) && math.IsNaN(w))) {
			t.Errorf("VictoriaMetrics: %s, Copenhagen: %v", g, w)
		}
	}

	// Prometheus's own remote write metrics are on the registry.
	for _, name := range []string{"prometheus_remote_storage_samples_total", "prometheus_remote_storage_samples_failed_total",
		"prometheus_remote_storage_samples_retried_total", "prometheus_remote_storage_highest_timestamp_in_seconds"} {
		if n, err := testutil.GatherAndCount(reg, name); err != nil || n == 0 {
			t.Errorf("%s not registered: %d %v", name, n, err)
		}
	}
	if v := counterSum(t, reg, "prometheus_remote_storage_samples_total"); v != float64(2*d.samples) {
		t.Errorf("prometheus_remote_storage_samples_total = %v, want %d (2 receivers)", v, 2*d.samples)
	}
}

func counterSum(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			if m.Counter != nil {
				sum += m.Counter.GetValue()
			}
		}
	}
	return sum
}

func firstDiff(got, want []string) string {
	gs := map[string]bool{}
	for _, g := range got {
		gs[g] = true
	}
	ws := map[string]bool{}
	for _, w := range want {
		ws[w] = true
	}
	var b strings.Builder
	fmt.Fprintf(&b, "got %d samples, want %d\n", len(got), len(want))
	n := 0
	for _, w := range want {
		if !gs[w] && n < 5 {
			fmt.Fprintf(&b, "missing: %s\n", w)
			n++
		}
	}
	n = 0
	for _, g := range got {
		if !ws[g] && n < 5 {
			fmt.Fprintf(&b, "extra:   %s\n", g)
			n++
		}
	}
	return b.String()
}

// TestRemoteWriteBridgesAnOutage stops VictoriaMetrics for 60 s while
// points keep being appended (two series, every 100 ms), then starts it
// again: every point must arrive, none twice.
func TestRemoteWriteBridgesAnOutage(t *testing.T) {
	if testing.Short() && !storagetest.UnderCI() {
		t.Skip("takes over a minute (the outage the issue asks for)")
	}
	vm := startVictoriaMetrics(t)
	reg := prometheus.NewRegistry()
	st := open(t, cstorage.Options{Path: t.TempDir(), Registerer: reg, RemoteWrite: []*promconfig.RemoteWriteConfig{
		remoteWrite(t, "vm", vm.URL+"/api/v1/write"),
	}})
	defer st.Close()

	var (
		mu      sync.Mutex
		written int
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		lsets := []labels.Labels{
			labels.FromStrings("__name__", "outage_points", "host", "a"),
			labels.FromStrings("__name__", "outage_points", "host", "b"),
		}
		for {
			select {
			case <-stop:
				return
			case now := <-tick.C:
				app := st.Appender(context.Background())
				mu.Lock()
				seq := written
				mu.Unlock()
				for _, ls := range lsets {
					if _, err := app.Append(0, ls, now.UnixMilli(), float64(seq)); err != nil {
						t.Error(err)
						return
					}
				}
				if err := app.Commit(); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				written++
				mu.Unlock()
			}
		}
	}()
	time.Sleep(3 * time.Second)
	vm.Stop()
	t.Log("VictoriaMetrics stopped for 60s")
	time.Sleep(60 * time.Second)
	vm.Start()
	t.Log("VictoriaMetrics started again")
	time.Sleep(3 * time.Second)
	close(stop)
	<-done
	mu.Lock()
	n := written
	mu.Unlock()

	base := vm.URL
	waitUntil(t, 60*time.Second, "every point to reach VictoriaMetrics", func() (bool, string) {
		got := vmExport(t, base, "outage_points")
		return len(got) >= 2*n, fmt.Sprintf("%d of %d samples", len(got), 2*n)
	})
	got := vmExport(t, base, "outage_points")
	seen := map[string]bool{}
	for _, s := range got {
		if seen[s] {
			t.Errorf("sample stored twice: %s", s)
		}
		seen[s] = true
	}
	for _, host := range []string{"a", "b"} {
		values := map[string]bool{}
		for _, s := range got {
			if strings.Contains(s, `host="`+host+`"`) {
				_, v, _ := cutValue(s)
				values[v] = true
			}
		}
		for i := range n {
			if !values[fmt.Sprint(i)] {
				t.Errorf("host %s: point %d missing", host, i)
			}
		}
	}
	if len(got) != 2*n {
		t.Errorf("VictoriaMetrics holds %d samples, %d were appended", len(got), 2*n)
	}
	if v := counterSum(t, reg, "prometheus_remote_storage_samples_retried_total"); v == 0 {
		t.Errorf("no retries counted during a 60s outage")
	}
	t.Logf("%d points per series over a 60s outage, all delivered once; retried %v samples", n, counterSum(t, reg, "prometheus_remote_storage_samples_retried_total"))
}
