package graphite

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// pickleItem is one (path, (timestamp, value)) element for buildPickle.
type pickleItem struct {
	path  string
	ts, v float64
}

// buildPickle writes a protocol 2 carbon list as Python does (EMPTY_LIST,
// MARK, BINUNICODE/BINFLOAT/TUPLE2 per element, APPENDS, STOP).
func buildPickle(items ...pickleItem) []byte {
	b := []byte{0x80, 2, ']', '('}
	for _, it := range items {
		b = append(b, 'X')
		b = binary.LittleEndian.AppendUint32(b, uint32(len(it.path)))
		b = append(b, it.path...)
		b = append(b, 'G')
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(it.ts))
		b = append(b, 'G')
		b = binary.BigEndian.AppendUint64(b, math.Float64bits(it.v))
		b = append(b, 0x86, 0x86)
	}
	return append(b, 'e', '.')
}

func TestProcessorRefusesPointsFromTheFuture(t *testing.T) {
	now := testNow / 1000 // seconds
	p, s, m := newTestProcessor(nil, ProcessorOptions{MaxFuture: 10 * time.Minute})
	p.Process(fmt.Appendf(nil, "ok.now 1 %d\nlocal.time 2 %d\nok.drift 3 %d\nno.ts 4\nminus.one 5 -1\nfar 6 %d\n",
		now, now+2*3600, now+9*60, now+4*3600+7))
	p.ProcessPickle(buildPickle(
		pickleItem{"pk.ok", float64(now), 1},
		pickleItem{"pk.future", float64(now + 3*3600), 2},
		pickleItem{"pk.after", float64(now - 60), 3},
	))
	p.FlushStats()
	want := []string{
		fmt.Sprintf("ok.now||1|%d", now*1000), fmt.Sprintf("ok.drift||3|%d", (now+9*60)*1000), "no.ts||4|NOW", "minus.one||5|NOW",
		fmt.Sprintf("pk.ok||1|%d", now*1000), fmt.Sprintf("pk.after||3|%d", (now-60)*1000),
	}
	if strings.Join(s.got, " ") != strings.Join(want, " ") {
		t.Fatalf("got  %v\nwant %v", s.got, want)
	}
	if got := testutil.ToFloat64(m.PointsRejected.WithLabelValues("too_far_in_future")); got != 3 {
		t.Fatalf("too_far_in_future = %v, want 3", got)
	}
	// The rejection is logged with its example, rate-limited.
	if ex := p.rejections; ex.Pending() != 0 {
		t.Fatalf("%d rejections pending after FlushStats", ex.Pending())
	}
}

func TestProcessorMaxFutureZeroIsNoBound(t *testing.T) {
	p, s, _ := newTestProcessor(nil, ProcessorOptions{})
	p.Process(fmt.Appendf(nil, "far 1 %d\n", testNow/1000+86400))
	if len(s.got) != 1 {
		t.Fatalf("got %v", s.got)
	}
}
