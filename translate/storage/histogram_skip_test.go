package storage_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"

	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// histogramReceiver is a remote write endpoint counting what it got.
type histogramReceiver struct {
	mu                  sync.Mutex
	histograms, samples int
}

func (r *histogramReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	wr, err := remote.DecodeWriteRequest(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ts := range wr.Timeseries {
		r.histograms += len(ts.Histograms)
		r.samples += len(ts.Samples)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (r *histogramReceiver) counts() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.histograms, r.samples
}

// TestSkippedHistogramsCounted: a target without send_native_histograms
// has every committed histogram counted under its queue's remote_name
// (the config hash when unnamed, as Prometheus names the queue), whether
// appended through Appender (StatsD, Graphite) or AppenderV2 (rule
// output); rolled back histograms are not counted; a reload that turns
// send_native_histograms on stops the count and the histograms flow.
func TestSkippedHistogramsCounted(t *testing.T) {
	rcv := &histogramReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	rw := remoteWrite(t, "", srv.URL+"/api/v1/write") // unnamed
	reg := prometheus.NewRegistry()
	st := open(t, cstorage.Options{Path: t.TempDir(), Registerer: reg, RemoteWrite: []*promconfig.RemoteWriteConfig{rw}})
	defer st.Close()
	time.Sleep(10 * time.Millisecond) // newer than the WAL watcher's start

	name, err := cstorage.QueueName(rw)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := counterOf(t, reg, "prometheus_remote_storage_shards", map[string]string{"remote_name": name}); !ok {
		t.Fatalf("QueueName = %q, which is not the remote_name of Prometheus's queue metrics", name)
	}
	skipped := func() float64 {
		v, _ := counterOf(t, reg, "copenhagen_remote_write_histograms_skipped_total", map[string]string{"remote_name": name, "reason": cstorage.SkippedNotSent})
		return v
	}
	h := nativeHistogram(t, timerStep)
	ls := labels.FromStrings("__name__", "timer_seconds")
	ts := time.Now().UnixMilli()

	app := st.Appender(context.Background())
	for i := range 3 {
		if _, err := app.AppendHistogram(0, ls, ts+int64(i), h, nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := app.Append(0, labels.FromStrings("__name__", "floats"), ts, 1); err != nil {
		t.Fatal(err)
	}
	if skipped() != 0 {
		t.Errorf("counted before the commit")
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := skipped(); got != 3 {
		t.Errorf("after a commit of 3 histograms: skipped = %v, want 3", got)
	}

	app = st.Appender(context.Background())
	if _, err := app.AppendHistogram(0, ls, ts+10, h, nil); err != nil {
		t.Fatal(err)
	}
	if err := app.Rollback(); err != nil {
		t.Fatal(err)
	}
	// Refused (out of order, no window): not stored, not counted as skipped.
	app = st.Appender(context.Background())
	if _, err := app.AppendHistogram(0, ls, ts-time.Hour.Milliseconds(), h, nil); err == nil {
		t.Fatal("an out-of-order histogram was accepted")
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := skipped(); got != 3 {
		t.Errorf("after a rollback and a refusal: skipped = %v, want 3", got)
	}

	app2 := st.AppenderV2(context.Background())
	if _, err := app2.Append(0, labels.FromStrings("__name__", "recorded_seconds"), 0, ts, 0, nil, h.ToFloat(nil), storage.AOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := app2.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := skipped(); got != 4 {
		t.Errorf("after a rule's histogram through AppenderV2: skipped = %v, want 4", got)
	}
	waitUntil(t, 10*time.Second, "the float sample", func() (bool, string) {
		_, s := rcv.counts()
		return s == 1, itoa(s)
	})
	if n, _ := rcv.counts(); n != 0 {
		t.Errorf("the receiver got %d histograms from a target without send_native_histograms", n)
	}

	// Reload with send_native_histograms: the new queue sends, the count stops.
	rw2 := remoteWrite(t, "", srv.URL+"/api/v1/write")
	rw2.SendNativeHistograms = true
	if err := st.ApplyRemoteWrite([]*promconfig.RemoteWriteConfig{rw2}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(10 * time.Millisecond)
	app = st.Appender(context.Background())
	if _, err := app.AppendHistogram(0, ls, time.Now().UnixMilli()+100, h, nil); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the histogram after the reload", func() (bool, string) {
		n, _ := rcv.counts()
		return n == 1, itoa(n)
	})
	if got := skipped(); got != 4 {
		t.Errorf("after the reload: skipped = %v, want still 4", got)
	}
}
