package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testDoc exercises every kind the decoder supports, including the hooks,
// independently of the sections Copenhagen has today.
type testDoc struct {
	Name       string                `yaml:"name"`
	Enabled    bool                  `yaml:"enabled"`
	Count      int64                 `yaml:"count"`
	Small      int8                  `yaml:"small"`
	Workers    uint                  `yaml:"workers"`
	Ratio      float64               `yaml:"ratio"`
	Every      time.Duration         `yaml:"every"`
	Size       ByteSize              `yaml:"size"`
	Password   Secret                `yaml:"password"`
	File       Path                  `yaml:"file"`
	TestCommon `yaml:",inline"`      // keys merged into the parent
	Tags       []string              `yaml:"tags"`
	Labels     map[string]string     `yaml:"labels"`
	Targets    []testTarget          `yaml:"targets"`
	ByName     map[string]testTarget `yaml:"by_name"`
	TLS        *testTLS              `yaml:"tls"`
	Untagged   string                // not a config key
	Skipped    string                `yaml:"-"`
}

func (d *testDoc) SetDefaults() {
	d.Name = "doc"
	d.Workers = 2
	d.Every = time.Minute
	d.Tags = []string{"default"}
}

func (d *testDoc) Validate() error {
	if d.Count < 0 {
		return Fieldf("count", "must not be negative")
	}
	return nil
}

type TestCommon struct {
	Region string `yaml:"region"`
}

func (c *TestCommon) SetDefaults() { c.Region = "eu" }

type testTarget struct {
	URL  string `yaml:"url"`
	Port int    `yaml:"port"`
}

func (t *testTarget) SetDefaults() { t.Port = 80 }

func (t *testTarget) Validate() error {
	if t.URL == "" {
		return Fieldf("url", "is required")
	}
	return nil
}

type testTLS struct {
	CAFile     Path   `yaml:"ca_file"`
	Insecure   bool   `yaml:"insecure_skip_verify"`
	MinVersion string `yaml:"min_version"`
}

func (t *testTLS) SetDefaults() { t.MinVersion = "1.2" }

func (t *testTLS) Validate() error {
	if t.Insecure && t.CAFile != "" {
		return errors.New("ca_file and insecure_skip_verify are mutually exclusive")
	}
	return nil
}

func newTestDoc() *testDoc {
	d := &testDoc{}
	applyDefaults(reflect.ValueOf(d).Elem())
	return d
}

func decodeTestDoc(t *testing.T, data string) (*testDoc, error) {
	t.Helper()
	d := newTestDoc()
	err := decodeYAML([]byte(data), "t.yml", "/cfg", d)
	return d, err
}

func TestDecodeAllTypes(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "decode", "all_types.yml"))
	if err != nil {
		t.Fatal(err)
	}
	got := newTestDoc()
	if err := decodeYAML(data, "all_types.yml", "/cfg", got); err != nil {
		t.Fatal(err)
	}
	want := &testDoc{
		Name:       "edge-1",
		Enabled:    true,
		Count:      9000000000,
		Small:      127,
		Workers:    8,
		Ratio:      0.25,
		Every:      90 * time.Minute,
		Size:       1536 * 1024,
		Password:   "0123-hunter2",
		File:       "/cfg/certs/client.pem",
		TestCommon: TestCommon{Region: "us"},
		Tags:       []string{"a", "b"},
		Labels:     map[string]string{"env": "prod", "team": "o11y"},
		Targets: []testTarget{
			{URL: "http://a.example.com", Port: 80}, // element defaults applied
			{URL: "http://b.example.com", Port: 8080},
		},
		ByName: map[string]testTarget{"primary": {URL: "http://p.example.com", Port: 80}},
		TLS:    &testTLS{CAFile: "/etc/ssl/ca.pem", MinVersion: "1.2"}, // allocated with defaults
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got\n%#v\nwant\n%#v", got, want)
	}
}

func TestDecodeDefaultsAndNulls(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want func(d *testDoc)
	}{
		{"empty document keeps every default", "", func(d *testDoc) {}},
		{"absent keys keep defaults", "name: x\n", func(d *testDoc) { d.Name = "x" }},
		{"empty string is a value", "name: ''\n", func(d *testDoc) { d.Name = "" }},
		{"non-string scalars are taken as written", "name: 0123\n", func(d *testDoc) { d.Name = "0123" }},
		{"list replaces the default", "tags: [x]\n", func(d *testDoc) { d.Tags = []string{"x"} }},
		{"null empties a list", "tags:\n", func(d *testDoc) { d.Tags = nil }},
		{"[] empties a list", "tags: []\n", func(d *testDoc) { d.Tags = nil }},
		{"{} empties a map", "labels: {}\n", func(d *testDoc) {}},
		{"null pointer stays nil", "tls: ~\n", func(d *testDoc) {}},
		{"empty mapping allocates with defaults", "tls: {}\n", func(d *testDoc) { d.TLS = &testTLS{MinVersion: "1.2"} }},
		{"relative path resolved", "tls: {ca_file: ca.pem}\n", func(d *testDoc) {
			d.TLS = &testTLS{CAFile: "/cfg/ca.pem", MinVersion: "1.2"}
		}},
		{"empty path stays empty", "file: ''\n", func(d *testDoc) {}},
		{"inline keys", "region: ap\n", func(d *testDoc) { d.Region = "ap" }},
		{"zero duration", "every: 0\n", func(d *testDoc) { d.Every = 0 }},
		{"week and day units", "every: 1w2d\n", func(d *testDoc) { d.Every = 9 * 24 * time.Hour }},
		{"uppercase bool", "enabled: TRUE\n", func(d *testDoc) { d.Enabled = true }},
		{"alias for a list", "tags: &t [p, q]\nlabels: {a: b}\ntargets: [{url: u}]\n", func(d *testDoc) {
			d.Tags = []string{"p", "q"}
			d.Labels = map[string]string{"a": "b"}
			d.Targets = []testTarget{{URL: "u", Port: 80}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeTestDoc(t, tt.doc)
			if err != nil {
				t.Fatal(err)
			}
			want := newTestDoc()
			tt.want(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%#v\nwant\n%#v", got, want)
			}
		})
	}
}

func TestDecodeNullSectionKeepsDefaults(t *testing.T) {
	c, err := Parse([]byte("statsd:\nlog: ~\n"), "c.yml")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("got %s", c)
	}
}

func TestDecodeErrors(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "decode", "errors.yml"))
	if err != nil {
		t.Fatal(err)
	}
	err = decodeYAML(data, "errors.yml", "", newTestDoc())
	want := strings.Join([]string{
		`errors.yml:1: workers: expected a non-negative integer, got "-1"`,
		`errors.yml:2: small: expected an integer between -128 and 127, got "300"`,
		`errors.yml:3: enabled: expected true or false, got "yes"`,
		`errors.yml:4: ratio: expected a number, got "half"`,
		`errors.yml:5: labels: expected a mapping, got a list`,
		`errors.yml:8: tags[1]: expected a string, got a mapping`,
		`errors.yml:9: expected a key, got a list`,
		`errors.yml:13: targets[1].url: is required`,
		`errors.yml:15: by_name.x.url: is required`,
		`errors.yml:17: duplicate key "by_name.x" (first defined on line 15)`,
		`errors.yml:19: tls: ca_file and insecure_skip_verify are mutually exclusive`,
		`errors.yml:22: count: must not be negative`,
	}, "\n")
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestDecodeValueErrors(t *testing.T) {
	tests := []struct{ doc, want string }{
		{"every: 1.5s\n", `t.yml:1: every: expected a duration like "10s", got "1.5s"`},
		{"every: -1s\n", `t.yml:1: every: expected a duration like "10s", got "-1s"`},
		{"every: 1000000y\n", `t.yml:1: every: expected a duration like "10s", got "1000000y" (out of range)`},
		{"every: [1s]\n", `t.yml:1: every: expected a duration like "10s", got a list`},
		{"size: ~\n", `t.yml:1: size: expected a byte size like "32MiB" or "1400", got null`},
		{"size: {a: 1}\n", `t.yml:1: size: expected a byte size like "32MiB" or "1400", got a mapping`},
		{"count: 0x10\n", `t.yml:1: count: expected an integer, got "0x10"`},
		{"count: 99999999999999999999\n", `t.yml:1: count: expected an integer between -9223372036854775808 and 9223372036854775807, got "99999999999999999999"`},
		{"workers: 99999999999999999999\n", `t.yml:1: workers: expected an integer between 0 and 18446744073709551615, got "99999999999999999999"`},
		{"enabled:\n", `t.yml:1: enabled: expected true or false, got null`},
		{"file:\n", `t.yml:1: file: expected a file path, got null (write "" for an empty value)`},
		{"name: " + strings.Repeat("x", 100) + "\nname: y\n", `t.yml:2: duplicate key "name" (first defined on line 1)`},
		{"labels: {a: 1, a: 2}\n", `t.yml:1: duplicate key "labels.a" (first defined on line 1)`},
		{"tls: yes\n", `t.yml:1: tls: expected a mapping, got "yes"`},
		{"targets: {url: x}\n", `t.yml:1: targets: expected a list, got a mapping`},
		{"untagged: x\n", `t.yml:1: unknown key "untagged" (known keys: name, enabled, count, small, workers, ratio, every, size, password, file, region, tags, labels, targets, by_name, tls)`},
		{"tls:\n  ca: x\n", `t.yml:2: unknown key "tls.ca" (known keys: ca_file, insecure_skip_verify, min_version)`},
		// An alias pointing at a bad value is reported where it is used.
		{"name: &n [x]\ntags:\n  - *n\n", `t.yml:1: name: expected a string, got a list` + "\n" + `t.yml:3: tags[0]: expected a string, got a list`},
		// Long values are shortened in messages.
		{"ratio: " + strings.Repeat("9", 70) + "x\n", `t.yml:1: ratio: expected a number, got "` + strings.Repeat("9", 64) + `"...`},
	}
	for _, tt := range tests {
		_, err := decodeTestDoc(t, tt.doc)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%q:\ngot  %v\nwant %s", tt.doc, err, tt.want)
		}
	}
}

// bombNode is recursive so that aliases can nest without bound.
type bombNode struct {
	Kids []bombNode `yaml:"kids"`
}

type bombDoc struct {
	Defs []bombNode `yaml:"defs"`
}

// A few hundred bytes of aliases must not expand into billions of values.
func TestDecodeAliasBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString("defs:\n  - &a0 {kids: []}\n")
	for i := 1; i <= 12; i++ {
		fmt.Fprintf(&b, "  - &a%d {kids: [", i)
		for j := range 10 {
			if j > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "*a%d", i-1)
		}
		b.WriteString("]}\n")
	}
	start := time.Now()
	err := decodeYAML([]byte(b.String()), "bomb.yml", "", &bombDoc{})
	if err == nil || !strings.Contains(err.Error(), "document too complex") {
		t.Fatalf("got %v, want a complexity error", err)
	}
	if strings.Count(err.Error(), "\n") != 0 {
		t.Errorf("complexity error reported more than once:\n%v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("took %v", d)
	}
}

// Declaration mistakes are programming errors and fail loudly on first use,
// whatever the input.
func TestDecodeBadDeclarationsPanic(t *testing.T) {
	type noName struct {
		A string `yaml:",omitempty"`
	}
	type unexported struct {
		a string `yaml:"a"`
	}
	type dupKey struct {
		A string `yaml:"a"`
		B string `yaml:"a"`
	}
	type badType struct {
		C chan int `yaml:"c"`
	}
	type badMap struct {
		M map[int]string `yaml:"m"`
	}
	type inner struct {
		X string `yaml:"x"`
	}
	type unexportedInline struct {
		inner `yaml:",inline"`
	}
	type inlineNotStruct struct {
		S string `yaml:",inline"`
	}
	for _, v := range []any{&noName{}, &unexported{}, &dupKey{}, &badType{}, &badMap{}, &unexportedInline{}, &inlineNotStruct{}} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%T: no panic", v)
				}
			}()
			decodeYAML(nil, "x.yml", "", v)
		}()
	}
	_ = unexported{}.a
	_ = unexportedInline{}.inner
}
