// Package config loads Copenhagen's single YAML configuration file.
//
// The file has one section per component (http, log, statsd, graphite,
// storage, remote_write, logs, loki, rules, alerting) and a few top-level
// settings of the process as a whole (shutdown_timeout). It is decoded strictly: unknown and
// duplicate keys, values of the wrong type and values that fail a section's
// Validate method are all errors, reported together, each with the file,
// line and full dotted key:
//
//	copenhagen.yml:7: unknown key "statsd.flush_intervall" (known keys: udp, tcp, ...)
//	copenhagen.yml:4: statsd.flush_interval: expected a duration like "10s", got "ten"
//
// A key absent from the file keeps its default (see Default); an explicit
// empty string is a value of its own, which for listen addresses means
// "disabled". A key with no value (null) is an error for a scalar ("udp:"
// is more likely a slip than a request for the default), empties a list or
// map, and leaves a section at its defaults. A list or map given in the file
// replaces the default as a whole.
//
// Durations use the Prometheus syntax ("10s", "1h30m", "7d"); byte sizes
// accept "32MiB", "64KB" or plain "1400" (see ByteSize).
//
// File paths in the config (type Path: statsd.mapping_file,
// statsd.unixgram, http.web_config_file) are resolved relative to the
// directory of the config file, not the working directory, so a config and
// the files next to it work wherever the process is started from.
//
// Adding a section is declaring a struct with yaml tags, optionally a
// SetDefaults() method for non-zero defaults and a Validate() error method
// for constraints, and adding it as a field of Config. See decode.go for
// the decoding rules. A constraint that spans sections goes into the root
// Config.Validate, one that looks at the disk (a directory to write, a file
// to load) into Config.CheckFiles, which only Load runs (validate.go): the
// configuration, not cmd's wiring, is where `copenhagen check config` and
// `copenhagen run` learn what to refuse, so they cannot disagree.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Config is the whole Copenhagen configuration.
type Config struct {
	HTTP        HTTPConfig          `yaml:"http"`
	Log         LogConfig           `yaml:"log"`
	StatsD      StatsDConfig        `yaml:"statsd"`
	Graphite    GraphiteConfig      `yaml:"graphite"`     // graphite.go
	Storage     StorageConfig       `yaml:"storage"`      // storage.go
	RemoteWrite []RemoteWriteConfig `yaml:"remote_write"` // storage.go
	Logs        LogsConfig          `yaml:"logs"`         // logs.go
	Loki        LokiConfig          `yaml:"loki"`         // logs.go
	Rules       RulesConfig         `yaml:"rules"`        // rules.go
	Alerting    AlertingConfig      `yaml:"alerting"`     // alerting.go
	Shadow      ShadowConfig        `yaml:"shadow"`       // shadow.go
	// ShutdownTimeout is the one budget of a graceful shutdown
	// (shutdown.go).
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
}

// HTTPConfig configures the HTTP server for /metrics, health and APIs.
type HTTPConfig struct {
	// Listen is the host:port to serve on; "" disables the HTTP server.
	Listen string `yaml:"listen"`
	// WebConfigFile is an exporter-toolkit web config (TLS, basic auth).
	WebConfigFile Path `yaml:"web_config_file"`
	// ReadTimeout bounds reading a request; 0 means no timeout.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// MaxRequestBodySize bounds the body of every POST, PUT, PATCH and
	// DELETE (query forms, silences, /-/reload); a larger one is refused
	// with 413 before it is read.
	MaxRequestBodySize ByteSize `yaml:"max_request_body_size"`
	// MaxQueryLength, MaxQueryDepth and MaxQueryOperators bound the PromQL
	// of /api/v1 requests (query and match[]) before it is parsed: its
	// length, its nesting of (), [] and {}, and its operator count.
	MaxQueryLength    ByteSize `yaml:"max_query_length"`
	MaxQueryDepth     int      `yaml:"max_query_depth"`
	MaxQueryOperators int      `yaml:"max_query_operators"`
}

// SetDefaults sets the values used for keys absent from the file.
func (c *HTTPConfig) SetDefaults() {
	c.Listen = ":9095"
	c.ReadTimeout = 30 * time.Second
	c.MaxRequestBodySize = 10 << 20
	c.MaxQueryLength = 64 << 10
	c.MaxQueryDepth = 128
	c.MaxQueryOperators = 1000
}

// Validate checks what types alone cannot.
func (c *HTTPConfig) Validate() error {
	errs := []error{checkListen("listen", c.Listen, ":9095")}
	for _, p := range []struct {
		name string
		v    int64
	}{{"max_request_body_size", int64(c.MaxRequestBodySize)}, {"max_query_length", int64(c.MaxQueryLength)},
		{"max_query_depth", int64(c.MaxQueryDepth)}, {"max_query_operators", int64(c.MaxQueryOperators)}} {
		if p.v <= 0 {
			errs = append(errs, Fieldf(p.name, "must be greater than 0, got %d", p.v))
		}
	}
	if c.MaxQueryLength > c.MaxRequestBodySize {
		errs = append(errs, Fieldf("max_query_length", "must be at most max_request_body_size (%v), got %v", c.MaxRequestBodySize, c.MaxQueryLength))
	}
	return errors.Join(errs...)
}

// Log levels and formats accepted in the log section.
var (
	LogLevels  = []string{"debug", "info", "warn", "error"}
	LogFormats = []string{"logfmt", "json"}
)

// LogConfig configures Copenhagen's own log output.
type LogConfig struct {
	Level  string `yaml:"level"`  // one of LogLevels
	Format string `yaml:"format"` // one of LogFormats
}

// SetDefaults sets the values used for keys absent from the file.
func (c *LogConfig) SetDefaults() {
	c.Level = "info"
	c.Format = "logfmt"
}

// Validate checks what types alone cannot.
func (c *LogConfig) Validate() error {
	var errs []error
	if !slices.Contains(LogLevels, c.Level) {
		errs = append(errs, Fieldf("level", "expected one of %s, got %s", strings.Join(LogLevels, ", "), quote(c.Level)))
	}
	if !slices.Contains(LogFormats, c.Format) {
		errs = append(errs, Fieldf("format", "expected one of %s, got %s", strings.Join(LogFormats, ", "), quote(c.Format)))
	}
	return errors.Join(errs...)
}

// maxUDPPayload is the largest datagram the IP layer can carry; a larger
// buffer or packet setting would be meaningless.
const maxUDPPayload = 65535

// StatsDConfig configures StatsD ingestion and relaying.
type StatsDConfig struct {
	UDP      string `yaml:"udp"`      // host:port; "" disables
	TCP      string `yaml:"tcp"`      // host:port; "" disables
	Unixgram Path   `yaml:"unixgram"` // socket path; "" disables
	// UnixgramMode is the socket's file mode, octal ("0666": apps of any
	// user on the node may send); "" leaves what the umask gives.
	UnixgramMode string `yaml:"unixgram_mode"`
	// MappingFile is a statsd_exporter mapping config; "" means no mapping.
	MappingFile   Path          `yaml:"mapping_file"`
	FlushInterval time.Duration `yaml:"flush_interval"`
	// Relay lists host:port targets that get a copy of every received line.
	Relay []string `yaml:"relay"`
	// MaxSeries caps distinct series; new series beyond it are refused and
	// counted so a cardinality explosion cannot take the process down.
	MaxSeries int `yaml:"max_series"`
	// Readers is the number of UDP reader goroutines; 0 means GOMAXPROCS.
	Readers           int           `yaml:"readers"`
	ReadBuffer        ByteSize      `yaml:"read_buffer"` // SO_RCVBUF
	MaxDatagramSize   ByteSize      `yaml:"max_datagram_size"`
	MaxLineLength     ByteSize      `yaml:"max_line_length"`
	TCPMaxConnections int           `yaml:"tcp_max_connections"`
	TCPIdleTimeout    time.Duration `yaml:"tcp_idle_timeout"` // 0 means no timeout
	// MaxSetSize is how many distinct members are kept per set per flush
	// window; it bounds the memory one hostile set can take.
	MaxSetSize      int      `yaml:"max_set_size"`
	RelayQueueSize  int      `yaml:"relay_queue_size"` // datagrams buffered per relay target
	RelayPacketSize ByteSize `yaml:"relay_packet_size"`
	// LabelLimits (label_limit, label_name_length_limit,
	// label_value_length_limit) bound the labels of one series.
	LabelLimits `yaml:",inline"`
}

// SetDefaults sets the values used for keys absent from the file.
func (c *StatsDConfig) SetDefaults() {
	c.UDP = ":8125"
	c.TCP = ":8125"
	c.FlushInterval = 10 * time.Second
	c.MaxSeries = 200000
	c.ReadBuffer = 32 << 20
	c.MaxDatagramSize = 65535
	c.MaxLineLength = 65535
	c.TCPMaxConnections = 1024
	c.TCPIdleTimeout = 5 * time.Minute
	c.MaxSetSize = 100000
	c.RelayQueueSize = 10000
	c.RelayPacketSize = 1432
}

// Validate checks what types alone cannot.
func (c *StatsDConfig) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(checkListen("udp", c.UDP, ":8125"))
	add(checkListen("tcp", c.TCP, ":8125"))
	if _, err := c.SocketMode(); err != nil {
		add(err)
	}
	if c.FlushInterval <= 0 {
		add(Fieldf("flush_interval", "must be greater than 0"))
	}
	for i, r := range c.Relay {
		add(checkDial("relay["+strconv.Itoa(i)+"]", r))
	}
	positive := []struct {
		name string
		v    int64
	}{
		{"max_series", int64(c.MaxSeries)},
		{"read_buffer", int64(c.ReadBuffer)},
		{"max_datagram_size", int64(c.MaxDatagramSize)},
		{"max_line_length", int64(c.MaxLineLength)},
		{"tcp_max_connections", int64(c.TCPMaxConnections)},
		{"max_set_size", int64(c.MaxSetSize)},
		{"relay_queue_size", int64(c.RelayQueueSize)},
		{"relay_packet_size", int64(c.RelayPacketSize)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			add(Fieldf(p.name, "must be greater than 0, got %d", p.v))
		}
	}
	if c.Readers < 0 {
		add(Fieldf("readers", "must be 0 (one per CPU) or more, got %d", c.Readers))
	}
	if c.MaxDatagramSize > maxUDPPayload {
		add(Fieldf("max_datagram_size", "must be at most %d (the largest UDP datagram), got %v", maxUDPPayload, c.MaxDatagramSize))
	}
	if c.RelayPacketSize > maxUDPPayload {
		add(Fieldf("relay_packet_size", "must be at most %d (the largest UDP datagram), got %v", maxUDPPayload, c.RelayPacketSize))
	}
	return errors.Join(errs...)
}

// checkListen accepts "" (disabled) or host:port with a numeric port; the
// host may be empty (all interfaces). Port 0 (any free port) is allowed.
func checkListen(field, addr, example string) error {
	if addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || !validPort(port, 0) || strings.ContainsAny(host, " \t") {
		return Fieldf(field, `expected host:port like %q, or "" to disable, got %s`, example, quote(addr))
	}
	return nil
}

// checkDial accepts host:port with a non-empty host and a port in 1-65535.
func checkDial(field, addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || !validPort(port, 1) || strings.ContainsAny(host, " \t") {
		return Fieldf(field, `expected host:port like "statsd.example.com:8125", got %s`, quote(addr))
	}
	return nil
}

func validPort(port string, min int) bool {
	if !allDigits(port) {
		return false
	}
	p, err := strconv.Atoi(port)
	return err == nil && p >= min && p <= 65535
}

// Default returns the configuration used when no file is given. It is a
// fresh value on every call; callers may modify it.
func Default() *Config {
	c := &Config{}
	applyDefaults(reflect.ValueOf(c).Elem())
	return c
}

// Load reads and parses the config file at path. Relative paths inside it
// are resolved against the file's directory (made absolute, so they stay
// valid if the working directory changes). Error messages name the file as
// path was given. A problem with the content is an ErrorList; a problem
// reading the file is the wrapped *fs.PathError.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading config: %w", err)
	}
	dir := filepath.Dir(path)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return parse(data, path, dir, true)
}

// Parse parses a config document. filename is used in error messages, and
// relative paths inside the document are resolved against its directory
// (filepath.Dir(filename); "." for a bare name, leaving them relative to the
// working directory). The error, if any, is an ErrorList.
//
// Parse checks the document; Load also checks the files it names and the
// directories it writes to (see CheckFiles), which is what `copenhagen
// check config` and `copenhagen run` need.
func Parse(data []byte, filename string) (*Config, error) {
	return parse(data, filename, filepath.Dir(filename), false)
}

func parse(data []byte, filename, dir string, files bool) (*Config, error) {
	c := Default()
	var extra []validator
	if files {
		extra = append(extra, filesCheck{c})
	}
	if err := decodeYAML(data, filename, dir, c, extra...); err != nil {
		return nil, err
	}
	return c, nil
}

// String renders the effective configuration (defaults included) as YAML
// with secrets redacted, for `copenhagen check config`. The output is a
// valid config that parses back to the same values.
func (c *Config) String() string {
	out, err := encodeYAML(c)
	if err != nil {
		return "# cannot render config: " + err.Error() + "\n"
	}
	return string(out)
}
