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

// splitFrames is the reference: the frames of a whole stream, the length
// of a frame above limit (-1 if none) and whether an incomplete frame ends it.
func splitFrames(stream []byte, limit int) (frames []string, tooLarge int, partial bool) {
	for len(stream) >= 4 {
		size := binary.BigEndian.Uint32(stream)
		if uint64(size) > uint64(limit) {
			return frames, int(size), false
		}
		if uint64(len(stream)-4) < uint64(size) {
			return frames, -1, true
		}
		frames = append(frames, string(stream[4:4+size]))
		stream = stream[4+size:]
	}
	return frames, -1, len(stream) > 0
}

// readFrames feeds stream to a frameReader in reads of the given sizes
// (cycled), as a connection would, and checks after every read that a
// large frame's buffer ends with that frame, is at most twice what was
// received of it, and is given back as soon as the frame is handled.
func readFrames(t *testing.T, stream []byte, limit int, reads []int) (frames []string, tooLarge int, partial bool) {
	t.Helper()
	fr := newFrameReader(newFramedPool(limit), limit)
	defer fr.release()
	h := HandlerFunc(func(b []byte) { frames = append(frames, string(b)) })
	for i := 0; len(stream) > 0; i++ {
		space := fr.space()
		if len(space) == 0 {
			t.Fatalf("no room to read with %d bytes buffered", fr.n)
		}
		k := copy(space, stream[:min(len(stream), max(1, reads[i%len(reads)]))])
		stream = stream[k:]
		if _, tl := fr.feed(k, h); tl >= 0 {
			return frames, tl, false
		}
		if fr.end > 0 {
			if size := 4 + int(binary.BigEndian.Uint32(fr.buf)); fr.end != size || (!fr.inOwn() && len(fr.buf) > size) {
				t.Fatalf("a buffer of %d bytes for a frame of %d with its prefix, end %d", len(fr.buf), size, fr.end)
			}
			if !fr.inOwn() && len(fr.buf) > 2*fr.n {
				t.Fatalf("a buffer of %d bytes for %d bytes received of a large frame", len(fr.buf), fr.n)
			}
		} else if !fr.inOwn() {
			t.Fatalf("between large frames the buffer is %d bytes, want the connection's own %d", len(fr.buf), initialFrameBuffer)
		}
	}
	return frames, -1, fr.n > 0
}

func TestFrameReader(t *testing.T) {
	big := strings.Repeat("b", initialFrameBuffer) // with its prefix, one byte too many
	tests := []struct {
		name   string
		frames []string
		tail   []byte // appended after the frames
	}{
		{"small frames", []string{"a", "", "bc", strings.Repeat("d", 1000)}, nil},
		{"frame filling the buffer exactly", []string{"x", strings.Repeat("e", initialFrameBuffer-4), "y"}, nil},
		{"large frame between small ones", []string{"x", big, "y", "z"}, nil},
		{"large frames back to back", []string{big, big + big, strings.Repeat("c", 300<<10)}, nil},
		{"incomplete large frame", []string{"x"}, frame(big)[:5000]},
		{"incomplete prefix", []string{"x", big}, []byte{0, 0}},
		{"frame above the limit after a large one", []string{big}, binary.BigEndian.AppendUint32(nil, 1<<20+1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stream []byte
			for _, f := range tt.frames {
				stream = append(stream, frame(f)...)
			}
			stream = append(stream, tt.tail...)
			wantFrames, wantLarge, wantPartial := splitFrames(stream, 1<<20)
			for _, reads := range [][]int{{1 << 20}, {1}, {3, 4093, 17}, {initialFrameBuffer}, {initialFrameBuffer + 1, 2}} {
				got, large, partial := readFrames(t, stream, 1<<20, reads)
				if large != wantLarge || partial != wantPartial || len(got) != len(wantFrames) {
					t.Fatalf("reads of %v: %d frames, too large %d, partial %v; want %d, %d, %v", reads, len(got), large, partial, len(wantFrames), wantLarge, wantPartial)
				}
				for i := range got {
					if got[i] != wantFrames[i] {
						t.Fatalf("reads of %v: frame %d differs (%d bytes, want %d)", reads, i, len(got[i]), len(wantFrames[i]))
					}
				}
			}
		})
	}
}

// FuzzFrameReader: whatever the stream and however it is cut into reads,
// the frames are those of the stream, whole and in order.
func FuzzFrameReader(f *testing.F) {
	f.Add(append(frame("one"), frame("two")...), uint16(1), uint16(7))
	f.Add(frame(strings.Repeat("l", 70<<10)), uint16(4096), uint16(3))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff}, uint16(2), uint16(2))
	f.Fuzz(func(t *testing.T, stream []byte, r1, r2 uint16) {
		const limit = 256 << 10
		wantFrames, wantLarge, wantPartial := splitFrames(stream, limit)
		got, large, partial := readFrames(t, stream, limit, []int{int(r1), int(r2)})
		if large != wantLarge || partial != wantPartial || fmt.Sprint(got) != fmt.Sprint(wantFrames) {
			t.Fatalf("%d frames, too large %d, partial %v; want %d, %d, %v", len(got), large, partial, len(wantFrames), wantLarge, wantPartial)
		}
	})
}
