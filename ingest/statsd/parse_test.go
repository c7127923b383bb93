package statsd

import (
	"errors"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
)

func TestParseTable(t *testing.T) {
	cases := loadCases(t)
	for _, c := range cases {
		var fresh Line
		checkCase(t, &fresh, c)
	}
	// The same cases through one Line, each after a line that fills every
	// field, so that nothing leaks from one Parse into the next.
	var reused Line
	filler := []byte("fill.[x=]er:1:2:3:4:5:6:7:8|ms|@0.5|#a:b,flag|c:id|T1")
	for _, c := range cases {
		if err := reused.Parse(filler); err != nil {
			t.Fatalf("filler: %v", err)
		}
		checkCase(t, &reused, c)
	}
}

func TestParseCoversEveryReason(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range loadCases(t) {
		if c.Err != "" {
			seen[c.Err] = true
		}
	}
	for _, r := range Reasons() {
		if r == ErrLineTooLong.Reason {
			continue // a Processor option, tested there
		}
		if !seen[r] {
			t.Errorf("no case in %s is rejected as %s", casesFile, r)
		}
	}
}

func TestReasonsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for i, r := range Reasons() {
		if seen[r] || r == "" || strings.ToLower(r) != r || strings.ContainsAny(r, " -.") {
			t.Errorf("reason %d %q: not a distinct snake_case label value", i, r)
		}
		seen[r] = true
		if reasons.All()[i].Index() != i {
			t.Errorf("reason %q has index %d, want %d", r, reasons.All()[i].Index(), i)
		}
	}
}

func TestParseErrorIs(t *testing.T) {
	var l Line
	err := l.Parse([]byte("foo:NaN|c"))
	if !errors.Is(err, ErrBadValue) {
		t.Fatalf("Parse = %v, want ErrBadValue", err)
	}
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Reason != "bad_value" || pe.Error() == "" {
		t.Fatalf("errors.As: %#v", pe)
	}
}

// TestParseReusesCapacity checks the promise the reader relies on: after a
// first line grew l.Values, parsing allocates nothing.
func TestParseReusesCapacity(t *testing.T) {
	var l Line
	if err := l.Parse([]byte("a:1:2:3:4:5:6:7:8|ms")); err != nil {
		t.Fatal(err)
	}
	if err := l.Parse([]byte("b:9|ms")); err != nil {
		t.Fatal(err)
	}
	if len(l.Values) != 1 || l.Values[0] != 9 || cap(l.Values) < 8 {
		t.Fatalf("values %v cap %d", l.Values, cap(l.Values))
	}
}

// TestParseAllocs runs every case of the table through a warmed-up Line:
// neither accepting nor rejecting may allocate.
func TestParseAllocs(t *testing.T) {
	var l Line
	warm := []byte("w.[a=b]x:1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16|ms")
	_ = l.Parse(warm)
	_ = l.Parse([]byte("s:x|s"))
	for _, c := range loadCases(t) {
		if string(c.line) == "foo:1.8e308|g" {
			// Documented: within a factor of ten of the float64 maximum only
			// strconv.ParseFloat can tell overflow, and its error allocates.
			continue
		}
		n := testing.AllocsPerRun(20, func() { _ = l.Parse(c.line) })
		if n != 0 {
			t.Errorf("%s: Parse(%q) allocates %.0f times", c.pos, c.line, n)
		}
	}
}

func TestTagsAppendsAfterDst(t *testing.T) {
	var l Line
	if err := l.Parse([]byte("foo:1|c|#a:1,b:2")); err != nil {
		t.Fatal(err)
	}
	dst := []Tag{{Key: []byte("a"), Value: []byte("0")}}
	got, err := l.Tags(dst)
	if err != nil {
		t.Fatal(err)
	}
	// The caller's own entries are neither deduplicated nor reordered.
	want := []string{"a=0", "a=1", "b=2"}
	if len(got) != len(want) {
		t.Fatalf("Tags = %d tags, want %v", len(got), want)
	}
	for i, tg := range got {
		if s := string(tg.Key) + "=" + string(tg.Value); s != want[i] {
			t.Errorf("tag %d = %s, want %s", i, s, want[i])
		}
	}
	n := testing.AllocsPerRun(10, func() { got, _ = l.Tags(got[:0]) })
	if n != 0 {
		t.Errorf("Tags into a large enough dst allocates %.0f times", n)
	}
}

func TestTagsOnRejectedLine(t *testing.T) {
	var l Line
	if err := l.Parse([]byte("foo,bar:1|c")); err != ErrMalformedTags {
		t.Fatalf("Parse = %v", err)
	}
	// The Line is in an unspecified state, but Tags must not panic or
	// return tags it cannot vouch for.
	if got, err := l.Tags(nil); err == nil && len(got) > 0 {
		t.Errorf("Tags on a rejected line = %v", got)
	}
	var zero Line
	if got, err := zero.Tags(nil); err != nil || len(got) != 0 {
		t.Errorf("Tags on a zero Line = %v, %v", got, err)
	}
}

// TestParseFloatMatchesStrconv compares parseFloat with strconv.ParseFloat
// on random decimal strings: same bits when both accept, and parseFloat
// accepts exactly the finite, in-range plain decimals.
func TestParseFloatMatchesStrconv(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	digits := func(n int) string {
		var sb strings.Builder
		for range n {
			sb.WriteByte(byte('0' + r.IntN(10)))
		}
		return sb.String()
	}
	fixed := []string{"0", "-0", "1", "9007199254740993", "4503599627370496", "4503599627370495.5",
		"0.1", "0.3", "1e22", "1e23", "123456789012345678", "1234567890123456789",
		"0.0000000000000000000001", "1.7976931348623157e308", "1.7976931348623158e308",
		"4.9e-324", "2.4e-324", "1e-400", "00000000000000000000000000001", ".0", "0.", "9.",
		"1e0", "1E+0", "1e-0", "5e-1"}
	for i := 0; i < 20000; i++ {
		var s string
		switch r.IntN(4) {
		case 0:
			s = digits(1 + r.IntN(20))
		case 1:
			s = digits(r.IntN(12)) + "." + digits(1+r.IntN(25))
		case 2:
			s = digits(1+r.IntN(8)) + "." + digits(r.IntN(8)) + "e" + strconv.Itoa(r.IntN(700)-350)
		case 3:
			s = "0." + strings.Repeat("0", r.IntN(30)) + digits(1+r.IntN(18))
		}
		if r.IntN(3) == 0 {
			s = "-" + s
		}
		fixed = append(fixed, s)
	}
	for _, s := range fixed {
		want, err := strconv.ParseFloat(s, 64)
		got, ok := parseFloat([]byte(s))
		wantOK := err == nil && !math.IsInf(want, 0) && !math.IsNaN(want)
		if ok != wantOK {
			t.Errorf("parseFloat(%q) ok=%v, strconv gives %v, %v", s, ok, want, err)
			continue
		}
		if ok && math.Float64bits(got) != math.Float64bits(want) {
			t.Errorf("parseFloat(%q) = %v (%#x), strconv %v (%#x)", s, got, math.Float64bits(got), want, math.Float64bits(want))
		}
	}
}

func TestTypeString(t *testing.T) {
	for typ, want := range map[Type]string{TypeCounter: "c", TypeGauge: "g", TypeTimer: "ms",
		TypeHistogram: "h", TypeDistribution: "d", TypeSet: "s", TypeUnknown: "unknown"} {
		if typ.String() != want {
			t.Errorf("%d.String() = %q, want %q", typ, typ.String(), want)
		}
		if typ != TypeUnknown && parseType([]byte(want)) != typ {
			t.Errorf("parseType(%q) = %v", want, parseType([]byte(want)))
		}
	}
}
