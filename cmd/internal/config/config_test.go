package config

import (
	"errors"
	"flag"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// wantDefault spells out the documented defaults independently of
// SetDefaults, so that changing a default is a visible decision.
func wantDefault() *Config {
	return &Config{
		HTTP: HTTPConfig{Listen: ":9095", ReadTimeout: 30 * time.Second, MaxRequestBodySize: 10 << 20,
			MaxQueryLength: 64 << 10, MaxQueryDepth: 128, MaxQueryOperators: 1000},
		Log: LogConfig{Level: "info", Format: "logfmt"},
		StatsD: StatsDConfig{
			UDP:               ":8125",
			TCP:               ":8125",
			FlushInterval:     10 * time.Second,
			MaxSeries:         200000,
			ReadBuffer:        32 * 1024 * 1024,
			MaxDatagramSize:   65535,
			MaxLineLength:     65535,
			TCPMaxConnections: 1024,
			TCPIdleTimeout:    5 * time.Minute,
			MaxSetSize:        100000,
			RelayQueueSize:    10000,
			RelayPacketSize:   1432,
			LabelLimits:       wantLabelLimitsDefault(), // limits_test.go
		},
		Graphite: wantGraphiteDefault(), // graphite_test.go
		Storage:  wantStorageDefault(),  // storage_test.go
		Logs:     wantLogsDefault(),     // logs_test.go
		Loki:     wantLokiDefault(),     // logs_test.go
		Rules:    wantRulesDefault(),    // rules_test.go
		Alerting: wantAlertingDefault(), // alerting_test.go
		Shadow:   wantShadowDefault(),   // shadow_test.go

		ShutdownTimeout: 25 * time.Second,
	}
}

func TestDefault(t *testing.T) {
	got := Default()
	if want := wantDefault(); !reflect.DeepEqual(got, want) {
		t.Fatalf("Default() =\n%+v\nwant\n%+v", got, want)
	}
	// The defaults must pass their own validation.
	if err := decodeYAML(nil, "default", "", got); err != nil {
		t.Fatalf("defaults fail validation: %v", err)
	}
	// Callers may modify the result; that must not leak into the next call.
	got.StatsD.Relay = append(got.StatsD.Relay, "x:1")
	got.HTTP.Listen = "changed"
	if again := Default(); !reflect.DeepEqual(again, wantDefault()) {
		t.Fatalf("Default() shares state between calls: %+v", again)
	}
}

func TestLoadValid(t *testing.T) {
	abs := func(p string) Path {
		a, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		return Path(a)
	}
	tests := []struct {
		file string
		want func(c *Config) // applied to the defaults
	}{
		{"full.yml", func(c *Config) {
			c.HTTP = HTTPConfig{Listen: "127.0.0.1:9100", WebConfigFile: "/etc/copenhagen/web.yml", ReadTimeout: 90 * time.Second,
				MaxRequestBodySize: 1 << 20, MaxQueryLength: 16 << 10, MaxQueryDepth: 64, MaxQueryOperators: 200}
			c.Log = LogConfig{Level: "debug", Format: "json"}
			c.StatsD = StatsDConfig{
				UDP:               "0.0.0.0:9125",
				TCP:               "[::1]:9125",
				Unixgram:          "/run/copenhagen/statsd.sock",
				MappingFile:       "/etc/copenhagen/mapping.yml",
				FlushInterval:     15 * time.Second,
				Relay:             []string{"statsd-a.example.com:8125", "10.0.0.7:8126"},
				MaxSeries:         500000,
				Readers:           4,
				ReadBuffer:        64 << 20,
				MaxDatagramSize:   8192,
				MaxLineLength:     16384,
				TCPMaxConnections: 64,
				TCPIdleTimeout:    time.Hour,
				MaxSetSize:        5000,
				RelayQueueSize:    20000,
				RelayPacketSize:   1400,
				LabelLimits:       wantLabelLimitsDefault(),
			}
		}},
		{"partial.yml", func(c *Config) {
			c.Log.Level = "warn"
			c.StatsD.FlushInterval = time.Minute
			c.StatsD.ReadBuffer = 8 << 20
		}},
		{"disabled.yml", func(c *Config) {
			c.HTTP.Listen = ""
			c.StatsD.UDP = ""
			c.StatsD.TCP = ""
			// statsd.unixgram is absent, so it keeps its default (also "").
		}},
		{"empty.yml", func(c *Config) {}},
		{"anchors.yml", func(c *Config) {
			c.StatsD.UDP = "127.0.0.1:8125"
			c.StatsD.TCP = "127.0.0.1:8125"
			c.StatsD.Relay = []string{"a.example.com:8125", "b.example.com:8125"}
		}},
		{"paths.yml", func(c *Config) {
			c.HTTP.WebConfigFile = "/etc/copenhagen/web.yml" // absolute: kept
			c.StatsD.MappingFile = abs("testdata/mappings/statsd.yml")
			c.StatsD.Unixgram = abs("run/statsd.sock") // testdata/../run
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := loadDocument(filepath.Join("testdata", tt.file))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			want := Default()
			tt.want(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("got\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		file string
		want []string // one per problem, without the "path:" prefix
	}{
		{"unknown_top.yml", []string{
			`3: unknown key "statsd_exporter" (known keys: http, log, statsd, graphite, storage, remote_write, logs, loki, rules, alerting, shadow, shutdown_timeout)`,
		}},
		{"unknown_nested.yml", []string{
			`7: unknown key "statsd.flush_intervall" (known keys: udp, tcp, unixgram, unixgram_mode, mapping_file, flush_interval, relay, max_series, readers, read_buffer, max_datagram_size, max_line_length, tcp_max_connections, tcp_idle_timeout, max_set_size, relay_queue_size, relay_packet_size, label_limit, label_name_length_limit, label_value_length_limit)`,
		}},
		{"bad_duration.yml", []string{
			`4: statsd.flush_interval: expected a duration like "10s", got "ten"`,
		}},
		{"bad_int.yml", []string{
			`2: statsd.max_series: expected an integer, got "200k"`,
		}},
		{"bad_size.yml", []string{
			`2: statsd.read_buffer: expected a byte size like "32MiB" or "1400", got "32 megabytes"`,
		}},
		{"wrong_kind.yml", []string{
			`2: statsd.relay: expected a list, got a mapping`,
		}},
		{"section_scalar.yml", []string{
			`1: statsd: expected a mapping, got "enabled"`,
		}},
		{"duplicate.yml", []string{
			`4: duplicate key "statsd.udp" (first defined on line 2)`,
		}},
		{"validate.yml", []string{
			`2: log.level: expected one of debug, info, warn, error, got "verbose"`,
			`4: statsd.flush_interval: must be greater than 0`,
			`5: statsd.max_datagram_size: must be at most 65535 (the largest UDP datagram), got 64KiB`,
		}},
		{"null_scalar.yml", []string{
			`2: statsd.udp: expected a string, got null (write "" for an empty value)`,
		}},
		{"syntax.yml", []string{
			`3: invalid YAML: found character that cannot start any token (indent with spaces: YAML does not allow tabs)`,
		}},
		{"two_docs.yml", []string{
			`3: expected a single YAML document, found a second one`,
		}},
		{"not_a_mapping.yml", []string{
			`1: expected a mapping, got a list`,
		}},
		{"merge_key.yml", []string{
			`4: log: merge keys ("<<") are not supported; repeat the keys instead`,
		}},
		{"many.yml", []string{
			`2: http.listen: expected host:port like ":9095", or "" to disable, got "9095"`,
			`3: http.read_timeout: expected a duration like "10s", got "forever"`,
			`6: unknown key "log.colour" (known keys: level, format)`,
			`8: statsd.flush_interval: expected a duration like "10s", got "10"`,
			`9: statsd.relay[1]: expected host:port like "statsd.example.com:8125", got "not-an-address"`,
			`10: statsd.readers: must be 0 (one per CPU) or more, got -1`,
			`11: statsd.max_series: must be greater than 0, got 0`,
			`12: statsd.read_buffer: expected a byte size like "32MiB" or "1400", got "1.5B" (not a whole number of bytes)`,
			`14: duplicate key "statsd.udp" (first defined on line 13)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := filepath.Join("testdata", "errors", tt.file)
			cfg, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded, want errors; config:\n%s", cfg)
			}
			if cfg != nil {
				t.Errorf("Load returned a config along with the error")
			}
			want := make([]string, len(tt.want))
			for i, w := range tt.want {
				want[i] = path + ":" + w
			}
			if got := err.Error(); got != strings.Join(want, "\n") {
				t.Errorf("got errors:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
			}
			var list ErrorList
			if !errors.As(err, &list) || len(list) != len(tt.want) {
				t.Fatalf("error is not an ErrorList of %d: %#v", len(tt.want), err)
			}
		})
	}
}

// Tools rely on the structured fields, not only on the text.
func TestErrorFields(t *testing.T) {
	_, err := Parse([]byte("statsd:\n  relay:\n    - ok.example.com:1\n    - bad\n"), "c.yml")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("errors.As(*Error) failed for %v", err)
	}
	want := &Error{File: "c.yml", Line: 4, Key: "statsd.relay[1]",
		Msg: `statsd.relay[1]: expected host:port like "statsd.example.com:8125", got "bad"`}
	if !reflect.DeepEqual(e, want) {
		t.Errorf("got %+v, want %+v", e, want)
	}
}

func TestParseWithoutFilename(t *testing.T) {
	_, err := Parse([]byte("log:\n  level: loud\n"), "")
	if want := `line 2: log.level: expected one of debug, info, warn, error, got "loud"`; err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// A value that failed to decode is reported once, not again by Validate.
func TestNoDoubleReport(t *testing.T) {
	_, err := Parse([]byte("statsd:\n  relay: [ok.example.com:1, [nested]]\n"), "c.yml")
	want := `c.yml:2: statsd.relay[1]: expected a string, got a list`
	if err == nil || err.Error() != want {
		t.Errorf("got\n%v\nwant\n%s", err, want)
	}
}

func TestParseResolvesRelativeToFilename(t *testing.T) {
	data := []byte("statsd:\n  mapping_file: m.yml\n  unixgram: /abs/sock\nhttp:\n  web_config_file: ./sub/../web.yml\n")
	tests := []struct {
		filename         string
		mapping, webConf Path
	}{
		{"conf/copenhagen.yml", "conf/m.yml", "conf/web.yml"},
		{"copenhagen.yml", "m.yml", "web.yml"}, // bare name: relative to the working directory
		{"", "m.yml", "web.yml"},
		{"/etc/copenhagen/copenhagen.yml", "/etc/copenhagen/m.yml", "/etc/copenhagen/web.yml"},
	}
	for _, tt := range tests {
		c, err := Parse(data, tt.filename)
		if err != nil {
			t.Fatalf("%q: %v", tt.filename, err)
		}
		if c.StatsD.MappingFile != tt.mapping || c.HTTP.WebConfigFile != tt.webConf || c.StatsD.Unixgram != "/abs/sock" {
			t.Errorf("%q: mapping_file=%q web_config_file=%q unixgram=%q, want %q %q %q", tt.filename,
				c.StatsD.MappingFile, c.HTTP.WebConfigFile, c.StatsD.Unixgram, tt.mapping, tt.webConf, "/abs/sock")
		}
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join("testdata", "does-not-exist.yml"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want a not-exist error", err)
	}
	if !strings.Contains(err.Error(), "does-not-exist.yml") {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestValidateListenAndRelay(t *testing.T) {
	tests := []struct {
		key, value string
		ok         bool
	}{
		{"udp", `":8125"`, true},
		{"udp", `"127.0.0.1:0"`, true},
		{"udp", `"[::]:8125"`, true},
		{"udp", `"localhost:8125"`, true},
		{"udp", `""`, true},
		{"udp", `"8125"`, false},
		{"udp", `":http"`, false},
		{"udp", `":65536"`, false},
		{"udp", `"host:"`, false},
		{"udp", `"::1:8125"`, false},
		{"relay", `["a.example.com:8125"]`, true},
		{"relay", `["[2001:db8::1]:8125"]`, true},
		{"relay", `[":8125"]`, false},
		{"relay", `["a.example.com:0"]`, false},
		{"relay", `["a.example.com"]`, false},
		{"relay", `[""]`, false},
	}
	for _, tt := range tests {
		doc := "statsd:\n  " + tt.key + ": " + tt.value + "\n"
		_, err := Parse([]byte(doc), "c.yml")
		if (err == nil) != tt.ok {
			t.Errorf("%s: %s: got error %v, want ok=%v", tt.key, tt.value, err, tt.ok)
		}
	}
}

var update = flag.Bool("update", false, "rewrite golden files")

// The dump is what `copenhagen check config` prints; users compare it with
// their file, so its shape is part of the interface.
//
// After adding a section, regenerate the golden file with
// go test ./cmd/internal/config -run TestStringDefault -update
// and read the diff.
func TestStringDefault(t *testing.T) {
	golden := filepath.Join("testdata", "default_dump.yml")
	if *update {
		if err := os.WriteFile(golden, []byte(Default().String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if got := Default().String(); got != string(want) {
		t.Errorf("Default().String() =\n%s\nwant\n%s", got, want)
	}
}

func TestStringRoundTrip(t *testing.T) {
	for _, file := range []string{"full.yml", "partial.yml", "disabled.yml", "empty.yml", "paths.yml"} {
		c, err := loadDocument(filepath.Join("testdata", file))
		if err != nil {
			t.Fatal(err)
		}
		dump := c.String()
		back, err := Parse([]byte(dump), "dump.yml")
		if err != nil {
			t.Fatalf("%s: dump does not parse: %v\n%s", file, err, dump)
		}
		if !reflect.DeepEqual(back, c) {
			t.Errorf("%s: round trip changed the config:\n%s\nbecame\n%s", file, dump, back)
		}
	}
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("testdata", "full.yml"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(data, "full.yml"); err != nil {
			b.Fatal(err)
		}
	}
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func TestExternalURL(t *testing.T) {
	host, _ := os.Hostname()
	cases := []struct{ doc, want string }{
		{"alerting:\n  external_url: https://copenhagen.example.org/sub\n", "https://copenhagen.example.org/sub"},
		{"http:\n  listen: 10.0.0.5:9095\n", "http://10.0.0.5:9095"},
		{"http:\n  listen: :9100\n", "http://" + net.JoinHostPort(host, "9100")},
		{"http:\n  listen: \"[::]:9100\"\n", "http://" + net.JoinHostPort(host, "9100")},
		{"http:\n  listen: \"\"\n", "<nil>"},
	}
	for _, c := range cases {
		cfg, err := Parse([]byte(c.doc), "c.yml")
		if err != nil {
			t.Fatal(err)
		}
		got := "<nil>"
		if u := cfg.ExternalURL(); u != nil {
			got = u.String()
		}
		if got != c.want {
			t.Errorf("%q: ExternalURL() = %s, want %s", c.doc, got, c.want)
		}
	}
}
