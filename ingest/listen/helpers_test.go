package listen

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// recorder collects what every handler it created received.
type recorder struct {
	mu       sync.Mutex
	got      [][]byte
	flushes  int
	handlers int
	notify   chan struct{}
}

func newRecorder() *recorder { return &recorder{notify: make(chan struct{}, 1)} }

type recordingHandler struct {
	r       *recorder
	pending [][]byte
}

// Handle keeps a copy locally, as a real handler keeps local state; the
// copies only become visible at Flush, so a missing Flush fails the tests.
func (h *recordingHandler) Handle(b []byte) {
	h.pending = append(h.pending, append([]byte(nil), b...))
}

func (h *recordingHandler) Flush() {
	h.r.mu.Lock()
	h.r.got = append(h.r.got, h.pending...)
	h.r.flushes++
	h.r.mu.Unlock()
	h.pending = h.pending[:0]
	select {
	case h.r.notify <- struct{}{}:
	default:
	}
}

func (r *recorder) newHandler() Handler {
	r.mu.Lock()
	r.handlers++
	r.mu.Unlock()
	return &recordingHandler{r: r}
}

func (r *recorder) snapshot() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.got...)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// server is what the three listeners have in common.
type server interface {
	Serve(ctx context.Context) error
	Close() error
}

// serve runs s until the test ends and checks that Serve returned nil.
func serve(t *testing.T, s server) {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background()) }()
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("Serve did not return after Close")
		}
	})
}

// metricValue returns the value of the series name{labels} gathered from
// reg, and whether it exists.
func metricValue(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) (float64, bool) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	metrics:
		for _, m := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range m.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue metrics
				}
			}
			return value(m), true
		}
	}
	return 0, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}
