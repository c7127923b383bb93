package statsd

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// lineCase is one entry of testdata/lines.txt (its header documents the
// format).
type lineCase struct {
	pos  string // file:line, for messages
	line []byte

	Err      string      `json:"err"`
	Kind     string      `json:"kind"`
	Type     string      `json:"type"`
	Name     string      `json:"name"`
	NS       *string     `json:"ns"`
	Values   []float64   `json:"values"`
	Members  []string    `json:"members"`
	Rate     float64     `json:"rate"`
	Rel      bool        `json:"rel"`
	Tags     [][2]string `json:"tags"`
	DogTags  *string     `json:"dogtags"`
	Dropped  int         `json:"dropped"`
	Exporter string      `json:"exporter"`
	Why      string      `json:"why"`
}

const casesFile = "testdata/lines.txt"

func loadCases(tb testing.TB) []lineCase {
	tb.Helper()
	f, err := os.Open(casesFile)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var cases []lineCase
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		text := sc.Text()
		if text == "" || text[0] == '#' {
			continue
		}
		pos := casesFile + ":" + strconv.Itoa(n)
		q, err := strconv.QuotedPrefix(text)
		if err != nil {
			tb.Fatalf("%s: line is not a Go-quoted string: %v", pos, err)
		}
		line, _ := strconv.Unquote(q)
		rest := strings.TrimPrefix(text[len(q):], "\t")
		c := lineCase{pos: pos, line: []byte(line)}
		dec := json.NewDecoder(strings.NewReader(rest))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&c); err != nil {
			tb.Fatalf("%s: bad expectation %q: %v", pos, rest, err)
		}
		if c.Rate == 0 {
			c.Rate = 1
		}
		switch c.Exporter {
		case "", "reject", "accept", "differs", "panic":
		default:
			tb.Fatalf("%s: unknown exporter outcome %q", pos, c.Exporter)
		}
		if c.Exporter != "" && c.Why == "" {
			tb.Fatalf("%s: a deviation from statsd_exporter needs a why", pos)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	if len(cases) < 100 {
		tb.Fatalf("only %d cases in %s", len(cases), casesFile)
	}
	return cases
}

// checkCase parses c.line into l and reports every difference from the
// expectation.
func checkCase(t *testing.T, l *Line, c lineCase) {
	t.Helper()
	err := l.Parse(c.line)
	if c.Err != "" {
		pe, ok := err.(*ParseError)
		switch {
		case err == nil:
			t.Errorf("%s: Parse(%q) accepted, want rejection %s", c.pos, c.line, c.Err)
		case !ok:
			t.Errorf("%s: Parse(%q) error %T is not a *ParseError", c.pos, c.line, err)
		case pe.Reason != c.Err:
			t.Errorf("%s: Parse(%q) reason %s, want %s", c.pos, c.line, pe.Reason, c.Err)
		}
		return
	}
	if err != nil {
		t.Errorf("%s: Parse(%q) = %v, want success", c.pos, c.line, err)
		return
	}
	switch c.Kind {
	case "event":
		if l.Kind != KindEvent {
			t.Errorf("%s: Parse(%q) kind %d, want event", c.pos, c.line, l.Kind)
		}
		return
	case "service_check":
		if l.Kind != KindServiceCheck {
			t.Errorf("%s: Parse(%q) kind %d, want service check", c.pos, c.line, l.Kind)
		}
		return
	}
	if l.Kind != KindMetric {
		t.Errorf("%s: Parse(%q) kind %d, want metric", c.pos, c.line, l.Kind)
	}
	if l.Type.String() != c.Type {
		t.Errorf("%s: Parse(%q) type %s, want %s", c.pos, c.line, l.Type, c.Type)
	}
	if string(l.Name) != c.Name {
		t.Errorf("%s: Parse(%q) name %q, want %q", c.pos, c.line, l.Name, c.Name)
	}
	if c.NS != nil && string(l.NameSection) != *c.NS {
		t.Errorf("%s: Parse(%q) name section %q, want %q", c.pos, c.line, l.NameSection, *c.NS)
	}
	if !floatsEqual(l.Values, c.Values) {
		t.Errorf("%s: Parse(%q) values %v, want %v", c.pos, c.line, l.Values, c.Values)
	}
	var members []string
	for _, m := range l.Members {
		members = append(members, string(m))
	}
	if strings.Join(members, "\x00") != strings.Join(c.Members, "\x00") || len(members) != len(c.Members) {
		t.Errorf("%s: Parse(%q) members %q, want %q", c.pos, c.line, members, c.Members)
	}
	if l.SampleRate != c.Rate {
		t.Errorf("%s: Parse(%q) rate %v, want %v", c.pos, c.line, l.SampleRate, c.Rate)
	}
	if l.Relative != c.Rel {
		t.Errorf("%s: Parse(%q) relative %v, want %v", c.pos, c.line, l.Relative, c.Rel)
	}
	if c.DogTags != nil && (l.DogTags == nil || string(l.DogTags) != *c.DogTags) {
		t.Errorf("%s: Parse(%q) dog tags %q (nil %v), want %q", c.pos, c.line, l.DogTags, l.DogTags == nil, *c.DogTags)
	}
	if l.DroppedTags != c.Dropped {
		t.Errorf("%s: Parse(%q) dropped tags %d, want %d", c.pos, c.line, l.DroppedTags, c.Dropped)
	}
	tags, err := l.Tags(nil)
	if err != nil {
		t.Errorf("%s: Tags after Parse(%q) = %v", c.pos, c.line, err)
	}
	var got [][2]string
	for _, tg := range tags {
		got = append(got, [2]string{string(tg.Key), string(tg.Value)})
	}
	if len(got) != len(c.Tags) {
		t.Errorf("%s: Parse(%q) tags %q, want %q", c.pos, c.line, got, c.Tags)
		return
	}
	for i := range got {
		if got[i] != c.Tags[i] {
			t.Errorf("%s: Parse(%q) tags %q, want %q", c.pos, c.line, got, c.Tags)
			return
		}
	}
}

func floatsEqual(a, b []float64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] && !(math.IsNaN(a[i]) && math.IsNaN(b[i])) {
			return false
		}
	}
	return true
}

// joinLines builds a datagram.
func joinLines(lines ...[]byte) []byte {
	return bytes.Join(lines, []byte("\n"))
}
