package graphite

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// expectedItem is one line of a testdata/pickle/NAME.json file, written by
// gen_pickles.py from what Python's pickle.loads returned.
type expectedItem struct {
	Error    bool    `json:"error"`
	Bad      bool    `json:"bad"`
	Path     string  `json:"path"`
	TS       float64 `json:"ts"`
	Value    float64 `json:"value"`
	TSBad    bool    `json:"ts_bad"`
	ValueBad bool    `json:"value_bad"`
}

func readExpected(t *testing.T, file string) []expectedItem {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []expectedItem
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var e expectedItem
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		out = append(out, e)
	}
	return out
}

func TestPickleDecodeMatchesPython(t *testing.T) {
	files, err := filepath.Glob("testdata/pickle/*.pickle")
	if err != nil || len(files) < 20 {
		t.Fatalf("pickle testdata missing (%d files, %v): run gen_pickles.py", len(files), err)
	}
	var d PickleDecoder // one decoder for all: reuse must not leak state
	for _, file := range files {
		base := filepath.Base(file)
		name := base[:strings.IndexByte(base, '.')]
		want := readExpected(t, filepath.Join("testdata/pickle", name+".json"))
		payload, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		items, err := d.Decode(payload)
		if len(want) == 1 && want[0].Error {
			if err != ErrBadPickle {
				t.Errorf("%s: err = %v with %d items, want bad_pickle", base, err, len(items))
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", base, err)
			continue
		}
		if len(items) != len(want) {
			t.Errorf("%s: %d items, want %d", base, len(items), len(want))
			continue
		}
		for i, w := range want {
			it := items[i]
			switch {
			case w.Bad:
				if it.Err != ErrBadPickleItem {
					t.Errorf("%s[%d]: want a bad item, got %+v", base, i, it)
				}
			case it.Err != nil:
				t.Errorf("%s[%d]: %v", base, i, it.Err)
			case string(it.Path) != w.Path:
				t.Errorf("%s[%d]: path %q, want %q", base, i, it.Path, w.Path)
			case it.TimestampOK == w.TSBad || it.ValueOK == w.ValueBad:
				t.Errorf("%s[%d]: ok ts %v value %v, want bad ts %v value %v", base, i, it.TimestampOK, it.ValueOK, w.TSBad, w.ValueBad)
			case it.TimestampOK && it.Timestamp != w.TS, it.ValueOK && it.Value != w.Value:
				t.Errorf("%s[%d]: (%v, %v), want (%v, %v)", base, i, it.Timestamp, it.Value, w.TS, w.Value)
			}
		}
	}
}

func TestPickleRejectsMalformed(t *testing.T) {
	good, err := os.ReadFile("testdata/pickle/basic.p2.pickle")
	if err != nil {
		t.Fatal(err)
	}
	var d PickleDecoder
	if _, err := d.Decode(good); err != nil {
		t.Fatal(err)
	}
	// Every truncation of a good payload is refused, never a panic.
	for n := range len(good) {
		if _, err := d.Decode(good[:n]); err != ErrBadPickle {
			t.Fatalf("truncated to %d bytes: err = %v", n, err)
		}
	}
	cases := map[string][]byte{
		"trailing bytes after STOP": append(bytes.Clone(good), 'x'),
		"GET of an unset memo":      []byte("\x80\x02]h\x05a."),
		"PUT index out of range":    []byte("\x80\x02]r\xff\xff\xff\x7f."),
		"sparse PUT index":          []byte("\x80\x02]q\x05."),
		"APPEND to a non-list":      []byte("\x80\x02K\x01K\x02a."),
		"TUPLE2 across a MARK":      []byte("\x80\x02](K\x01\x86e."),
		"unknown protocol":          []byte("\x80\x09]."),
		"GLOBAL":                    []byte("cos\nsystem\n."),
		"LONG1 longer than 8 bytes": []byte("\x80\x02]\x8a\x09\x01\x01\x01\x01\x01\x01\x01\x01\x01a."),
		"STRING without quotes":     []byte("(lp0\nSabc\na."),
		"bad \\x escape":            []byte("(lp0\n(S'a\\xZZ'\n(I1\nI2\nttp1\na."),
		"bad \\u escape":            []byte("(lp0\n(Va\\u12\n(I1\nI2\nttp1\na."),
		"two values left":           []byte("\x80\x02]]."),
		"empty":                     nil,
	}
	for name, b := range cases {
		if items, err := d.Decode(b); err != ErrBadPickle {
			t.Errorf("%s: err = %v, items %d", name, err, len(items))
		}
	}
}

func TestPickleDecodeAllocatesNothingOnceWarm(t *testing.T) {
	payload, err := os.ReadFile("testdata/pickle/many.p2.pickle")
	if err != nil {
		t.Fatal(err)
	}
	var d PickleDecoder
	if _, err := d.Decode(payload); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(20, func() { _, _ = d.Decode(payload) }); n != 0 {
		t.Fatalf("allocs per decode = %v, want 0", n)
	}
}
