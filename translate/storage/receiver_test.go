package storage_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage/remote"

	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// receiver is a remote write endpoint that answers with the given status
// codes in turn (the last one repeats) and records what it accepted.
type receiver struct {
	mu       sync.Mutex
	statuses []int
	calls    int
	samples  map[int64]float64 // timestamp -> value, accepted only
	auth     []string
}

func (r *receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	wr, err := remote.DecodeWriteRequest(req.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.auth = append(r.auth, req.Header.Get("Authorization"))
	status := r.statuses[min(r.calls, len(r.statuses)-1)]
	r.calls++
	if status != http.StatusNoContent {
		http.Error(w, "test says no", status)
		return
	}
	for _, ts := range wr.Timeseries {
		for _, s := range ts.Samples {
			r.samples[s.Timestamp] = s.Value
		}
	}
	w.WriteHeader(status)
}

func (r *receiver) accepted() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.samples)
}

// TestRemoteWriteRetriesAndRefusals checks the delivery rules users rely
// on, in both storage modes: 5xx and 429 are retried until the receiver
// takes the batch, other 4xx are not retried and are counted in
// prometheus_remote_storage_samples_failed_total; the bearer token comes
// from its file and never reaches the log.
func TestRemoteWriteRetriesAndRefusals(t *testing.T) {
	tests := []struct {
		name       string
		statuses   []int
		wantStored bool
		wantFailed bool
		wantRetry  bool
	}{
		{"500 then ok", []int{500, 503, 204}, true, false, true},
		{"429 then ok", []int{429, 429, 204}, true, false, true},
		{"400 is final", []int{400, 204}, false, true, false},
		{"ok", []int{204}, true, false, false},
	}
	for _, mode := range []string{cstorage.ModeServer, cstorage.ModeAgent} {
		for _, tt := range tests {
			t.Run(mode+"/"+tt.name, func(t *testing.T) {
				rcv := &receiver{statuses: tt.statuses, samples: map[int64]float64{}}
				srv := httptest.NewServer(rcv)
				defer srv.Close()
				dir := t.TempDir()
				token := filepath.Join(dir, "token")
				if err := os.WriteFile(token, []byte("s3cr3t-token\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				rw := remoteWrite(t, "rcv", srv.URL+"/api/v1/write")
				rw.HTTPClientConfig.Authorization = &commoncfg.Authorization{Type: "Bearer", CredentialsFile: token}
				var logs bytes.Buffer
				var logMu sync.Mutex
				logger := slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &logMu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
				reg := prometheus.NewRegistry()
				st := open(t, cstorage.Options{Path: filepath.Join(dir, "data"), Mode: mode, Registerer: reg, Logger: logger,
					RemoteWrite: []*promconfig.RemoteWriteConfig{rw}})
				defer st.Close()

				// Samples must be newer than the WAL watcher's start.
				time.Sleep(10 * time.Millisecond)
				now := time.Now()
				app := st.Appender(context.Background())
				for i := range 10 {
					if _, err := app.Append(0, labels.FromStrings("__name__", "x"), now.Add(time.Duration(i)*time.Millisecond).UnixMilli(), float64(i)); err != nil {
						t.Fatal(err)
					}
				}
				if err := app.Commit(); err != nil {
					t.Fatal(err)
				}
				waitUntil(t, 30*time.Second, "the queue to settle", func() (bool, string) {
					sent := counterSum(t, reg, "prometheus_remote_storage_samples_total")
					failed := counterSum(t, reg, "prometheus_remote_storage_samples_failed_total")
					if tt.wantStored {
						return rcv.accepted() == 10, "accepted " + itoa(rcv.accepted())
					}
					return failed == 10 && sent == 10, "failed " + ftoa(failed)
				})
				if tt.wantStored && rcv.accepted() != 10 {
					t.Errorf("receiver has %d samples, want 10", rcv.accepted())
				}
				if !tt.wantStored {
					// Give a wrong retry time to happen, then check none did.
					time.Sleep(500 * time.Millisecond)
					if rcv.accepted() != 0 {
						t.Errorf("a batch refused with 400 was sent again and stored")
					}
				}
				retried := counterSum(t, reg, "prometheus_remote_storage_samples_retried_total")
				if tt.wantRetry != (retried > 0) {
					t.Errorf("samples_retried_total = %v, want retries: %v", retried, tt.wantRetry)
				}
				if failed := counterSum(t, reg, "prometheus_remote_storage_samples_failed_total"); tt.wantFailed != (failed > 0) {
					t.Errorf("samples_failed_total = %v, want failures: %v", failed, tt.wantFailed)
				}
				rcv.mu.Lock()
				for _, a := range rcv.auth {
					if a != "Bearer s3cr3t-token" {
						t.Errorf("Authorization = %q, want the token from the file", a)
					}
				}
				rcv.mu.Unlock()
				_ = st.Close()
				logMu.Lock()
				defer logMu.Unlock()
				if bytes.Contains(logs.Bytes(), []byte("s3cr3t")) {
					t.Errorf("the token reached the log:\n%s", logs.String())
				}
			})
		}
	}
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func itoa(i int) string     { return formatFloat(float64(i)) }
func ftoa(f float64) string { return formatFloat(f) }
