package config

import (
	"errors"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Values of logs.start_at.
var StartAts = []string{"beginning", "end"}

// LogsConfig configures log tailing (issue 4). Tailing runs only when
// loki.url is set, so the default configuration needs no log server.
type LogsConfig struct {
	// Paths are globs of container log files (kubelet's layout gives
	// namespace, pod and container labels). ".gz" and ".tmp" files are
	// never read.
	Paths []string `yaml:"paths"`
	// Files are plain files on VMs, each glob with its static labels.
	Files []LogFileConfig `yaml:"files"`
	// StartAt applies to files found at the first start (no positions
	// file yet): "beginning" ships their history, "end" only new lines.
	// Files created later are always read from their start.
	StartAt string `yaml:"start_at"`
	// PositionsFile records, per file, the offset up to which Loki has
	// acknowledged every entry.
	PositionsFile Path `yaml:"positions_file"`
	// PositionsSyncInterval is the least time between two rewrites of the
	// positions file (each costs two fsyncs); 0 rewrites it after every
	// acknowledged batch. After a kill -9, up to this much acknowledged
	// data is sent again, on top of the unacknowledged window.
	PositionsSyncInterval time.Duration `yaml:"positions_sync_interval"`
	// Node is the node label; "" means $NODE_NAME, else the host name.
	Node string `yaml:"node"`
	// Multiline rules, first match wins, by glob on the file path.
	Multiline    []MultilineConfig `yaml:"multiline"`
	PollInterval time.Duration     `yaml:"poll_interval"`
	ScanInterval time.Duration     `yaml:"scan_interval"`
	// MaxLineSize bounds one line in memory; longer lines are cut.
	MaxLineSize ByteSize `yaml:"max_line_size"`
	// MaxStreams bounds distinct label sets; beyond it files go to an
	// overflow stream (counted, not dropped).
	MaxStreams          int `yaml:"max_streams"`
	MaxLabelValueLength int `yaml:"max_label_value_length"`
}

// LogFileConfig is one entry of logs.files.
type LogFileConfig struct {
	Path   Path              `yaml:"path"` // a file or a glob
	Labels map[string]string `yaml:"labels"`
}

// MultilineConfig groups continuation lines into one entry.
type MultilineConfig struct {
	Path      string        `yaml:"path"`       // glob on the file path
	FirstLine string        `yaml:"first_line"` // regexp of the first line of an entry
	MaxLines  int           `yaml:"max_lines"`
	MaxWait   time.Duration `yaml:"max_wait"`
}

// SetDefaults sets the values used for keys absent from the file.
func (c *MultilineConfig) SetDefaults() {
	c.MaxLines = 500
	c.MaxWait = 3 * time.Second
}

// Validate checks what types alone cannot.
func (c *MultilineConfig) Validate() error {
	var errs []error
	if _, err := filepath.Match(c.Path, ""); err != nil || c.Path == "" {
		errs = append(errs, Fieldf("path", "expected a glob of log file paths, got %s", quote(c.Path)))
	}
	if _, err := regexp.Compile(c.FirstLine); err != nil || c.FirstLine == "" {
		errs = append(errs, Fieldf("first_line", "expected a regular expression, got %s", quote(c.FirstLine)))
	}
	if c.MaxLines <= 0 {
		errs = append(errs, Fieldf("max_lines", "must be greater than 0, got %d", c.MaxLines))
	}
	if c.MaxWait <= 0 {
		errs = append(errs, Fieldf("max_wait", "must be greater than 0"))
	}
	return errors.Join(errs...)
}

// SetDefaults sets the values used for keys absent from the file.
func (c *LogsConfig) SetDefaults() {
	c.Paths = []string{"/var/log/pods/*/*/*.log"}
	c.StartAt = "beginning"
	c.PositionsFile = "logs-positions.json"
	c.PositionsSyncInterval = 100 * time.Millisecond
	c.PollInterval = 250 * time.Millisecond
	c.ScanInterval = 10 * time.Second
	c.MaxLineSize = 256 << 10
	c.MaxStreams = 10000
	c.MaxLabelValueLength = 2048
}

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// Validate checks what types alone cannot.
func (c *LogsConfig) Validate() error {
	var errs []error
	for i, p := range c.Paths {
		if _, err := filepath.Match(p, ""); err != nil || p == "" {
			errs = append(errs, Fieldf("paths["+strconv.Itoa(i)+"]", "expected a glob, got %s", quote(p)))
		}
	}
	for i, f := range c.Files {
		field := "files[" + strconv.Itoa(i) + "]"
		if _, err := filepath.Match(string(f.Path), ""); err != nil || f.Path == "" {
			errs = append(errs, Fieldf(field+".path", "expected a file path or glob, got %s", quote(string(f.Path))))
		}
		if len(f.Labels) > 10 {
			errs = append(errs, Fieldf(field+".labels", "at most 10 static labels (Loki allows 15 per stream), got %d", len(f.Labels)))
		}
		for k := range f.Labels {
			if !labelNameRE.MatchString(k) || strings.HasPrefix(k, "__") {
				errs = append(errs, Fieldf(field+".labels", "invalid label name %s", quote(k)))
			}
		}
	}
	if c.StartAt != "beginning" && c.StartAt != "end" {
		errs = append(errs, Fieldf("start_at", "expected one of %s, got %s", strings.Join(StartAts, ", "), quote(c.StartAt)))
	}
	if c.PositionsFile == "" {
		errs = append(errs, Fieldf("positions_file", "must be set"))
	}
	if c.PositionsSyncInterval < 0 {
		errs = append(errs, Fieldf("positions_sync_interval", "must be 0 (after every acknowledgement) or more"))
	}
	if c.PollInterval <= 0 {
		errs = append(errs, Fieldf("poll_interval", "must be greater than 0"))
	}
	if c.ScanInterval <= 0 {
		errs = append(errs, Fieldf("scan_interval", "must be greater than 0"))
	}
	if c.MaxLineSize < 1024 {
		errs = append(errs, Fieldf("max_line_size", "must be at least 1KiB, got %v", c.MaxLineSize))
	}
	if c.MaxStreams < 0 {
		errs = append(errs, Fieldf("max_streams", "must be 0 (no limit) or more, got %d", c.MaxStreams))
	}
	if c.MaxLabelValueLength <= 0 {
		errs = append(errs, Fieldf("max_label_value_length", "must be greater than 0, got %d", c.MaxLabelValueLength))
	}
	return errors.Join(errs...)
}

// LokiConfig configures the Loki push client (issue 4). An empty URL
// disables log shipping and tailing altogether.
type LokiConfig struct {
	// URL is the full push URL, e.g. http://loki:3100/loki/api/v1/push.
	URL      string `yaml:"url"`
	TenantID string `yaml:"tenant_id"` // X-Scope-OrgID; "" sends none
	// BatchSize and BatchWait: a request goes when either is reached.
	BatchSize ByteSize      `yaml:"batch_size"`
	BatchWait time.Duration `yaml:"batch_wait"`
	// MaxBuffer bounds memory while Loki is slow or down: reading pauses
	// when this many bytes are queued or in flight.
	MaxBuffer  ByteSize      `yaml:"max_buffer"`
	Timeout    time.Duration `yaml:"timeout"`
	MinBackoff time.Duration `yaml:"min_backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// MaxLineSize is the server's line limit; longer lines are truncated
	// with a marker, or dropped when DropLongLines. Both are counted.
	MaxLineSize   ByteSize `yaml:"max_line_size"`
	DropLongLines bool     `yaml:"drop_long_lines"`
	// ShutdownTimeout bounds the last flush at shutdown; what is not sent
	// by then is read again at the next start.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// HTTPClientConfig: basic_auth, bearer_token_file, tls_config,
	// oauth2, proxy_url (httpclient.go), as for remote_write.
	HTTPClientConfig `yaml:",inline"`
}

// SetDefaults sets the values used for keys absent from the file.
func (c *LokiConfig) SetDefaults() {
	c.BatchSize = 1 << 20
	c.BatchWait = time.Second
	c.MaxBuffer = 16 << 20
	c.Timeout = 10 * time.Second
	c.MinBackoff = 500 * time.Millisecond
	c.MaxBackoff = 30 * time.Second
	c.MaxLineSize = 256000
	c.ShutdownTimeout = 10 * time.Second
}

// Validate checks what types alone cannot.
func (c *LokiConfig) Validate() error {
	var errs []error
	if c.URL != "" && !strings.HasPrefix(c.URL, "http://") && !strings.HasPrefix(c.URL, "https://") {
		errs = append(errs, Fieldf("url", `expected the full push URL like "http://loki:3100/loki/api/v1/push", or "" to disable, got %s`, quote(c.URL)))
	}
	for _, p := range []struct {
		name string
		v    int64
	}{{"batch_size", int64(c.BatchSize)}, {"max_buffer", int64(c.MaxBuffer)}, {"batch_wait", int64(c.BatchWait)},
		{"timeout", int64(c.Timeout)}, {"min_backoff", int64(c.MinBackoff)}, {"max_backoff", int64(c.MaxBackoff)},
		{"shutdown_timeout", int64(c.ShutdownTimeout)}} {
		if p.v <= 0 {
			errs = append(errs, Fieldf(p.name, "must be greater than 0"))
		}
	}
	if c.MaxBuffer < c.BatchSize {
		errs = append(errs, Fieldf("max_buffer", "must be at least batch_size (%v), got %v", c.BatchSize, c.MaxBuffer))
	}
	if c.MaxLineSize < 0 {
		errs = append(errs, Fieldf("max_line_size", "must be 0 (no limit) or more"))
	}
	return errors.Join(errs...)
}
