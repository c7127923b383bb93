package graphite

import (
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// hostileFrames are pickles that Python never writes, built to make a
// decoder allocate per byte (issue 9 item 4: 4 MiB of ']' held 300 MB).
func hostileFrames(size int) map[string][]byte {
	rep := func(s string) []byte { return bytes.Repeat([]byte(s), size/len(s)) }
	return map[string][]byte{
		"empty_lists":  rep("]"),
		"marks":        rep("("),
		"empty_tuples": rep(")"),
		"memoize":      append([]byte("]"), rep("\x94")...),
		"tuple1_chain": append([]byte("N"), rep("\x85")...),
		"nones":        rep("N"),
		"memo_gets":    append([]byte("](N\x94"), rep("h\x00")...),
	}
}

func TestPickleDecoderMemoryIsBoundedByTheFrame(t *testing.T) {
	const size = 4 << 20
	for name, frame := range hostileFrames(size) {
		t.Run(name, func(t *testing.T) {
			var d PickleDecoder
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, err := d.Decode(frame)
			runtime.ReadMemStats(&after)
			if err != ErrPickleTooComplex && err != ErrBadPickle {
				t.Fatalf("err %v", err)
			}
			// One 24-byte value per two bytes (12 bytes per byte), in slices
			// that double (allocating up to four times that on the way), plus the
			// lists, and the race detector: under 64 bytes per byte of frame (the
			// decoder before allocated 400 and kept 80).
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 64*size {
				t.Errorf("decoding %d bytes allocated %d MB", size, alloc>>20)
			}
			// Nothing large is kept for the next frame.
			held := cap(d.stack) + cap(d.marks) + cap(d.memo) + cap(d.elems) + cap(d.lists) + cap(d.items)
			if held > 4*keepUnits {
				t.Errorf("decoder holds %d values after the call", held)
			}
		})
	}
}

// TestPickleLimitsKeepRealFrames checks that frames a carbon client
// writes stay well inside the bound: a large protocol 2 frame of short
// paths, the testdata pickles written by Python (in pickle_test.go), and a
// frame of one-character paths.
func TestPickleLimitsKeepRealFrames(t *testing.T) {
	var items []pickleItem
	for i := range 100000 {
		items = append(items, pickleItem{path: "a.b." + strings.Repeat("x", i%5), ts: 1700000000 + float64(i), v: float64(i)})
	}
	for _, it := range []pickleItem{{"a", 1, 2}} {
		items = append(items, it)
	}
	var d PickleDecoder
	got, err := d.Decode(buildPickle(items...))
	if err != nil || len(got) != len(items) {
		t.Fatalf("%d items, err %v", len(got), err)
	}
	if got[99999].Value != 99999 || string(got[100000].Path) != "a" {
		t.Fatalf("last items %+v %+v", got[99999], got[100000])
	}
}

func TestPickleTooComplexIsCountedAndTheConnectionGoesOn(t *testing.T) {
	p, s, m := newTestProcessor(nil, ProcessorOptions{})
	p.ProcessPickle(bytes.Repeat([]byte("]"), 1<<20))
	p.ProcessPickle(buildPickle(pickleItem{"after", 1700000000, 1}))
	p.FlushStats()
	if len(s.got) != 1 || !strings.HasPrefix(s.got[0], "after|") {
		t.Fatalf("got %v", s.got)
	}
	if got := counterValue(m, "pickle_too_complex"); got != 1 {
		t.Fatalf("pickle_too_complex = %v", got)
	}
}

func counterValue(m *Metrics, reason string) float64 {
	return testutil.ToFloat64(m.PointsRejected.WithLabelValues(reason))
}
