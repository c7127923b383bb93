package config

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that no input panics, that every failure is a
// positioned ErrorList, and that every accepted config renders to YAML that
// parses back to the same config. The same input is also decoded into
// testDoc, which covers the decoder kinds the Config does not use yet.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yml", "testdata/*/*.yml"} {
		files, err := filepath.Glob(pattern)
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Add([]byte("statsd: {relay: [&a 'x:1', *a], read_buffer: 1.5KiB}\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("? [a]\n: b\n"))
	f.Add([]byte("http: {listen: \"\\n:1\"}\n"))

	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data, "fuzz.yml")
		if err != nil {
			checkFuzzError(t, err)
		} else {
			dump := c.String()
			back, err := Parse([]byte(dump), "fuzz.yml")
			if err != nil {
				t.Fatalf("dump of an accepted config does not parse: %v\n%s", err, dump)
			}
			if !reflect.DeepEqual(back, c) {
				t.Fatalf("round trip changed the config:\n%s\n%#v\n%#v", dump, c, back)
			}
		}

		d := newTestDoc()
		if err := decodeYAML(data, "fuzz.yml", "/cfg", d); err != nil {
			checkFuzzError(t, err)
			return
		}
		d.Password = "" // rendered as <secret> by design
		if math.IsNaN(d.Ratio) {
			d.Ratio = 0
		}
		out, err := encodeYAML(d)
		if err != nil {
			t.Fatalf("encode: %v", err)
		}
		back := newTestDoc()
		if err := decodeYAML(out, "dump.yml", "/cfg", back); err != nil {
			t.Fatalf("dump does not decode: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, d) {
			t.Fatalf("round trip changed the value:\n%s\n%#v\n%#v", out, d, back)
		}
	})
}

func checkFuzzError(t *testing.T, err error) {
	t.Helper()
	var list ErrorList
	if !errors.As(err, &list) || len(list) == 0 {
		t.Fatalf("error is not a non-empty ErrorList: %#v", err)
	}
	for _, line := range strings.Split(err.Error(), "\n") {
		if !strings.HasPrefix(line, "fuzz.yml") {
			t.Fatalf("error line without the file name: %q", line)
		}
	}
}
