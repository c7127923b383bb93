package graphiteql

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseTable(t *testing.T) {
	path := filepath.Join("testdata", "parse.txt")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	var in *string
	var want strings.Builder
	n := 0
	flush := func() {
		if in == nil {
			return
		}
		got := parseResult(t, *in)
		if !*update && got != want.String() {
			t.Errorf("in %q:\nwant %sgot  %s", *in, want.String(), got)
		}
		out.WriteString(got)
		in = nil
		want.Reset()
	}
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "in:"):
			flush()
			s := strings.TrimPrefix(strings.TrimPrefix(line, "in:"), " ")
			in = &s
			n++
			out.WriteString(line + "\n")
		case in != nil && (strings.HasPrefix(line, "out: ") || strings.HasPrefix(line, "err: ")):
			want.WriteString(line + "\n")
		default:
			flush()
			out.WriteString(line + "\n")
		}
	}
	flush()
	if n < 30 {
		t.Fatalf("only %d cases", n)
	}
	if *update {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func parseResult(t *testing.T, in string) string {
	n, err := Parse(in)
	if err != nil {
		e, ok := err.(*Error)
		if !ok {
			t.Errorf("%q: error is %T, not *Error", in, err)
			return "err: " + err.Error() + "\n"
		}
		if e.Offset < 0 || e.Offset > len(in) || e.Column < 1 {
			t.Errorf("%q: bad position %+v", in, e)
		}
		return fmt.Sprintf("err: offset %d: %s\n", e.Offset, e.Error())
	}
	checkRoundTrip(t, in, n)
	return "out: " + Format(n) + "\n"
}

// checkRoundTrip parses the formatted form again and compares the trees,
// positions aside.
func checkRoundTrip(t testing.TB, in string, n Node) {
	t.Helper()
	f := Format(n)
	m, err := Parse(f)
	if err != nil {
		t.Fatalf("%q formats as %q, which does not parse: %v", in, f, err)
	}
	if f2 := Format(m); f2 != f {
		t.Fatalf("%q: format not stable: %q then %q", in, f, f2)
	}
	a, b := stripPos(n), stripPos(m)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("%q: round trip changed the tree:\n%#v\n%#v", in, a, b)
	}
}

// stripPos returns a copy of the tree with positions zeroed.
func stripPos(n Node) Node {
	switch n := n.(type) {
	case *Path:
		c := &Path{Text: "", Segments: make([]Segment, len(n.Segments))}
		for i, s := range n.Segments {
			c.Segments[i] = Segment{Pieces: normPieces(s.Pieces)}
		}
		return c
	case *Call:
		c := &Call{Name: n.Name}
		for _, a := range n.Args {
			c.Args = append(c.Args, stripPos(a))
		}
		for _, k := range n.Kwargs {
			c.Kwargs = append(c.Kwargs, Kwarg{Name: k.Name, Value: stripPos(k.Value)})
		}
		return c
	case *String:
		return &String{Value: n.Value, Quote: n.Quote}
	case *Number:
		return &Number{Value: n.Value}
	case *Bool:
		return &Bool{Value: n.Value}
	case *None:
		return &None{}
	}
	return n
}

func normPieces(ps []Piece) []Piece {
	if len(ps) == 0 {
		return nil
	}
	out := make([]Piece, len(ps))
	for i, p := range ps {
		out[i] = p
		out[i].Alts = nil
		for _, a := range p.Alts {
			out[i].Alts = append(out[i].Alts, normPieces(a))
		}
	}
	return out
}

func TestParsePositions(t *testing.T) {
	n, err := Parse("sumSeries(a.b, scale(c.*, 2))")
	if err != nil {
		t.Fatal(err)
	}
	c := n.(*Call)
	if c.Pos() != 0 || c.Args[0].Pos() != 10 {
		t.Fatalf("positions %d %d", c.Pos(), c.Args[0].Pos())
	}
	inner := c.Args[1].(*Call)
	if inner.Pos() != 15 || inner.Args[0].Pos() != 21 || inner.Args[1].Pos() != 26 {
		t.Fatalf("inner positions %d %d %d", inner.Pos(), inner.Args[0].Pos(), inner.Args[1].Pos())
	}
	// Columns count characters, not bytes.
	_, err = Parse("héllo.wörld(")
	e := err.(*Error)
	if e.Offset != 13 || e.Column != 12 {
		t.Fatalf("offset %d column %d", e.Offset, e.Column)
	}
}

func TestParseDepthLimit(t *testing.T) {
	s := strings.Repeat("f(", 10000) + "a" + strings.Repeat(")", 10000)
	if _, err := Parse(s); err == nil || !strings.Contains(err.Error(), "nested") {
		t.Fatalf("deep nesting: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	for _, file := range []string{"parse.txt", "translate.txt"} {
		data, err := os.ReadFile(filepath.Join("testdata", file))
		if err != nil {
			f.Fatal(err)
		}
		for _, line := range strings.Split(string(data), "\n") {
			for _, p := range []string{"in: ", "target: "} {
				if s, ok := strings.CutPrefix(line, p); ok {
					f.Add(s)
				}
			}
		}
	}
	rs := resolvers(f)
	f.Fuzz(func(t *testing.T, s string) {
		n, err := Parse(s)
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T", err)
			}
			return
		}
		checkRoundTrip(t, s, n)
		for _, r := range rs {
			for _, res := range []Result{
				Translate(s, r, TranslateOptions{}),
				TranslateLast(s, r, TranslateOptions{From: 11 * 60e9, Until: 60e9}),
			} {
				if res.PromQL != "" {
					if err := CheckPromQL(res.PromQL); err != nil {
						t.Fatalf("%q: %v", s, err)
					}
				}
				if strings.Contains(res.Reason, "internal error") {
					t.Fatalf("%q: %s", s, res.Reason)
				}
			}
		}
	})
}
