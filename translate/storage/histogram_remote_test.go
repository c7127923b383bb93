package storage_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"math"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"

	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
)

// nearFuture is where remote write tests put their data: remote write
// sends nothing older than the start of its WAL watcher.
func nearFuture() time.Time { return time.Now().Truncate(time.Minute).Add(2 * time.Minute) }

// counterOf returns the value of the counter name whose labels include
// every pair of want, and whether there is one.
func counterOf(t *testing.T, g prometheus.Gatherer, name string, want map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.Metric {
			for k, v := range want {
				if labelValue(m, k) != v {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true
			}
		}
	}
	return 0, false
}

func labelValue(m *dto.Metric, name string) string {
	for _, l := range m.Label {
		if l.GetName() == name {
			return l.GetValue()
		}
	}
	return ""
}

// scalarAt evaluates a PromQL expression that yields one sample and
// returns its value.
func scalarAt(t *testing.T, base, query string, at time.Time) float64 {
	t.Helper()
	v := instant(t, base, query, at)
	if len(v) != 1 {
		t.Fatalf("%s at %v on %s: %d results, want 1: %v", query, at, base, len(v), v)
	}
	for _, s := range v {
		return parseFloatT(t, s)
	}
	return 0
}

func near(got, want float64) bool {
	return got == want || math.Abs(got-want) <= 1e-9*math.Abs(want)
}

// TestNativeHistogramsRemoteWriteToPrometheus ships native histograms,
// with send_native_histograms, to a real Prometheus 2.42 receiver with
// native histograms enabled, from the embedded TSDB's WAL (server mode) and
// from the agent WAL (agent mode): every histogram that arrives is the one
// appended (count, sum, every bucket with its bounds), none is missing,
// and Prometheus's own histogram functions over them give the values of
// the observations.
func TestNativeHistogramsRemoteWriteToPrometheus(t *testing.T) {
	for _, mode := range []string{cstorage.ModeServer, cstorage.ModeAgent} {
		t.Run(mode, func(t *testing.T) {
			prom := storagetest.StartPrometheus(t, "--enable-feature=native-histograms")
			reg := prometheus.NewRegistry()
			rw := remoteWrite(t, "prometheus", prom.URL+"/api/v1/write")
			rw.SendNativeHistograms = true
			st := open(t, cstorage.Options{Mode: mode, Path: t.TempDir(), MaxFuture: time.Hour, Registerer: reg,
				RemoteWrite: []*promconfig.RemoteWriteConfig{rw}})
			defer st.Close()
			d := appendHistograms(t, st, nearFuture(), 20)

			waitUntil(t, 60*time.Second, "Prometheus to receive every histogram", func() (bool, string) {
				n := len(rawHistograms(t, prom.URL, "request_duration_seconds", d.end()))
				return n >= len(d.want), fmt.Sprintf("%d of %d histograms", n, len(d.want))
			})
			compareHistograms(t, "Prometheus 2.42", rawHistograms(t, prom.URL, "request_duration_seconds", d.end()), d.want)
			if n := len(rawSamples(t, prom.URL, d.end())); n != d.steps {
				t.Errorf("Prometheus holds %d float samples, want the %d of request_rate_floats", n, d.steps)
			}
			if v, _ := counterOf(t, reg, "prometheus_remote_storage_histograms_total", map[string]string{"remote_name": "prometheus"}); v != float64(len(d.want)) {
				t.Errorf("prometheus_remote_storage_histograms_total = %v, want %d", v, len(d.want))
			}
			if _, ok := counterOf(t, reg, "copenhagen_remote_write_histograms_skipped_total", nil); ok {
				t.Errorf("histograms counted as skipped for a target that takes them")
			}

			// 19 observations at 30 ms and one at 500 ms every 15 s.
			at := d.start.Add(5 * time.Minute)
			sel := `request_duration_seconds{instance="a"}[1m]`
			if got := scalarAt(t, prom.URL, `histogram_count(rate(`+sel+`))`, at); !near(got, 20.0/15) {
				t.Errorf("histogram_count(rate) = %v, want %v", got, 20.0/15)
			}
			if got := scalarAt(t, prom.URL, `histogram_sum(rate(`+sel+`))`, at); !near(got, (19*0.030+0.5)/15) {
				t.Errorf("histogram_sum(rate) = %v, want %v", got, (19*0.030+0.5)/15)
			}
			// Prometheus 2.42 interpolates linearly inside the bucket,
			// Prometheus 3 exponentially: both inside the 30 ms bucket.
			lower, upper := bucketBounds(bucketIndex(0.030))
			p90 := scalarAt(t, prom.URL, `histogram_quantile(0.9, rate(`+sel+`))`, at)
			if !(p90 > lower && p90 <= upper) {
				t.Errorf("histogram_quantile(0.9) = %v, want in the 30 ms bucket (%v, %v]", p90, lower, upper)
			}
			t.Logf("%d histograms received as appended; Prometheus 2.42: p90 of 30 ms = %v (bucket (%v, %v])", len(d.want), p90, lower, upper)
			if mode == cstorage.ModeServer {
				// What Copenhagen's own API answers over the same data.
				local := serveAPI(t, st)
				compareHistograms(t, "Copenhagen", rawHistograms(t, local, "request_duration_seconds", d.end()), d.want)
				if got := scalarAt(t, local, `histogram_quantile(0.9, rate(`+sel+`))`, at); !near(got, wantTimerP90) {
					t.Errorf("Copenhagen: histogram_quantile(0.9) = %v, want %v", got, wantTimerP90)
				}
			}
		})
	}
}

// TestNativeHistogramsToVictoriaMetrics records what VictoriaMetrics
// 1.79.5 does with native histograms in remote write, and that a target
// without send_native_histograms has them counted as skipped. Two queues
// write to one VictoriaMetrics, told apart by extra_label: "send" has
// send_native_histograms, "skip" does not.
//
// Observed: VictoriaMetrics 1.79.5 answers 2xx to a write request with
// native histograms and stores nothing of them (its remote write parser
// predates them and skips the field); the float samples of the same
// requests are stored. Prometheus's queue counts them as sent. Nothing
// on the Copenhagen side can see that loss, which is why
// send_native_histograms defaults to false: then they are counted.
func TestNativeHistogramsToVictoriaMetrics(t *testing.T) {
	vm := startVictoriaMetrics(t)
	reg := prometheus.NewRegistry()
	send := remoteWrite(t, "vm-send", vm.URL+"/api/v1/write?extra_label=queue=send")
	send.SendNativeHistograms = true
	skip := remoteWrite(t, "vm-skip", vm.URL+"/api/v1/write?extra_label=queue=skip")
	var logs bytes.Buffer
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, nil))
	st := open(t, cstorage.Options{Path: t.TempDir(), MaxFuture: time.Hour, Registerer: reg, Logger: logger,
		RemoteWrite: []*promconfig.RemoteWriteConfig{send, skip}})
	defer st.Close()
	d := appendHistograms(t, st, nearFuture(), 8)

	waitUntil(t, 60*time.Second, "both queues to deliver their float samples and vm-send its histograms", func() (bool, string) {
		floats := len(vmExport(t, vm.URL, `request_rate_floats`))
		sent, _ := counterOf(t, reg, "prometheus_remote_storage_histograms_total", map[string]string{"remote_name": "vm-send"})
		pending, _ := counterOf(t, reg, "prometheus_remote_storage_histograms_pending", map[string]string{"remote_name": "vm-send"})
		return floats == 2*d.steps && sent == float64(len(d.want)) && pending == 0,
			fmt.Sprintf("%d floats, %v histograms sent, %v pending", floats, sent, pending)
	})
	for _, q := range []string{"send", "skip"} {
		if n := len(vmExport(t, vm.URL, `request_rate_floats{queue="`+q+`"}`)); n != d.steps {
			t.Errorf("queue %s: VictoriaMetrics holds %d float samples, want %d", q, n, d.steps)
		}
	}
	// Nothing of the histograms, under any name (no _bucket, _count,
	// _sum conversion either).
	if got := vmExport(t, vm.URL, `{__name__=~"request_duration.*"}`); len(got) != 0 {
		t.Errorf("VictoriaMetrics 1.79.5 stored something of the native histograms (the test records that it does not; update the README): %v", got[:min(len(got), 5)])
	}
	if code, r := apiGet(t, vm.URL, "/api/v1/series", url.Values{"match[]": {`{__name__=~"request_duration.*"}`}, "start": {"0"}}); code != 200 || string(r.Data) != "[]" {
		t.Errorf("VictoriaMetrics series of the histograms: %d %s", code, r.Data)
	}
	// VictoriaMetrics took the requests: nothing failed or retried.
	for _, name := range []string{"prometheus_remote_storage_histograms_failed_total", "prometheus_remote_storage_histograms_retried_total",
		"prometheus_remote_storage_samples_failed_total", "prometheus_remote_storage_samples_retried_total"} {
		if v := counterSum(t, reg, name); v != 0 {
			t.Errorf("%s = %v, want 0", name, v)
		}
	}

	// The target without send_native_histograms: every committed
	// histogram counted, under the queue's own remote_name and url labels.
	if v, ok := counterOf(t, reg, "copenhagen_remote_write_histograms_skipped_total", map[string]string{
		"remote_name": "vm-skip", "url": skip.URL.Redacted(), "reason": cstorage.SkippedNotSent}); v != float64(len(d.want)) {
		t.Errorf("skipped for vm-skip = %v (present: %v), want %d", v, ok, len(d.want))
	}
	if _, ok := counterOf(t, reg, "copenhagen_remote_write_histograms_skipped_total", map[string]string{"remote_name": "vm-send"}); ok {
		t.Error("histograms counted as skipped for vm-send, which sends them")
	}
	// Prometheus's queue counts nothing for them: the reason for the
	// counter above.
	if v, _ := counterOf(t, reg, "prometheus_remote_storage_histograms_total", map[string]string{"remote_name": "vm-skip"}); v != 0 {
		t.Errorf("prometheus_remote_storage_histograms_total{vm-skip} = %v, want 0", v)
	}
	// One log line for the 8 commits (rate-limited), naming the target.
	logMu.Lock()
	out := logs.String()
	logMu.Unlock()
	lines := 0
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, "send_native_histograms is false") {
			lines++
			if !strings.Contains(l, "level=WARN") || !strings.Contains(l, "remote_name=vm-skip") {
				t.Errorf("skip log line: %s", l)
			}
		}
	}
	if lines != 1 {
		t.Errorf("%d log lines about skipped histograms, want 1 (rate-limited):\n%s", lines, out)
	}
}

// TestNativeHistogramsStallAPrometheusWithoutTheFeature records why
// send_native_histograms is not on by default: Prometheus 2.42 without
// --enable-feature=native-histograms answers 500 "native histograms are
// disabled" to a request holding one, remote write retries 5xx without
// end, and the float samples queued with them do not arrive either: the
// whole target stops.
func TestNativeHistogramsStallAPrometheusWithoutTheFeature(t *testing.T) {
	prom := startPrometheus(t) // no --enable-feature=native-histograms
	reg := prometheus.NewRegistry()
	rw := remoteWrite(t, "prometheus", prom.URL+"/api/v1/write")
	rw.SendNativeHistograms = true
	rw.QueueConfig.MaxBackoff = model.Duration(200 * time.Millisecond)
	st := open(t, cstorage.Options{Path: t.TempDir(), MaxFuture: time.Hour, Registerer: reg,
		FlushDeadline: time.Second, // the queue never drains
		RemoteWrite:   []*promconfig.RemoteWriteConfig{rw}})
	defer st.Close()
	d := appendHistograms(t, st, nearFuture(), 4)

	waitUntil(t, 30*time.Second, "the queue to retry the refused batch", func() (bool, string) {
		r, _ := counterOf(t, reg, "prometheus_remote_storage_histograms_retried_total", map[string]string{"remote_name": "prometheus"})
		return r >= 5*float64(len(d.want)), fmt.Sprintf("%v histograms retried", r)
	})
	if !strings.Contains(prom.Logs(), "native histograms are disabled") {
		t.Errorf("Prometheus did not log why it refused:\n%s", prom.Logs())
	}
	if n := len(rawSamples(t, prom.URL, d.end())); n != 0 {
		t.Errorf("Prometheus holds %d float samples; the test records that the refused batch holds them back", n)
	}
	if v, _ := counterOf(t, reg, "prometheus_remote_storage_samples_pending", map[string]string{"remote_name": "prometheus"}); v == 0 {
		t.Errorf("no float samples pending behind the refused histograms")
	}
	if v := counterSum(t, reg, "prometheus_remote_storage_histograms_failed_total"); v != 0 {
		t.Errorf("histograms_failed_total = %v: a 500 is retried, never given up", v)
	}
}
