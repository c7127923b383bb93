package listen

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func listenUDPForTest(t *testing.T, cfg UDPConfig, nh NewHandler, reg prometheus.Registerer) *UDP {
	t.Helper()
	if cfg.Name == "" {
		cfg.Name = "test_udp"
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	cfg.Logger = quietLogger
	l, err := ListenUDP(cfg, nh, reg)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func dialUDP(t *testing.T, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestUDPDeliversEveryDatagram(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := newRecorder()
	l := listenUDPForTest(t, UDPConfig{Readers: 2, BatchSize: 8}, rec.newHandler, reg)
	serve(t, l)

	const n = 2000
	var want []string
	var wantBytes int
	// Several client sockets, so that both readers get work.
	conns := []net.Conn{dialUDP(t, l.Addr()), dialUDP(t, l.Addr()), dialUDP(t, l.Addr())}
	for i := range n {
		d := fmt.Sprintf("app.requests.%d:%d|c\napp.latency:%d|ms", i, i, i%100)
		want = append(want, d)
		wantBytes += len(d)
		if _, err := conns[i%len(conns)].Write([]byte(d)); err != nil {
			t.Fatal(err)
		}
		if i%200 == 0 {
			time.Sleep(time.Millisecond) // stay well inside the buffer on a slow machine
		}
	}
	waitFor(t, "all datagrams", func() bool { return len(rec.snapshot()) >= n })

	var got []string
	for _, b := range rec.snapshot() {
		got = append(got, string(b))
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("delivered datagrams differ from the sent ones (got %d, want %d)", len(got), len(want))
	}
	if v, _ := metricValue(t, reg, "copenhagen_listener_datagrams_received_total", map[string]string{"listener": "test_udp"}); v != n {
		t.Errorf("datagrams_received_total = %v, want %d", v, n)
	}
	if v, _ := metricValue(t, reg, "copenhagen_listener_bytes_received_total", map[string]string{"listener": "test_udp"}); v != float64(wantBytes) {
		t.Errorf("bytes_received_total = %v, want %d", v, wantBytes)
	}
	if v, ok := metricValue(t, reg, "copenhagen_listener_dropped_total", map[string]string{"listener": "test_udp", "reason": ReasonDatagramTruncated}); !ok || v != 0 {
		t.Errorf("dropped_total{reason=datagram_truncated} = %v (present %v), want 0 and present", v, ok)
	}
	if rec.handlers != 2 {
		t.Errorf("NewHandler called %d times, want once per reader (2)", rec.handlers)
	}
}

func TestUDPTruncatedDatagramIsDroppedAndCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := newRecorder()
	l := listenUDPForTest(t, UDPConfig{Readers: 1, MaxDatagramSize: 512}, rec.newHandler, reg)
	serve(t, l)
	c := dialUDP(t, l.Addr())

	exact := bytes.Repeat([]byte("e"), 512) // fits exactly: not truncated
	c.Write(bytes.Repeat([]byte("x"), 1000))
	c.Write(exact)
	c.Write([]byte("after:1|c"))
	waitFor(t, "the datagrams after the big one", func() bool { return len(rec.snapshot()) >= 2 })

	got := rec.snapshot()
	if len(got) != 2 || !bytes.Equal(got[0], exact) || string(got[1]) != "after:1|c" {
		t.Fatalf("got %d datagrams %q, want the 512-byte one and after:1|c", len(got), got)
	}
	if v, _ := metricValue(t, reg, "copenhagen_listener_dropped_total", map[string]string{"listener": "test_udp", "reason": ReasonDatagramTruncated}); v != 1 {
		t.Errorf("dropped_total{reason=datagram_truncated} = %v, want 1", v)
	}
	if v, _ := metricValue(t, reg, "copenhagen_listener_datagrams_received_total", map[string]string{"listener": "test_udp"}); v != 3 {
		t.Errorf("datagrams_received_total = %v, want 3", v)
	}
}

// blockingHandler holds the reader until released, as a stalled reader
// (GC, slow flush) would.
type blockingHandler struct {
	started chan struct{}
	release chan struct{}
	once    sync.Once
}

func (h *blockingHandler) Handle([]byte) {
	h.once.Do(func() { close(h.started) })
	<-h.release
}

func TestUDPKernelDropsAreExposed(t *testing.T) {
	reg := prometheus.NewRegistry()
	h := &blockingHandler{started: make(chan struct{}), release: make(chan struct{})}
	// The smallest buffer the kernel allows: a few datagrams overflow it.
	l := listenUDPForTest(t, UDPConfig{Readers: 1, BatchSize: 1, ReceiveBuffer: 4096}, func() Handler { return h }, reg)
	serve(t, l)
	defer close(h.release)

	labels := map[string]string{"listener": "test_udp"}
	if v, ok := metricValue(t, reg, "copenhagen_listener_kernel_drops_total", labels); !ok || v != 0 {
		t.Fatalf("kernel_drops_total of a fresh socket = %v (present %v), want 0", v, ok)
	}
	c := dialUDP(t, l.Addr())
	payload := bytes.Repeat([]byte("y"), 1000)
	c.Write(payload)
	<-h.started
	for range 200 {
		c.Write(payload)
	}
	waitFor(t, "kernel drops", func() bool {
		v, _ := metricValue(t, reg, "copenhagen_listener_kernel_drops_total", labels)
		return v > 0
	})
	if v, ok := metricValue(t, reg, "copenhagen_listener_kernel_receive_queue_bytes", labels); !ok || v == 0 {
		t.Errorf("kernel_receive_queue_bytes = %v (present %v), want the queued bytes", v, ok)
	}
	if v, ok := metricValue(t, reg, "copenhagen_listener_receive_buffer_bytes", labels); !ok || v <= 0 || v > 64<<10 {
		t.Errorf("receive_buffer_bytes = %v (present %v), want the small granted size", v, ok)
	}
}

func TestUDPKernelDropsOfDualStackSocket(t *testing.T) {
	// ":port" is an IPv6 socket that also receives IPv4: it is listed in
	// /proc/net/udp6, not udp.
	reg := prometheus.NewRegistry()
	rec := newRecorder()
	l := listenUDPForTest(t, UDPConfig{Addr: ":0"}, rec.newHandler, reg)
	serve(t, l)
	port := l.Addr().(*net.UDPAddr).Port
	dialUDP(t, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}).Write([]byte("v4:1|c"))
	waitFor(t, "the datagram", func() bool { return len(rec.snapshot()) == 1 })
	if v, ok := metricValue(t, reg, "copenhagen_listener_kernel_drops_total", map[string]string{"listener": "test_udp"}); !ok || v != 0 {
		t.Errorf("kernel_drops_total = %v (present %v), want 0 and present", v, ok)
	}
}

func TestUDPReceiveBufferIsGranted(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := listenUDPForTest(t, UDPConfig{ReceiveBuffer: 8 << 20}, newRecorder().newHandler, reg)
	defer l.Close()
	v, ok := metricValue(t, reg, "copenhagen_listener_receive_buffer_bytes", map[string]string{"listener": "test_udp"})
	if !ok {
		t.Fatal("receive_buffer_bytes missing")
	}
	// Without CAP_NET_ADMIN the kernel caps the size at rmem_max; either
	// way the metric tells what the socket really has.
	if v != 8<<20 {
		t.Logf("granted %v bytes of the 8 MiB asked (no CAP_NET_ADMIN?)", v)
	}
	if v < 4096 {
		t.Errorf("receive_buffer_bytes = %v", v)
	}
}

func TestUDPReusePortSockets(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := newRecorder()
	l := listenUDPForTest(t, UDPConfig{Sockets: 2, Readers: 2, ReusePort: true}, rec.newHandler, reg)
	serve(t, l)
	if len(l.collector.inodes) != 2 {
		t.Fatalf("kernel collector watches %d sockets, want 2", len(l.collector.inodes))
	}
	const n = 200
	for i := range n {
		// A new source port per datagram spreads them over both sockets.
		c := dialUDP(t, l.Addr())
		fmt.Fprintf(c, "x:%d|c", i)
	}
	waitFor(t, "all datagrams", func() bool { return len(rec.snapshot()) >= n })
	st, err := readSockStats(procNetUDPFiles, l.collector.inodes)
	if err != nil {
		t.Fatal(err)
	}
	if st.found != 2 {
		t.Errorf("found %d of the 2 sockets in /proc/net/udp*", st.found)
	}
}

func TestUDPSameNameTwiceKeepsTheFirstListenersMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := listenUDPForTest(t, UDPConfig{Name: "dup"}, newRecorder().newHandler, reg)
	defer a.Close()
	if _, err := ListenUDP(UDPConfig{Name: "dup", Addr: "127.0.0.1:0", Logger: quietLogger}, newRecorder().newHandler, reg); err == nil {
		t.Fatal("a second listener with the same name was accepted")
	}
	if _, ok := metricValue(t, reg, "copenhagen_listener_kernel_drops_total", map[string]string{"listener": "dup"}); !ok {
		t.Error("the failed second listener removed the first one's kernel metrics")
	}
}

func TestUDPSocketsWithoutReusePortIsAnError(t *testing.T) {
	_, err := ListenUDP(UDPConfig{Name: "x", Addr: "127.0.0.1:0", Sockets: 2, Logger: quietLogger}, newRecorder().newHandler, nil)
	if err == nil {
		t.Fatal("want an error")
	}
}

func TestUDPAddressInUse(t *testing.T) {
	l := listenUDPForTest(t, UDPConfig{}, newRecorder().newHandler, nil)
	defer l.Close()
	_, err := ListenUDP(UDPConfig{Name: "second", Addr: l.Addr().String(), Logger: quietLogger}, newRecorder().newHandler, nil)
	if err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Fatalf("second bind: err = %v, want address already in use", err)
	}
	t.Logf("error for the caller to wrap: %v", err)
}

func TestUDPCloseWaitsForInFlightHandler(t *testing.T) {
	h := &blockingHandler{started: make(chan struct{}), release: make(chan struct{})}
	l := listenUDPForTest(t, UDPConfig{Readers: 1}, func() Handler { return h }, nil)
	go l.Serve(context.Background())
	dialUDP(t, l.Addr()).Write([]byte("a:1|c"))
	<-h.started

	closed := make(chan struct{})
	go func() { l.Close(); close(closed) }()
	select {
	case <-closed:
		t.Fatal("Close returned while a handler call was in flight")
	case <-time.After(50 * time.Millisecond):
	}
	close(h.release)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return after the handler did")
	}
}

func TestUDPServeStopsWithContext(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := listenUDPForTest(t, UDPConfig{}, newRecorder().newHandler, reg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after cancel")
	}
	if err := l.Serve(context.Background()); err == nil {
		t.Error("a second Serve should fail")
	}
	// The socket is released: the address can be bound again, and the
	// kernel collector is unregistered so a new listener can take its place.
	l2, err := ListenUDP(UDPConfig{Name: "test_udp", Addr: l.Addr().String(), Logger: quietLogger}, newRecorder().newHandler, reg)
	if err != nil {
		t.Fatalf("rebinding after Close: %v", err)
	}
	l2.Close()
}

func TestListenersShareMetricFamilies(t *testing.T) {
	reg := prometheus.NewRegistry()
	a := listenUDPForTest(t, UDPConfig{Name: "statsd_udp"}, newRecorder().newHandler, reg)
	defer a.Close()
	b := listenUDPForTest(t, UDPConfig{Name: "other_udp"}, newRecorder().newHandler, reg)
	defer b.Close()
	c, err := ListenTCP(TCPConfig{Name: "graphite_tcp", Addr: "127.0.0.1:0", Logger: quietLogger}, newRecorder().newHandler, reg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, name := range []string{"statsd_udp", "other_udp"} {
		if _, ok := metricValue(t, reg, "copenhagen_listener_kernel_drops_total", map[string]string{"listener": name}); !ok {
			t.Errorf("kernel_drops_total{listener=%q} missing", name)
		}
	}
	if _, ok := metricValue(t, reg, "copenhagen_listener_connections", map[string]string{"listener": "graphite_tcp"}); !ok {
		t.Error("connections{listener=graphite_tcp} missing")
	}
}

// BenchmarkUDPListener measures datagrams through the listener with a
// handler that only counts lines. Sender and readers share the CPUs, as in
// production tests on small nodes.
func BenchmarkUDPListener(b *testing.B) {
	var mu sync.Mutex
	total := 0
	l, err := ListenUDP(UDPConfig{Name: "bench", Addr: "127.0.0.1:0", Logger: quietLogger}, func() Handler {
		return &countingHandler{mu: &mu, total: &total}
	}, nil)
	if err != nil {
		b.Fatal(err)
	}
	go l.Serve(context.Background())
	defer l.Close()
	c, err := net.Dial("udp", l.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	var d []byte
	for len(d) < 1400-20 {
		d = fmt.Appendf(d, "bench.name_%d:1|c\n", len(d)%1000)
	}
	b.SetBytes(int64(len(d)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		c.Write(d)
	}
	b.StopTimer()
	// Report how much of what was sent arrived: the listener is only as
	// good as its loss at this rate.
	lines := b.N * bytes.Count(d, []byte{'\n'})
	last, stable := -1, 0
	for stable < 5 {
		time.Sleep(10 * time.Millisecond)
		mu.Lock()
		got := total
		mu.Unlock()
		if got == last {
			stable++
		} else {
			last, stable = got, 0
		}
	}
	b.ReportMetric(100*float64(lines-last)/float64(lines), "lost_%")
}

type countingHandler struct {
	mu    *sync.Mutex
	total *int
	n     int
}

func (h *countingHandler) Handle(b []byte) { h.n += bytes.Count(b, []byte{'\n'}) }
func (h *countingHandler) Flush() {
	h.mu.Lock()
	*h.total += h.n
	h.mu.Unlock()
	h.n = 0
}
