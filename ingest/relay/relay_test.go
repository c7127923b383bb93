package relay

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func TestPack(t *testing.T) {
	long := strings.Repeat("l", 30)
	tests := []struct {
		name string
		in   string
		max  int
		want []string
	}{
		{"lines that fit together", "a:1|c\nb:2|c\n", 20, []string{"a:1|c\nb:2|c"}},
		{"exactly max", "a:1|c\nb:2|c\n", 11, []string{"a:1|c\nb:2|c"}},
		{"one byte over max splits between lines", "a:1|c\nb:2|c\n", 10, []string{"a:1|c", "b:2|c"}},
		{"long line goes alone", "a\n" + long + "\nb\n", 10, []string{"a", long, "b"}},
		{"long line first", long + "\na\nb\n", 10, []string{long, "a\nb"}},
		{"empty lines left out", "\na\n\n\nb\n\n", 10, []string{"a", "b"}},
		{"only empty lines", "\n\n", 10, nil},
		{"last line without newline", "a\nb", 10, []string{"a\nb"}},
		{"many lines", "aa\nbb\ncc\ndd\nee\n", 5, []string{"aa\nbb", "cc\ndd", "ee"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			pack([]byte(tt.in), tt.max, func(d []byte, lines int) {
				got = append(got, string(d))
				if want := strings.Count(string(d), "\n") + 1; lines != want {
					t.Errorf("datagram %q: %d lines reported, holds %d", d, lines, want)
				}
			})
			if !slices.Equal(got, tt.want) {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

// receiver is a legacy daemon: it records every line it receives.
type receiver struct {
	conn      *net.UDPConn
	mu        sync.Mutex
	lines     []string
	datagrams []int // sizes
}

func newReceiver(t *testing.T) *receiver {
	t.Helper()
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	c.SetReadBuffer(8 << 20)
	r := &receiver{conn: c}
	go func() {
		buf := make([]byte, 65536)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			r.mu.Lock()
			r.datagrams = append(r.datagrams, n)
			r.lines = append(r.lines, strings.Split(string(buf[:n]), "\n")...)
			r.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close() })
	return r
}

func (r *receiver) addr() string { return r.conn.LocalAddr().String() }

func (r *receiver) snapshot() ([]string, []int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.lines), slices.Clone(r.datagrams)
}

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

func TestRelayForwardsEveryLineUnchanged(t *testing.T) {
	reg := prometheus.NewRegistry()
	a, b := newReceiver(t), newReceiver(t)
	r, err := New([]string{a.addr(), "udp://" + b.addr()}, Options{Logger: quiet}, reg)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := range 300 {
		var block []string
		for j := range 1 + i%40 {
			block = append(block, fmt.Sprintf("app.%d.requests:%d|c|@0.5|#env:prod,route:r%d", i, j, j))
		}
		if i == 100 {
			// Bigger than a datagram: it must arrive alone and whole.
			block = append(block, "big:"+strings.Repeat("9", 3000)+"|g")
		}
		want = append(want, block...)
		data := strings.Join(block, "\n")
		if i%2 == 0 {
			data += "\n" // with or without a final newline, as clients send
		}
		r.Send([]byte(data))
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	for _, rc := range []*receiver{a, b} {
		waitFor(t, "every line at "+rc.addr(), func() bool { l, _ := rc.snapshot(); return len(l) >= len(want) })
		got, sizes := rc.snapshot()
		if !slices.Equal(got, want) {
			t.Fatalf("%s received %d lines that differ from the %d sent", rc.addr(), len(got), len(want))
		}
		for _, n := range sizes {
			if n > DefaultMaxDatagramSize && n != len("big:")+3000+len("|g") {
				t.Errorf("datagram of %d bytes exceeds %d", n, DefaultMaxDatagramSize)
			}
		}
		if v := testutil.ToFloat64(mustCounter(t, reg, "copenhagen_relay_lines_sent_total", rc.addr())); v != float64(len(want)) {
			t.Errorf("lines_sent_total{target=%s} = %v, want %d", rc.addr(), v, len(want))
		}
	}
}

// mustCounter finds the relay counter of a target, whichever spelling of
// the target was configured.
func mustCounter(t *testing.T, reg *prometheus.Registry, name, addr string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "target" && strings.HasSuffix(l.GetValue(), addr) {
					return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "x", Help: "x"}, m.GetCounter().GetValue)
				}
			}
		}
	}
	t.Fatalf("%s{target=%s} not found", name, addr)
	return nil
}

// stuckTransport blocks its first send until released, as a sender stuck
// on a slow network would.
type stuckTransport struct {
	release chan struct{}
	mu      sync.Mutex
	got     bytes.Buffer
}

func (s *stuckTransport) send(buf []byte) sendResult {
	<-s.release
	s.mu.Lock()
	s.got.Write(buf)
	s.mu.Unlock()
	return sendResult{sent: countLines(buf)}
}

func (s *stuckTransport) close() error { return nil }

func TestRelayFullQueueDropsInsteadOfBlocking(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := newMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	st := &stuckTransport{release: make(chan struct{})}
	tg := newTarget("stuck:8125", st, Options{QueueSize: 100, Logger: quiet}, m)
	go tg.run()
	r := &Relay{targets: []*target{tg}}

	line := []byte("0123456789:1|c\n") // 15 bytes
	r.Send(line)
	// Wait until the sender holds the first line and is stuck with it.
	waitFor(t, "the sender to take the first line", func() bool {
		tg.mu.Lock()
		defer tg.mu.Unlock()
		return len(tg.pending) == 0
	})
	done := make(chan struct{})
	go func() {
		for range 100 {
			r.Send(line)
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Send blocked on a full queue")
	}
	// 100 bytes of queue hold 6 lines of 15 bytes; the other 94 are dropped.
	if v := testutil.ToFloat64(m.dropped.WithLabelValues("stuck:8125", ReasonQueueFull)); v != 94 {
		t.Errorf("dropped_total{reason=queue_full} = %v, want 94", v)
	}
	close(st.release)
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(st.got.String(), "\n"); got != 7 {
		t.Errorf("delivered %d lines, want the 7 that were queued", got)
	}
	if v := testutil.ToFloat64(m.sent.WithLabelValues("stuck:8125")); v != 7 {
		t.Errorf("lines_sent_total = %v, want 7", v)
	}
	r.Send(line)
	if v := testutil.ToFloat64(m.dropped.WithLabelValues("stuck:8125", ReasonClosed)); v != 1 {
		t.Errorf("dropped_total{reason=closed} = %v, want 1", v)
	}
}

func TestRelayCountsSendErrors(t *testing.T) {
	// A port nobody listens on: the kernel answers "port unreachable" and
	// the connected socket reports it.
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	addr := c.LocalAddr().String()
	c.Close()

	reg := prometheus.NewRegistry()
	r, err := New([]string{addr}, Options{Logger: quiet}, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	tg := r.targets[0]
	waitFor(t, "a send failure", func() bool {
		r.Send([]byte("a:1|c\nb:1|c"))
		time.Sleep(time.Millisecond)
		return testutil.ToFloat64(tg.failures) > 0
	})
	if v := testutil.ToFloat64(tg.droppedSend); v < 1 {
		t.Errorf("dropped_total{reason=send_error} = %v, want the lost lines", v)
	}
}

func TestNewRejectsBadTargets(t *testing.T) {
	for _, targets := range [][]string{
		{"localhost"},
		{"localhost:0"},
		{"localhost:http"},
		{":8125"},
		{"tcp://localhost:2003"},
		{"localhost:8125", "localhost:8125"},
	} {
		if r, err := New(targets, Options{Logger: quiet}, nil); err == nil {
			r.Close()
			t.Errorf("New(%q) accepted", targets)
		}
	}
	r, err := New([]string{"[::1]:8125", "udp://statsd.legacy.example:8125"}, Options{Logger: quiet}, nil)
	if err != nil {
		t.Fatalf("valid targets rejected: %v", err)
	}
	r.Close()
}

func BenchmarkSend(b *testing.B) {
	c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	go func() {
		buf := make([]byte, 65536)
		for {
			if _, err := c.Read(buf); err != nil {
				return
			}
		}
	}()
	r, err := New([]string{c.LocalAddr().String()}, Options{Logger: quiet}, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var d []byte
	for len(d) < 1380 {
		d = fmt.Appendf(d, "bench.name_%d:1|c\n", len(d)%1000)
	}
	b.SetBytes(int64(len(d)))
	b.ReportAllocs()
	for b.Loop() {
		r.Send(d)
	}
	// The benchmark offers more than the sender can write: say how much of
	// it was dropped rather than sent.
	b.ReportMetric(testutil.ToFloat64(r.targets[0].droppedFull)/float64(b.N), "dropped/op")
}
