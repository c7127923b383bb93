package number

import (
	"math"
	"strconv"
	"testing"
)

func TestParse(t *testing.T) {
	inf := math.Inf(1)
	cases := []struct {
		in             string
		statsd, python float64 // NaN: refused
	}{
		{"12", 12, 12},
		{"-0.5", -0.5, -0.5},
		{"+3", 3, 3},
		{".5", 0.5, 0.5},
		{"5.", 5, 5},
		{"1.5e3", 1500, 1500},
		{"1E-2", 0.01, 0.01},
		{"12345678901234567890", 12345678901234567890, 12345678901234567890}, // past the fast path
		{"0.1234567890123456789012345", 0.1234567890123456789012345, 0.1234567890123456789012345},
		{"1e400", math.NaN(), inf},
		{"-1e400", math.NaN(), -inf},
		{"1e-400", 0, 0},
		{"nan", math.NaN(), math.NaN()}, // carbon discards NaN later; it parses
		{"Inf", math.NaN(), inf},
		{"-infinity", math.NaN(), -inf},
		{"0x10", math.NaN(), math.NaN()},
		{"1_000", math.NaN(), math.NaN()},
		{"", math.NaN(), math.NaN()},
		{"-", math.NaN(), math.NaN()},
		{".", math.NaN(), math.NaN()},
		{"1e", math.NaN(), math.NaN()},
		{"1..2", math.NaN(), math.NaN()},
		{" 1", math.NaN(), math.NaN()},
	}
	check := func(dialect, in string, got float64, ok bool, want float64) {
		t.Helper()
		if math.IsNaN(want) && in != "nan" {
			if ok {
				t.Errorf("%s %q = %v, want refused", dialect, in, got)
			}
			return
		}
		if in == "nan" && dialect == "python" {
			if !ok || !math.IsNaN(got) {
				t.Errorf("python %q = %v %v, want NaN", in, got, ok)
			}
			return
		}
		if in == "nan" {
			if ok {
				t.Errorf("statsd %q accepted", in)
			}
			return
		}
		if !ok || got != want {
			t.Errorf("%s %q = %v %v, want %v", dialect, in, got, ok, want)
		}
	}
	for _, c := range cases {
		f, ok := Parse[StatsD]([]byte(c.in))
		check("statsd", c.in, f, ok, c.statsd)
		f, ok = Parse[Python]([]byte(c.in))
		check("python", c.in, f, ok, c.python)
	}
}

// Hot paths must not allocate, accepted or refused.
func TestParseDoesNotAllocate(t *testing.T) {
	for _, in := range []string{"12.5", "-3", "garbage", "1e300", "0x10", "nan"} {
		b := []byte(in)
		if n := testing.AllocsPerRun(100, func() { Parse[StatsD](b) }); n != 0 {
			t.Errorf("statsd %q: %v allocs", in, n)
		}
		if n := testing.AllocsPerRun(100, func() { Parse[Python](b) }); n != 0 {
			t.Errorf("python %q: %v allocs", in, n)
		}
	}
}

// FuzzParse: never a panic; what is accepted is what strconv.ParseFloat
// gives, bit for bit; StatsD never returns a non-finite value.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"1", "-0.5", "1e308", "1e309", "inf", "NaN", "0x1p4", "1_0", ".e1", "+.5e-3"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := strconv.ParseFloat(s, 64)
		if got, ok := Parse[StatsD]([]byte(s)); ok {
			if err != nil || math.Float64bits(got) != math.Float64bits(want) || math.IsInf(got, 0) || math.IsNaN(got) {
				t.Fatalf("statsd %q = %v, strconv %v %v", s, got, want, err)
			}
		}
		if got, ok := Parse[Python]([]byte(s)); ok {
			if math.IsNaN(want) && math.IsNaN(got) {
				return
			}
			if math.Float64bits(got) != math.Float64bits(want) {
				t.Fatalf("python %q = %v, strconv %v %v", s, got, want, err)
			}
		}
	})
}
