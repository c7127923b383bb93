package listen

import (
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func frame(payload string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
	return append(b, payload...)
}

func listenFramedForTest(t *testing.T, cfg FramedConfig, nh NewHandler, reg prometheus.Registerer) *FramedTCP {
	t.Helper()
	cfg.Name = "test_framed"
	cfg.Addr = "127.0.0.1:0"
	cfg.Logger = quietLogger
	l, err := ListenFramed(cfg, nh, reg)
	if err != nil {
		t.Fatal(err)
	}
	serve(t, l)
	return l
}

func TestFramedDeliversWholeFramesWhateverTheReads(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := newRecorder()
	l := listenFramedForTest(t, FramedConfig{MaxFrameSize: 200 << 10}, rec.newHandler, reg)
	big := strings.Repeat("p", 150<<10) // larger than the first buffer
	var stream []byte
	want := []string{"one", "", "two", big, "three"}
	for _, p := range want {
		stream = append(stream, frame(p)...)
	}
	c := dialTCP(t, l.Addr())
	// Cut the stream at awkward places: inside a prefix, inside a payload.
	for _, cut := range [][2]int{{0, 2}, {2, 9}, {9, 20}, {20, 5000}, {5000, len(stream)}} {
		if _, err := c.Write(stream[cut[0]:cut[1]]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitFor(t, "all frames", func() bool { return len(rec.snapshot()) == len(want) })
	for i, got := range rec.snapshot() {
		if string(got) != want[i] {
			t.Fatalf("frame %d: %d bytes, want %d", i, len(got), len(want[i]))
		}
	}
}

func TestFramedClosesOnOversizedFrame(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := newRecorder()
	l := listenFramedForTest(t, FramedConfig{MaxFrameSize: 16}, rec.newHandler, reg)
	c := dialTCP(t, l.Addr())
	msg := append(frame("ok"), frame(strings.Repeat("x", 17))...)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); err != io.EOF {
		t.Fatalf("read after an oversized frame: %v, want EOF (closed by the server)", err)
	}
	waitFor(t, "counted", func() bool {
		v, _ := metricValue(t, reg, "copenhagen_listener_dropped_total", map[string]string{"listener": "test_framed", "reason": ReasonFrameTooLarge})
		return v == 1
	})
	if got := rec.snapshot(); len(got) != 1 || string(got[0]) != "ok" {
		t.Fatalf("frames before the bad one: %q", got)
	}
}

func TestFramedCountsIncompleteFrame(t *testing.T) {
	reg := prometheus.NewRegistry()
	rec := newRecorder()
	l := listenFramedForTest(t, FramedConfig{}, rec.newHandler, reg)
	c := dialTCP(t, l.Addr())
	msg := append(frame("a"), frame("bcdef")[:6]...)
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	c.Close()
	waitFor(t, "counted", func() bool {
		v, _ := metricValue(t, reg, "copenhagen_listener_dropped_total", map[string]string{"listener": "test_framed", "reason": ReasonIncompleteFrame})
		return v == 1
	})
	if got := fmt.Sprintf("%q", rec.snapshot()); got != `["a"]` {
		t.Fatalf("got %s", got)
	}
}
