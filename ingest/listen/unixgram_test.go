package listen

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func TestUnixgramDeliversEveryDatagram(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := newRecorder()
	path := filepath.Join(t.TempDir(), "statsd.sock")
	l, err := ListenUnixgram(UnixgramConfig{Name: "test_unixgram", Path: path, Readers: 2, BatchSize: 4, Mode: 0o666, Logger: quietLogger}, rec.newHandler, reg)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o666 {
		t.Fatalf("socket file: %v, mode %v, want 0666", err, fi.Mode())
	}
	c, err := net.Dial("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 500
	var want []string
	for i := range n {
		d := fmt.Sprintf("page.views:%d|c|#route:home", i)
		want = append(want, d)
		// A blocking unixgram sender waits when the queue is full: no loss.
		if _, err := c.Write([]byte(d)); err != nil {
			t.Fatal(err)
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
	if v, _ := metricValue(t, reg, "copenhagen_listener_datagrams_received_total", map[string]string{"listener": "test_unixgram"}); v != n {
		t.Errorf("datagrams_received_total = %v, want %d", v, n)
	}
}

func TestUnixgramTruncatedDatagram(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := newRecorder()
	path := filepath.Join(t.TempDir(), "s.sock")
	l, err := ListenUnixgram(UnixgramConfig{Name: "u", Path: path, Readers: 1, MaxDatagramSize: 100, Logger: quietLogger}, rec.newHandler, reg)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l)
	c, err := net.Dial("unixgram", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write(bytes.Repeat([]byte("z"), 101))
	c.Write([]byte("ok:1|c"))
	waitFor(t, "the small datagram", func() bool { return len(rec.snapshot()) >= 1 })
	if got := rec.snapshot(); len(got) != 1 || string(got[0]) != "ok:1|c" {
		t.Fatalf("got %q", got)
	}
	if v, _ := metricValue(t, reg, "copenhagen_listener_dropped_total", map[string]string{"listener": "u", "reason": ReasonDatagramTruncated}); v != 1 {
		t.Errorf("dropped_total{reason=datagram_truncated} = %v, want 1", v)
	}
}

func TestUnixgramSocketFileLifecycle(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "s.sock")
	cfg := UnixgramConfig{Name: "u", Path: path, Logger: quietLogger}

	// A stale socket file, as a killed process leaves it.
	stale, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	stale.Close() // Go does not unlink unixgram sockets
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("test setup: %v", err)
	}
	l, err := ListenUnixgram(cfg, newRecorder().newHandler, nil)
	if err != nil {
		t.Fatalf("stale socket file not replaced: %v", err)
	}

	// A live one belongs to someone: keep it.
	if _, err := ListenUnixgram(cfg, newRecorder().newHandler, nil); err == nil || !strings.Contains(err.Error(), "address already in use") {
		t.Errorf("second listener on a live socket: err = %v, want address already in use", err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket file still there after Close: %v", err)
	}

	// Never delete something that is not a socket.
	regular := filepath.Join(dir, "file")
	os.WriteFile(regular, []byte("data"), 0o644)
	if _, err := ListenUnixgram(UnixgramConfig{Name: "u", Path: regular, Logger: quietLogger}, newRecorder().newHandler, nil); err == nil {
		t.Error("listening over a regular file should fail")
	}
	if b, _ := os.ReadFile(regular); string(b) != "data" {
		t.Error("the regular file was touched")
	}
}
