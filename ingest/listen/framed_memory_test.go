package listen

import (
	"encoding/binary"
	"fmt"
	"net"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// countingFrames counts frames and their bytes and keeps nothing, so that
// the heap holds only what the listener holds.
type countingFrames struct {
	frames, bytes atomic.Int64
	notify        chan struct{}
}

func newCountingFrames() *countingFrames { return &countingFrames{notify: make(chan struct{}, 1)} }

func (c *countingFrames) newHandler() Handler {
	return HandlerFunc(func(b []byte) {
		c.frames.Add(1)
		c.bytes.Add(int64(len(b)))
		select {
		case c.notify <- struct{}{}:
		default:
		}
	})
}

// waitFrames waits until n frames were handled.
func (c *countingFrames) waitFrames(t testing.TB, n int64) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for c.frames.Load() < n {
		select {
		case <-c.notify:
		case <-deadline:
			t.Fatalf("%d frames handled, want %d", c.frames.Load(), n)
		}
	}
}

// heapInUse is the live heap after two collections (the second frees what
// the first moved to the sync.Pool victim caches).
func heapInUse() int64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}

// connectionsForTest is 1024, or fewer if the file descriptor limit does
// not allow both ends of that many connections.
func connectionsForTest() int {
	n := 1024
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err == nil && int(lim.Cur) < 2*n+64 {
		n = (int(lim.Cur) - 64) / 2
	}
	return n
}

// Connections that each once sent a large frame and then stay idle hold
// their ordinary buffer, not the largest frame they sent: 1024 pickle
// clients that each sent one 4 MiB frame used to pin 4 GiB.
func TestFramedIdleConnectionsReleaseLargeFrames(t *testing.T) {
	const frameSize = 512 << 10
	n := connectionsForTest()
	cnt := newCountingFrames()
	reg := prometheus.NewRegistry()
	l := listenFramedForTest(t, FramedConfig{MaxFrameSize: 1 << 20}, cnt.newHandler, reg)
	big := frame(strings.Repeat("p", frameSize))
	base := heapInUse()
	conns := make([]net.Conn, 0, n)
	for i := range n {
		c := dialTCP(t, l.Addr())
		conns = append(conns, c)
		if _, err := c.Write(big); err != nil {
			t.Fatal(err)
		}
		// One at a time: what is measured is what idle connections
		// keep, not what n frames in flight at once need.
		cnt.waitFrames(t, int64(i+1))
	}
	if got := cnt.bytes.Load(); got != int64(n)*frameSize {
		t.Fatalf("handled %d bytes, want %d", got, int64(n)*frameSize)
	}
	held := heapInUse() - base
	perConn := held / int64(n)
	t.Logf("%d idle connections after one %d KiB frame each: heap +%d MiB, %d KiB per connection", n, frameSize>>10, held>>20, perConn>>10)
	// Each keeps its own 64 KiB buffer and the connection's structures
	// (both ends are in this process); before, it kept 512 KiB.
	if perConn > 2*initialFrameBuffer {
		t.Errorf("%d KiB held per idle connection, want at most %d KiB", perConn>>10, 2*initialFrameBuffer>>10)
	}
	// The connections still work, small frames and large.
	for _, c := range conns[:2] {
		if _, err := c.Write(append(frame("small"), big...)); err != nil {
			t.Fatal(err)
		}
	}
	cnt.waitFrames(t, int64(n)+4)

	// A length prefix is not a reason to hold memory: every connection
	// announces a 1 MiB frame and sends 1000 bytes of it.
	before := heapInUse()
	start := binary.BigEndian.AppendUint32(nil, 1<<20)
	start = append(start, strings.Repeat("s", 1000)...)
	want, _ := metricValue(t, reg, "copenhagen_listener_bytes_received_total", map[string]string{"listener": "test_framed"})
	for _, c := range conns {
		if _, err := c.Write(start); err != nil {
			t.Fatal(err)
		}
	}
	want += float64(n * len(start))
	waitFor(t, "the starts of the frames read", func() bool {
		v, _ := metricValue(t, reg, "copenhagen_listener_bytes_received_total", map[string]string{"listener": "test_framed"})
		return v == want
	})
	grown := heapInUse() - before
	t.Logf("after %d connections announced a 1 MiB frame each: heap %+d KiB", n, grown>>10)
	if grown > int64(n)*4<<10 {
		t.Errorf("heap grew by %d MiB for %d frames announced and not sent", grown>>20, n)
	}
	runtime.KeepAlive(conns)
}

// BenchmarkFramedListener sends frames over one TCP connection; the
// handler counts them. size=1KiB is the steady state (many frames per
// read, no allocation), size=256KiB frames each need a large buffer.
func BenchmarkFramedListener(b *testing.B) {
	for _, size := range []int{1 << 10, 256 << 10} {
		b.Run(fmt.Sprintf("size=%dKiB", size>>10), func(b *testing.B) {
			cnt := newCountingFrames()
			l, err := ListenFramed(FramedConfig{Name: "bench", Addr: "127.0.0.1:0", Logger: quietLogger}, cnt.newHandler, nil)
			if err != nil {
				b.Fatal(err)
			}
			go l.Serve(b.Context())
			defer l.Close()
			c, err := net.Dial("tcp", l.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			// A write of about 1 MiB of whole frames.
			one := binary.BigEndian.AppendUint32(nil, uint32(size))
			one = append(one, strings.Repeat("f", size)...)
			per := max(1, (1<<20)/len(one))
			var chunk []byte
			for range per {
				chunk = append(chunk, one...)
			}
			b.SetBytes(int64(len(one)))
			b.ReportAllocs()
			b.ResetTimer()
			sent := 0
			for sent < b.N {
				k := min(per, b.N-sent)
				if _, err := c.Write(chunk[:k*len(one)]); err != nil {
					b.Fatal(err)
				}
				sent += k
			}
			cnt.waitFrames(b, int64(b.N))
		})
	}
}
