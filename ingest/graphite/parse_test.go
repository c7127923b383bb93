package graphite

import (
	"bufio"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

const testNow = int64(1_800_000_000_123)

// unescapeInput turns the \t and \xNN of a testdata input into bytes.
func unescapeInput(t *testing.T, s string) []byte {
	t.Helper()
	s = strings.ReplaceAll(s, `\t`, "\t")
	var out []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) && s[i+1] == 'x' {
			v, err := strconv.ParseUint(s[i+2:i+4], 16, 8)
			if err != nil {
				t.Fatalf("bad escape in %q", s)
			}
			out = append(out, byte(v))
			i += 3
			continue
		}
		out = append(out, s[i])
	}
	return out
}

func describe(p *Point) string {
	var tags []string
	for _, tg := range p.Tags {
		tags = append(tags, string(tg.Key)+"="+string(tg.Value))
	}
	ts := strconv.FormatInt(p.Timestamp, 10)
	if p.Timestamp == testNow {
		ts = "NOW"
	}
	v := strconv.FormatFloat(p.Value, 'g', -1, 64)
	if math.IsInf(p.Value, 1) {
		v = "+Inf"
	}
	return string(p.Name) + "|" + strings.Join(tags, ",") + "|" + v + "|" + ts
}

func TestParseLineTestdata(t *testing.T) {
	f, err := os.Open("testdata/plaintext.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		in, want, ok := strings.Cut(line, "\t=>\t")
		if !ok {
			t.Fatalf("malformed testdata line %q", line)
		}
		n++
		var p Point
		err := p.ParseLine(unescapeInput(t, in), testNow)
		got := ""
		if err != nil {
			got = err.(*ParseError).Reason
		} else {
			got = describe(&p)
		}
		if got != want {
			t.Errorf("%q:\n got %s\nwant %s", in, got, want)
		}
	}
	if n < 40 {
		t.Fatalf("only %d cases read", n)
	}
}

func TestParseNumberMatchesStrconv(t *testing.T) {
	for _, s := range []string{"0", "1", "-1", "0.1", "123456.789", "1e10", "2.5E-3", "99999999999999999", "4503599627370497", ".000001", "1.7976931348623157e308"} {
		got, ok := parseNumber([]byte(s))
		want, err := strconv.ParseFloat(s, 64)
		if !ok || err != nil || got != want {
			t.Errorf("%s: got %v %v, want %v %v", s, got, ok, want, err)
		}
	}
}

func TestParseLineAllocatesNothing(t *testing.T) {
	var p Point
	lines := [][]byte{
		[]byte("servers.web01.cpu.load 0.5 1700000000"),
		[]byte("cpu.load;host=web01;dc=par;env=prod 0.5 1700000000"),
		[]byte("a.b bad 1700000000"),
		[]byte("a.b 1.5e-3 1700000000.5"),
	}
	p.ParseLine(lines[1], 0) // grow Tags once
	n := testing.AllocsPerRun(200, func() {
		for _, l := range lines {
			_ = p.ParseLine(l, 0)
		}
	})
	if n != 0 {
		t.Fatalf("allocs per run = %v, want 0", n)
	}
}

func TestReasonsAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		if seen[r] || r == "" || strings.ToLower(r) != r {
			t.Errorf("bad or duplicate reason %q", r)
		}
		seen[r] = true
	}
}
