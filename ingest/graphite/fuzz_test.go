package graphite

import (
	"bufio"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func checkPoint(t *testing.T, in []byte, p *Point) {
	t.Helper()
	switch {
	case len(p.Name) == 0:
		t.Fatalf("%q: accepted with an empty name", in)
	case !utf8.Valid(p.Path):
		t.Fatalf("%q: path not UTF-8", in)
	case math.IsNaN(p.Value):
		t.Fatalf("%q: NaN accepted", in)
	case p.Timestamp < 0 || p.Timestamp > maxTimestamp*1000+999:
		t.Fatalf("%q: timestamp %d", in, p.Timestamp)
	}
	seen := map[string]bool{}
	for _, tg := range p.Tags {
		if len(tg.Key) == 0 || len(tg.Value) == 0 || strings.ContainsAny(string(tg.Key), ";!^=") ||
			strings.Contains(string(tg.Value), ";") || tg.Value[0] == '~' || string(tg.Key) == "name" || seen[string(tg.Key)] {
			t.Fatalf("%q: bad tag %q=%q", in, tg.Key, tg.Value)
		}
		seen[string(tg.Key)] = true
	}
}

func FuzzParseLine(f *testing.F) {
	fh, err := os.Open("testdata/plaintext.txt")
	if err != nil {
		f.Fatal(err)
	}
	sc := bufio.NewScanner(fh)
	for sc.Scan() {
		if in, _, ok := strings.Cut(sc.Text(), "\t=>\t"); ok && !strings.HasPrefix(in, "#") {
			f.Add([]byte(in))
		}
	}
	fh.Close()
	f.Fuzz(func(t *testing.T, in []byte) {
		var p Point
		if err := p.ParseLine(in, 1_700_000_000_000); err != nil {
			if _, ok := err.(*ParseError); !ok {
				t.Fatalf("%q: error of type %T", in, err)
			}
			return
		}
		checkPoint(t, in, &p)
	})
}

func FuzzPickle(f *testing.F) {
	files, _ := filepath.Glob("testdata/pickle/*.pickle")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	var d PickleDecoder // reused, as a connection reuses it
	f.Fuzz(func(t *testing.T, in []byte) {
		items, err := d.Decode(in)
		if err != nil {
			if (err != ErrBadPickle && err != ErrPickleTooComplex) || items != nil {
				t.Fatalf("err %v items %d", err, len(items))
			}
			return
		}
		if len(items) > len(in) {
			t.Fatalf("%d items from %d bytes", len(items), len(in))
		}
		// Nothing larger than an ordinary frame needs is kept.
		if held := cap(d.stack) + cap(d.marks) + cap(d.memo) + cap(d.elems); held > 4*keepUnits {
			t.Fatalf("decoder holds %d values after the call", held)
		}
		p := NewProcessor(sinkFunc(func(pt *Point) {}), nil, ProcessorOptions{})
		p.ProcessPickle(in)
		for _, it := range items {
			if it.Err == nil && len(it.Path) > len(in)*4 {
				t.Fatalf("path longer than the payload allows")
			}
		}
	})
}

type sinkFunc func(p *Point)

func (f sinkFunc) Point(p *Point) { f(p) }
