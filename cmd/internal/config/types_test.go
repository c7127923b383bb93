package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestParseByteSize(t *testing.T) {
	tests := []struct {
		in   string
		want ByteSize
		err  string // substring of the error; "" means success
	}{
		{"0", 0, ""},
		{"1400", 1400, ""},
		{"1400B", 1400, ""},
		{"64KiB", 64 << 10, ""},
		{"32MiB", 32 << 20, ""},
		{"2GiB", 2 << 30, ""},
		{"1TiB", 1 << 40, ""},
		{"64KB", 64000, ""},
		{"32MB", 32000000, ""},
		{"2GB", 2000000000, ""},
		{"1TB", 1000000000000, ""},
		{"1.5MiB", 1536 << 10, ""},
		{"0.5KiB", 512, ""},
		{"9223372036854775807", 1<<63 - 1, ""},
		{"9223372036854775808", 0, "out of range"},
		{"8388607TiB", (1<<23 - 1) << 40, ""},
		{"8388608TiB", 0, "out of range"}, // 2^63
		{"9223372036854775.808KB", 0, "out of range"},
		{"9223372036854775.807KB", 1<<63 - 1, ""},
		{"1.0001KB", 0, "not a whole number of bytes"},
		{"1.1B", 0, "not a whole number of bytes"},
		{"", 0, "expected a byte size"},
		{"MiB", 0, "expected a byte size"},
		{"-1", 0, "expected a byte size"},
		{"+1", 0, "expected a byte size"},
		{"32 MiB", 0, "expected a byte size"},
		{"32mib", 0, "expected a byte size"},
		{"32Mb", 0, "expected a byte size"},
		{"1e3", 0, "expected a byte size"},
		{"1.", 0, "expected a byte size"},
		{".5KiB", 0, "expected a byte size"},
		{"1_000", 0, "expected a byte size"},
		{"0x10", 0, "expected a byte size"},
	}
	for _, tt := range tests {
		got, err := ParseByteSize(tt.in)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("ParseByteSize(%q): %v", tt.in, err)
		case tt.err == "" && got != tt.want:
			t.Errorf("ParseByteSize(%q) = %d, want %d", tt.in, got, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("ParseByteSize(%q) = %d, %v; want error containing %q", tt.in, got, err, tt.err)
		}
	}
}

func TestByteSizeString(t *testing.T) {
	tests := []struct {
		in   ByteSize
		want string
	}{
		{0, "0"},
		{1, "1"},
		{1432, "1432"},
		{65535, "65535"},
		{65536, "64KiB"},
		{1536 << 10, "1536KiB"},
		{32 << 20, "32MiB"},
		{3 << 30, "3GiB"},
		{5 << 40, "5TiB"},
		{64000, "64000"},
		{-1, "-1"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("ByteSize(%d).String() = %q, want %q", int64(tt.in), got, tt.want)
		}
		if tt.in < 0 {
			continue
		}
		back, err := ParseByteSize(tt.want)
		if err != nil || back != tt.in {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", tt.want, back, err, tt.in)
		}
	}
}

const hunter2 = "hunter2-very-secret"

// secretDoc holds a Secret the way a future section (remote_write,
// loki basic auth) will.
type secretDoc struct {
	User     string `yaml:"user"`
	Password Secret `yaml:"password"`
	Token    Secret `yaml:"token"`
}

func TestSecretDecodesButNeverRenders(t *testing.T) {
	var d secretDoc
	if err := decodeYAML([]byte("user: bob\npassword: "+hunter2+"\n"), "s.yml", "", &d); err != nil {
		t.Fatal(err)
	}
	if string(d.Password) != hunter2 {
		t.Fatalf("decoded password %q, want the real value", string(d.Password))
	}

	var logBuf bytes.Buffer
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("cfg", "password", d.Password, "doc", d)
	var jsonLog bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("cfg", "password", d.Password, "doc", d)
	jsonOut, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	yamlOut, err := yaml.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	dump, err := encodeYAML(&d)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"String":        d.Password.String(),
		"%v":            fmt.Sprintf("%v", d),
		"%+v":           fmt.Sprintf("%+v", d),
		"%#v":           fmt.Sprintf("%#v", d),
		"%s":            fmt.Sprintf("%s", d.Password),
		"%q":            fmt.Sprintf("%q", d.Password),
		"%x":            fmt.Sprintf("%x", d.Password),
		"%d":            fmt.Sprintf("%d", d.Password),
		"pointer %+v":   fmt.Sprintf("%+v", &d),
		"slog text":     logBuf.String(),
		"slog json":     jsonLog.String(),
		"json.Marshal":  string(jsonOut),
		"yaml.Marshal":  string(yamlOut),
		"config dump":   string(dump),
		"error message": fmt.Errorf("bad password %v", d.Password).Error(),
	}
	for name, out := range outputs {
		out = strings.NewReplacer(`\u003c`, "<", `\u003e`, ">").Replace(out) // encoding/json escapes HTML
		if strings.Contains(out, "hunter2") || strings.Contains(out, fmt.Sprintf("%x", hunter2)) {
			t.Errorf("%s leaks the secret: %s", name, out)
		}
		if !strings.Contains(out, "<secret>") {
			t.Errorf("%s does not show <secret>: %s", name, out)
		}
	}
	if want := "user: bob\npassword: <secret>\ntoken: \"\"\n"; string(dump) != want {
		t.Errorf("dump =\n%s\nwant\n%s", dump, want)
	}
}

// An unset secret renders as empty, so a dump tells whether it is set.
func TestEmptySecret(t *testing.T) {
	var s Secret
	if got := fmt.Sprintf("%v|%s|%q", s, s, s); got != `||""` {
		t.Errorf("got %s", got)
	}
}

// The dump of any declared struct parses back to the same value, which is
// what makes `copenhagen check config` output usable as a config file.
func TestEncodeRoundTripAllTypes(t *testing.T) {
	d := newTestDoc()
	data := strings.Replace(string(mustRead(t, "testdata/decode/all_types.yml")), "password: \"0123-hunter2\"", "password: \"\"", 1)
	if err := decodeYAML([]byte(data), "all_types.yml", "/cfg", d); err != nil {
		t.Fatal(err)
	}
	d.Ratio = 1e-300 // shortest float formatting must round-trip too
	out, err := encodeYAML(d)
	if err != nil {
		t.Fatal(err)
	}
	back := newTestDoc()
	if err := decodeYAML(out, "dump.yml", "/elsewhere", back); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !reflect.DeepEqual(back, d) {
		t.Errorf("round trip changed the value:\n%s\n%#v\n%#v", out, d, back)
	}
}
