package lokipush

import (
	"context"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/s2"
	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
)

// fakeLoki decodes pushes and answers with the codes in script, then 204.
type fakeLoki struct {
	mu      sync.Mutex
	script  []int
	reqs    []push.PushRequest
	headers []http.Header
}

func (f *fakeLoki) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	raw, err := s2.Decode(nil, body)
	if err != nil {
		http.Error(w, "bad snappy", 500)
		return
	}
	var req push.PushRequest
	if err := req.Unmarshal(raw); err != nil {
		http.Error(w, "bad proto", 500)
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	code := 204
	if len(f.script) > 0 {
		code, f.script = f.script[0], f.script[1:]
	}
	if code == 204 || code == 400 {
		f.reqs = append(f.reqs, req)
		f.headers = append(f.headers, r.Header.Clone())
	}
	w.WriteHeader(code)
}

// requests is how many pushes were stored; header is the i-th one's
// headers. The server's goroutines append while tests read: always under
// the lock.
func (f *fakeLoki) requests() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.reqs)
}

func (f *fakeLoki) header(i int) http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i >= len(f.headers) {
		return http.Header{}
	}
	return f.headers[i]
}

func (f *fakeLoki) lines() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, r := range f.reqs {
		for _, s := range r.Streams {
			for _, e := range s.Entries {
				out = append(out, s.Labels+" "+e.Line)
			}
		}
	}
	return out
}

type recAck struct {
	mu   sync.Mutex
	offs []int64
}

func (a *recAck) Acked(o int64) { a.mu.Lock(); a.offs = append(a.offs, o); a.mu.Unlock() }
func (a *recAck) acks() []int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]int64(nil), a.offs...)
}

func (a *recAck) last() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.offs) == 0 {
		return -1
	}
	return a.offs[len(a.offs)-1]
}

func newTest(t *testing.T, f *fakeLoki, mod func(*Config)) (*Pusher, *prometheus.Registry) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	cfg := Config{URL: srv.URL + "/loki/api/v1/push", BatchWait: 50 * time.Millisecond, MinBackoff: 10 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	reg := prometheus.NewRegistry()
	p, err := New(cfg, reg)
	if err != nil {
		t.Fatal(err)
	}
	return p, reg
}

func TestPushDeliversAndAcknowledgesInOrder(t *testing.T) {
	f := &fakeLoki{}
	p, reg := newTest(t, f, func(c *Config) { c.TenantID = "team-a"; c.BatchSize = 100 })
	a, b := &recAck{}, &recAck{}
	for i := range 20 {
		ack, labels := a, `{app="a"}`
		if i%2 == 1 {
			ack, labels = b, `{app="b"}`
		}
		if err := p.Push(context.Background(), Entry{Labels: labels, Time: time.Unix(1, int64(i)), Line: "line" + string(rune('a'+i)), Ack: ack, Offset: int64(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if got := len(f.lines()); got != 20 {
		t.Fatalf("server got %d lines, want 20", got)
	}
	if n := f.requests(); n < 2 {
		t.Errorf("BatchSize 100 should split 20 entries into several requests, got %d", n)
	}
	if a.last() != 18 || b.last() != 19 {
		t.Errorf("last acks %d %d, want 18 19", a.last(), b.last())
	}
	offs := a.acks()
	for i := 1; i < len(offs); i++ {
		if offs[i] <= offs[i-1] {
			t.Errorf("acks out of order: %v", offs)
		}
	}
	if h := f.header(0).Get("X-Scope-OrgID"); h != "team-a" {
		t.Errorf("tenant header %q", h)
	}
	if h := f.header(0).Get("Content-Type"); h != "application/x-protobuf" {
		t.Errorf("content type %q", h)
	}
	if v := metricSum(t, reg, "copenhagen_loki_entries_sent_total"); v != 20 {
		t.Errorf("entries_sent %v", v)
	}
}

// metricSum is the sum of a metric's series in reg.
func metricSum(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.Metric {
				sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return sum
}

func TestRetriesTransientErrorsWithoutLosingOrAckingEarly(t *testing.T) {
	f := &fakeLoki{script: []int{429, 503, 500}}
	p, _ := newTest(t, f, nil)
	a := &recAck{}
	_ = p.Push(context.Background(), Entry{Labels: `{a="1"}`, Line: "x", Ack: a, Offset: 7})
	deadline := time.Now().Add(5 * time.Second)
	for a.last() != 7 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if a.last() != 7 {
		t.Fatal("entry never acknowledged after transient errors")
	}
	// At most once: count after Close, when no retry can still be on its
	// way, not at the first moment the count looked right.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(f.lines()); n != 1 {
		t.Errorf("stored %d copies, want 1", n)
	}
}

func TestBadRequestIsNotResent(t *testing.T) {
	f := &fakeLoki{script: []int{400}}
	p, reg := newTest(t, f, nil)
	a := &recAck{}
	_ = p.Push(context.Background(), Entry{Labels: `{a="1"}`, Line: "too old", Ack: a, Offset: 3})
	p.Close()
	if n := f.requests(); n != 1 {
		t.Errorf("a 400 batch was sent %d times, want once", n)
	}
	if a.last() != 3 {
		t.Errorf("a 400 must move the position on (partial success), ack %d", a.last())
	}
	if v := metricSum(t, reg, "copenhagen_loki_entries_dropped_total"); v != 1 {
		t.Errorf("dropped %v, want 1", v)
	}
}

func TestLongLines(t *testing.T) {
	for _, drop := range []bool{false, true} {
		f := &fakeLoki{}
		p, reg := newTest(t, f, func(c *Config) { c.MaxLineSize = 30; c.DropLongLines = drop })
		a := &recAck{}
		_ = p.Push(context.Background(), Entry{Labels: `{a="1"}`, Line: strings.Repeat("é", 40), Ack: a, Offset: 1})
		_ = p.Push(context.Background(), Entry{Labels: `{a="1"}`, Line: "short", Ack: a, Offset: 2})
		p.Close()
		lines := f.lines()
		if a.last() != 2 {
			t.Errorf("drop=%v: ack %d, want 2", drop, a.last())
		}
		if drop {
			if len(lines) != 1 || metricSum(t, reg, "copenhagen_loki_entries_dropped_total") != 1 {
				t.Errorf("drop: lines %q", lines)
			}
			continue
		}
		if len(lines) != 2 || !strings.HasSuffix(lines[0], TruncatedMarker) || len(lines[0])-len(`{a="1"} `) > 30 {
			t.Errorf("truncate: lines %q", lines)
		}
		if metricSum(t, reg, "copenhagen_loki_lines_truncated_total") != 1 {
			t.Error("truncation not counted")
		}
	}
}

func TestPushBlocksWhileServerDownAndResumes(t *testing.T) {
	var up atomic.Bool
	f := &fakeLoki{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !up.Load() {
			w.WriteHeader(503)
			return
		}
		f.ServeHTTP(w, r)
	}))
	defer srv.Close()
	p, err := New(Config{URL: srv.URL, BatchSize: 100, MaxBuffer: 200, BatchWait: 10 * time.Millisecond, MinBackoff: 5 * time.Millisecond, MaxBackoff: 10 * time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pushed := make(chan int, 100)
	go func() {
		for i := range 50 {
			_ = p.Push(context.Background(), Entry{Labels: `{a="1"}`, Line: "0123456789", Offset: int64(i)})
			pushed <- i
		}
		close(pushed)
	}()
	time.Sleep(200 * time.Millisecond)
	if n := len(pushed); n >= 20 {
		t.Fatalf("%d entries accepted while the server is down; the buffer should have blocked Push", n)
	}
	up.Store(true)
	for range pushed {
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(f.lines()); n != 50 {
		t.Errorf("got %d lines, want 50", n)
	}
}

func TestAuthFromFiles(t *testing.T) {
	dir := t.TempDir()
	tok := filepath.Join(dir, "token")
	os.WriteFile(tok, []byte("s3cret\n"), 0o600)
	f := &fakeLoki{}
	p, _ := newTest(t, f, func(c *Config) {
		c.HTTPClient = commoncfg.DefaultHTTPClientConfig
		c.HTTPClient.Authorization = &commoncfg.Authorization{Type: "Bearer", CredentialsFile: tok}
	})
	_ = p.Push(context.Background(), Entry{Labels: `{a="1"}`, Line: "x"})
	p.Close()
	if got := f.header(0).Get("Authorization"); got != "Bearer s3cret" {
		t.Errorf("Authorization %q", got)
	}
	pw := filepath.Join(dir, "pw")
	os.WriteFile(pw, []byte("hunter2\n"), 0o600)
	f = &fakeLoki{}
	p, _ = newTest(t, f, func(c *Config) {
		c.HTTPClient = commoncfg.DefaultHTTPClientConfig
		c.HTTPClient.BasicAuth = &commoncfg.BasicAuth{Username: "u", PasswordFile: pw}
	})
	_ = p.Push(context.Background(), Entry{Labels: `{a="1"}`, Line: "x"})
	p.Close()
	req := http.Request{Header: f.header(0)}
	if u, pass, ok := req.BasicAuth(); !ok || u != "u" || pass != "hunter2" {
		t.Errorf("basic auth %q %q %v", u, pass, ok)
	}
}

func TestCloseGivesUpWithoutAcking(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	p, _ := New(Config{URL: srv.URL, ShutdownTimeout: 100 * time.Millisecond, MinBackoff: 10 * time.Millisecond}, nil)
	a := &recAck{}
	_ = p.Push(context.Background(), Entry{Labels: `{a="1"}`, Line: "x", Ack: a, Offset: 1})
	if err := p.Close(); err == nil {
		t.Error("Close should report unsent entries")
	}
	if a.last() != -1 {
		t.Error("an unsent entry was acknowledged")
	}
}

func BenchmarkEncode(b *testing.B) {
	p := &Pusher{streams: map[string]int{}}
	batch := make([]Entry, 5000)
	r := rand.New(rand.NewSource(1))
	md := push.LabelsAdapter{{Name: "pod", Value: "api-7d4b9c8f6d-x2x9k"}, {Name: "pod_uid", Value: "0f6e4c1a-11"}}
	size := 0
	for i := range batch {
		line := fmt.Sprintf("10.0.%d.%d - - \"GET /api/v1/items/%d HTTP/1.1\" 200 %d %dms level=info request_id=%016x", r.Intn(255), r.Intn(255), r.Intn(1e6), r.Intn(50000), r.Intn(500), r.Uint64())
		size += len(line)
		batch[i] = Entry{Labels: fmt.Sprintf(`{app="api%d",namespace="prod",stream="stdout"}`, i%20), Time: time.Unix(1795000000, int64(i)), Line: line, Metadata: md}
	}
	b.ReportAllocs()
	b.SetBytes(int64(size))
	for b.Loop() {
		p.encode(batch)
	}
}

func TestPushReturnsWhenContextEnds(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(503) }))
	defer srv.Close()
	p, _ := New(Config{URL: srv.URL, BatchSize: 10, MaxBuffer: 10, ShutdownTimeout: 50 * time.Millisecond, MinBackoff: 10 * time.Millisecond}, nil)
	defer p.Close()
	if err := p.Push(context.Background(), Entry{Labels: `{a="1"}`, Line: "first"}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	if err := p.Push(ctx, Entry{Labels: `{a="1"}`, Line: "second"}); err == nil {
		t.Fatal("Push into a full buffer returned nil while the server is down")
	}
	if time.Since(start) > 2*time.Second {
		t.Error("Push did not return soon after its context ended")
	}
}

// Shutdown gives up when its context ends, even with loki.shutdown_timeout
// longer and a request hanging on a Loki that never answers: the shared
// shutdown budget bounds it. Nothing unsent is acknowledged.
func TestShutdownWithinContext(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	p, err := New(Config{URL: srv.URL, ShutdownTimeout: time.Hour, Timeout: time.Hour, BatchWait: time.Millisecond}, nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &recAck{}
	_ = p.Push(context.Background(), Entry{Labels: `{a="1"}`, Line: "x", Ack: a, Offset: 1})
	time.Sleep(50 * time.Millisecond) // the request is in flight
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- p.Shutdown(ctx) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "gave up") || !strings.Contains(err.Error(), "read again at the next start") {
			t.Errorf("Shutdown = %v, want a give-up error saying what happens to the entries", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Shutdown ignored its context")
	}
	if a.last() != -1 {
		t.Error("an unsent entry was acknowledged")
	}
}
