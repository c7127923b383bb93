package config

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// GraphiteConfig configures carbon ingestion (plaintext over TCP and UDP,
// pickle) and relaying to legacy carbon servers.
type GraphiteConfig struct {
	TCP    string `yaml:"tcp"`    // plaintext, host:port; "" disables
	UDP    string `yaml:"udp"`    // plaintext, host:port; "" disables
	Pickle string `yaml:"pickle"` // pickle, host:port; "" disables
	// MappingFile is a statsd_exporter mapping config, the same format as
	// statsd.mapping_file (rules are matched with metric type gauge); ""
	// escapes every path (a.b-c becomes a_b_c).
	MappingFile Path `yaml:"mapping_file"`
	// Relay forwards the received lines, unchanged, to carbon servers.
	Relay GraphiteRelayConfig `yaml:"relay"`
	// MaxSeries caps the distinct series Graphite creates; points of new
	// series beyond it are refused and counted.
	MaxSeries int `yaml:"max_series"`
	// SeriesIdleTimeout is how long a series may go without a point before
	// it stops counting against max_series.
	SeriesIdleTimeout time.Duration `yaml:"series_idle_timeout"`
	MaxLineLength     ByteSize      `yaml:"max_line_length"`
	// MaxPickleFrame bounds one pickle frame; a longer length prefix
	// closes the connection.
	MaxPickleFrame    ByteSize      `yaml:"max_pickle_frame"`
	Readers           int           `yaml:"readers"`     // UDP reader goroutines; 0 means one per CPU
	ReadBuffer        ByteSize      `yaml:"read_buffer"` // UDP SO_RCVBUF
	TCPMaxConnections int           `yaml:"tcp_max_connections"`
	TCPIdleTimeout    time.Duration `yaml:"tcp_idle_timeout"` // 0 means no timeout
	// MaxFuture refuses points stamped further ahead of this host's clock
	// (counted as too_far_in_future): stored, one would move the TSDB
	// head into the future and every point of the present would then be
	// refused as too old.
	MaxFuture time.Duration `yaml:"max_future"`
	// LabelLimits (label_limit, label_name_length_limit,
	// label_value_length_limit) bound the labels of one series.
	LabelLimits `yaml:",inline"`
}

// GraphiteRelayConfig routes lines to carbon servers by their path, the
// way carbon-relay's relay-rules and carbon-relay-ng's routes do.
type GraphiteRelayConfig struct {
	// Mode is "first" (a line goes to the targets of the first route
	// whose regex matches its path) or "all" (to those of every route
	// that matches).
	Mode string `yaml:"mode"`
	// Routes are tried in order. A route without match matches every
	// path, which makes a catch-all last route.
	Routes []GraphiteRelayRoute `yaml:"routes"`
	// QueueSize bounds the bytes waiting for one target while it is slow
	// or down; lines beyond it are dropped and counted.
	QueueSize ByteSize `yaml:"queue_size"`
}

// GraphiteRelayRoute sends the lines whose path matches to its targets.
type GraphiteRelayRoute struct {
	// Match is an RE2 regular expression searched in the path (tags
	// included), unanchored like carbon's relay rules: use ^ and $ to
	// anchor. Empty matches everything.
	Match string `yaml:"match"`
	// Targets are carbon plaintext receivers, host:port (TCP).
	Targets []string `yaml:"targets"`
}

// SetDefaults sets the values used for keys absent from the file.
func (c *GraphiteConfig) SetDefaults() {
	c.TCP = ":2003"
	c.UDP = ":2003"
	c.Pickle = ":2004"
	c.MaxSeries = 1000000
	c.SeriesIdleTimeout = time.Hour
	c.MaxLineLength = 16 << 10
	c.MaxPickleFrame = 4 << 20
	c.ReadBuffer = 32 << 20
	c.TCPMaxConnections = 1024
	c.TCPIdleTimeout = 5 * time.Minute
	c.MaxFuture = 10 * time.Minute
}

// SetDefaults sets the values used for keys absent from the file.
func (c *GraphiteRelayConfig) SetDefaults() {
	c.Mode = "first"
	c.QueueSize = 8 << 20
}

// Validate checks what types alone cannot.
func (c *GraphiteConfig) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(checkListen("tcp", c.TCP, ":2003"))
	add(checkListen("udp", c.UDP, ":2003"))
	add(checkListen("pickle", c.Pickle, ":2004"))
	positive := []struct {
		name string
		v    int64
	}{
		{"max_series", int64(c.MaxSeries)},
		{"series_idle_timeout", int64(c.SeriesIdleTimeout)},
		{"max_line_length", int64(c.MaxLineLength)},
		{"max_pickle_frame", int64(c.MaxPickleFrame)},
		{"read_buffer", int64(c.ReadBuffer)},
		{"tcp_max_connections", int64(c.TCPMaxConnections)},
		{"max_future", int64(c.MaxFuture)},
	}
	for _, p := range positive {
		if p.v <= 0 {
			add(Fieldf(p.name, "must be greater than 0, got %d", p.v))
		}
	}
	if c.Readers < 0 {
		add(Fieldf("readers", "must be 0 (one per CPU) or more, got %d", c.Readers))
	}
	if c.MaxPickleFrame > 1<<30 {
		add(Fieldf("max_pickle_frame", "must be at most 1GiB, got %v", c.MaxPickleFrame))
	}
	return errors.Join(errs...)
}

// Validate checks the mode and the queue size; routes check themselves.
func (c *GraphiteRelayConfig) Validate() error {
	var errs []error
	if c.Mode != "first" && c.Mode != "all" {
		errs = append(errs, Fieldf("mode", `expected "first" or "all", got %s`, quote(c.Mode)))
	}
	if c.QueueSize <= 0 {
		errs = append(errs, Fieldf("queue_size", "must be greater than 0, got %d", c.QueueSize))
	}
	return errors.Join(errs...)
}

// Validate compiles the regex, so that a typo is reported with its line
// at startup or reload rather than never matching.
func (r *GraphiteRelayRoute) Validate() error {
	var errs []error
	if _, err := regexp.Compile(r.Match); err != nil {
		errs = append(errs, Fieldf("match", "invalid regular expression %s: %v", quote(r.Match), unwrapRegexpErr(err)))
	}
	if len(r.Targets) == 0 {
		errs = append(errs, Fieldf("targets", "a route needs at least one target (host:port)"))
	}
	for i, t := range r.Targets {
		if err := checkDial("targets["+strconv.Itoa(i)+"]", t); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// unwrapRegexpErr keeps what the regexp package says is wrong without
// repeating the whole expression.
func unwrapRegexpErr(err error) string {
	return strings.TrimPrefix(err.Error(), "error parsing regexp: ")
}
