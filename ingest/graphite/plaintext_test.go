package graphite

import (
	"math"
	"testing"
)

// Relayed pickle points must reach legacy carbon as the same points: what
// AppendPlaintext renders parses back to the value and timestamp it came
// from, to the millisecond.
func TestAppendPlaintextRoundTrip(t *testing.T) {
	cases := []struct {
		path string
		v    float64
		ts   int64
		want string
	}{
		{"a.b", 1, 1700000000000, "a.b 1 1700000000\n"},
		{"cpu;host=web01", -0.125, 1700000000123, "cpu;host=web01 -0.125 1700000000.123\n"},
		{"x", 1e300, 1700000000005, "x 1e+300 1700000000.005\n"},
		{"x", 0.30000000000000004, 1700000000050, "x 0.30000000000000004 1700000000.050\n"},
		{"x", math.Inf(1), 1700000000000, "x +Inf 1700000000\n"},
	}
	for _, c := range cases {
		in := Point{Path: []byte(c.path), Value: c.v, Timestamp: c.ts}
		got := string(AppendPlaintext(nil, &in))
		if got != c.want {
			t.Errorf("AppendPlaintext(%s %v %d) = %q, want %q", c.path, c.v, c.ts, got, c.want)
		}
		var back Point
		if err := back.ParseLine([]byte(got[:len(got)-1]), 0); err != nil {
			t.Errorf("%q does not parse back: %v", got, err)
			continue
		}
		if string(back.Path) != c.path || back.Value != c.v || back.Timestamp != c.ts {
			t.Errorf("%q parsed back as %s %v %d", got, back.Path, back.Value, back.Timestamp)
		}
	}
}

func TestPlaintextTeeForwardsAndRenders(t *testing.T) {
	var got []string
	tee := &PlaintextTee{Next: sinkFunc(func(p *Point) { got = append(got, string(p.Path)) })}
	for _, path := range []string{"a", "b"} {
		tee.Point(&Point{Path: []byte(path), Value: 2, Timestamp: 1000})
	}
	if len(got) != 2 || string(tee.Lines) != "a 2 1\nb 2 1\n" {
		t.Fatalf("next got %v, lines %q", got, tee.Lines)
	}
}
