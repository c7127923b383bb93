package listen

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// collectHandler appends what it receives and checks the framing contract.
type collectHandler struct {
	t   *testing.T
	out *bytes.Buffer
}

func (h collectHandler) Handle(b []byte) {
	if len(b) == 0 || b[len(b)-1] != '\n' {
		h.t.Errorf("block %q does not end with a newline", b)
	}
	h.out.Write(b)
}

func TestLineFramer(t *testing.T) {
	long := strings.Repeat("x", 17)
	tests := []struct {
		name     string
		in       string
		max      int
		want     string
		wantLong int
	}{
		{"complete lines", "a:1|c\nb:2|c\n", 16, "a:1|c\nb:2|c\n", 0},
		{"last line ended by EOF", "a:1|c\nb:2|c", 16, "a:1|c\nb:2|c\n", 0},
		{"line of exactly max bytes", strings.Repeat("m", 16) + "\nz\n", 16, strings.Repeat("m", 16) + "\nz\n", 0},
		{"line of max+1 bytes", "a\n" + long + "\nz\n", 16, "a\nz\n", 1},
		{"over-long first line", long + "\nz\n", 16, "z\n", 1},
		{"over-long last line at EOF", "a\n" + long, 16, "a\n", 1},
		{"two over-long lines in a row", long + "\n" + long + long + "\nok\n", 16, "ok\n", 2},
		{"very long line", "a\n" + strings.Repeat("v", 1000) + "\nb\n", 16, "a\nb\n", 1},
		{"empty lines kept", "\n\na\n", 16, "\n\na\n", 0},
		{"crlf left to the handler", "a:1|c\r\n", 16, "a:1|c\r\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every way of cutting the stream into reads must give the same
			// lines: cut it into pieces of every size.
			for chunk := 1; chunk <= len(tt.in); chunk++ {
				for _, bufSize := range []int{tt.max + 1, 4 * tt.max} {
					var out bytes.Buffer
					f := lineFramer{buf: make([]byte, bufSize), max: tt.max, h: collectHandler{t, &out}}
					for in := tt.in; len(in) > 0; {
						n := copy(f.buf[f.pending:], in[:min(chunk, len(in))])
						in = in[n:]
						f.feed(n)
					}
					f.finish()
					if out.String() != tt.want || f.tooLong != tt.wantLong {
						t.Fatalf("reads of %d bytes, buffer %d: got %q and %d too long, want %q and %d",
							chunk, bufSize, out.String(), f.tooLong, tt.want, tt.wantLong)
					}
				}
			}
		})
	}
}

func listenTCPForTest(t *testing.T, cfg TCPConfig, nh NewHandler, reg prometheus.Registerer) *TCP {
	t.Helper()
	cfg.Name = "test_tcp"
	cfg.Addr = "127.0.0.1:0"
	cfg.Logger = quietLogger
	l, err := ListenTCP(cfg, nh, reg)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l)
	return l
}

func dialTCP(t *testing.T, addr net.Addr) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func joined(r *recorder) string {
	return string(bytes.Join(r.snapshot(), nil))
}

func TestTCPReassemblesLinesSplitAcrossWrites(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := newRecorder()
	l := listenTCPForTest(t, TCPConfig{}, rec.newHandler, reg)
	c := dialTCP(t, l.Addr())
	for _, w := range []string{"foo.bar 1 1700000000\nba", "z.qux 2 17000", "00000\n", "last 3 1700000000"} {
		if _, err := io.WriteString(c, w); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond) // separate reads on the server
	}
	c.Close()
	want := "foo.bar 1 1700000000\nbaz.qux 2 1700000000\nlast 3 1700000000\n"
	waitFor(t, "all lines", func() bool { return joined(rec) == want })
	for _, b := range rec.snapshot() {
		if b[len(b)-1] != '\n' {
			t.Errorf("block %q is not made of complete lines", b)
		}
	}
	if v, _ := metricValue(t, reg, "copenhagen_listener_bytes_received_total", map[string]string{"listener": "test_tcp"}); v != float64(len(want)-1) {
		t.Errorf("bytes_received_total = %v, want %d", v, len(want)-1)
	}
}

func TestTCPSkipsOverLongLineAndKeepsTheConnection(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := newRecorder()
	l := listenTCPForTest(t, TCPConfig{MaxLineLength: 64, ReadBufferSize: 128}, rec.newHandler, reg)
	c := dialTCP(t, l.Addr())
	io.WriteString(c, "before 1 1\n")
	// Longer than the whole read buffer, written in pieces.
	for range 10 {
		io.WriteString(c, strings.Repeat("x", 50))
		time.Sleep(2 * time.Millisecond)
	}
	io.WriteString(c, "\nafter 2 2\n")
	// An over-long line inside one read, between good lines.
	io.WriteString(c, "in 3 3\n"+strings.Repeat("y", 100)+"\nnext 4 4\n")
	waitFor(t, "the lines after the long ones", func() bool { return strings.Contains(joined(rec), "next 4 4\n") })
	if got, want := joined(rec), "before 1 1\nafter 2 2\nin 3 3\nnext 4 4\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if v, _ := metricValue(t, reg, "copenhagen_listener_dropped_total", map[string]string{"listener": "test_tcp", "reason": ReasonLineTooLong}); v != 2 {
		t.Errorf("dropped_total{reason=line_too_long} = %v, want 2", v)
	}
	// The connection is still usable.
	io.WriteString(c, "still 5 5\n")
	waitFor(t, "a line on the same connection", func() bool { return strings.HasSuffix(joined(rec), "still 5 5\n") })
}

func TestTCPConnectionLimit(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := newRecorder()
	l := listenTCPForTest(t, TCPConfig{MaxConnections: 1}, rec.newHandler, reg)
	labels := map[string]string{"listener": "test_tcp"}

	a := dialTCP(t, l.Addr())
	io.WriteString(a, "a 1 1\n")
	waitFor(t, "the first connection's line", func() bool { return joined(rec) == "a 1 1\n" })

	b := dialTCP(t, l.Addr())
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := b.Read(make([]byte, 1)); err == nil {
		t.Fatal("the connection over the limit was not closed")
	}
	if v, _ := metricValue(t, reg, "copenhagen_listener_dropped_total", map[string]string{"listener": "test_tcp", "reason": ReasonConnectionLimit}); v != 1 {
		t.Errorf("dropped_total{reason=connection_limit} = %v, want 1", v)
	}
	if v, _ := metricValue(t, reg, "copenhagen_listener_connections", labels); v != 1 {
		t.Errorf("connections = %v, want 1", v)
	}

	// Once the first one leaves, a new connection is served.
	a.Close()
	waitFor(t, "the connection gauge to drop", func() bool {
		v, _ := metricValue(t, reg, "copenhagen_listener_connections", labels)
		return v == 0
	})
	c := dialTCP(t, l.Addr())
	io.WriteString(c, "c 3 3\n")
	waitFor(t, "the third connection's line", func() bool { return joined(rec) == "a 1 1\nc 3 3\n" })
}

func TestTCPIdleTimeoutClosesTheConnection(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := newRecorder()
	l := listenTCPForTest(t, TCPConfig{IdleTimeout: 100 * time.Millisecond}, rec.newHandler, reg)
	c := dialTCP(t, l.Addr())
	io.WriteString(c, "complete 1 1\npartial")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after idle: %v, want EOF", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("closed after %v", d)
	}
	if got := joined(rec); got != "complete 1 1\n" {
		t.Errorf("got %q", got)
	}
	if v, _ := metricValue(t, reg, "copenhagen_listener_dropped_total", map[string]string{"listener": "test_tcp", "reason": ReasonIncompleteLine}); v != 1 {
		t.Errorf("dropped_total{reason=incomplete_line} = %v, want 1", v)
	}
}

func TestTCPCloseInterruptsOpenConnections(t *testing.T) {
	rec := newRecorder()
	l, err := ListenTCP(TCPConfig{Name: "t", Addr: "127.0.0.1:0", Logger: quietLogger}, rec.newHandler, nil)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- l.Serve(t.Context()) }()
	c := dialTCP(t, l.Addr())
	io.WriteString(c, "x 1 1\n")
	waitFor(t, "the line", func() bool { return joined(rec) == "x 1 1\n" })

	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v with an idle connection open", d)
	}
	if err := <-done; err != nil {
		t.Errorf("Serve: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Error("connection still open after Close")
	}
}
