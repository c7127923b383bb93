package config

import (
	"errors"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"
)

// Storage modes accepted in storage.mode.
var StorageModes = []string{"server", "agent"}

// StorageConfig configures the embedded Prometheus TSDB (issue 3).
type StorageConfig struct {
	// Mode is "server" (embedded TSDB with the query API) or "agent"
	// (only the WAL that remote write reads, like Prometheus's agent mode).
	Mode string `yaml:"mode"`
	// Path is the data directory (TSDB blocks and WAL).
	Path Path `yaml:"path"`
	// Retention is how long samples are kept (server mode).
	Retention time.Duration `yaml:"retention"`
	// OutOfOrderWindow accepts samples up to this far behind the newest
	// sample of their series: Graphite points carry their own timestamps
	// and arrive late through relays.
	OutOfOrderWindow time.Duration `yaml:"out_of_order_window"`
	// MaxWALAge bounds the remote write backlog in agent mode: WAL
	// segments older than this are dropped even if a receiver has not
	// taken them. Server mode keeps what its head block's WAL holds (two
	// to three hours).
	MaxWALAge time.Duration `yaml:"max_wal_age"`
	// RemoteFlushDeadline is how long shutdown waits for remote write
	// queues to send what they hold.
	RemoteFlushDeadline time.Duration `yaml:"remote_flush_deadline"`
	// LookbackDelta, QueryTimeout and QueryMaxSamples are the PromQL
	// engine's settings (Prometheus's --query.* flags).
	LookbackDelta   time.Duration `yaml:"lookback_delta"`
	QueryTimeout    time.Duration `yaml:"query_timeout"`
	QueryMaxSamples int           `yaml:"query_max_samples"`
}

// SetDefaults sets the values used for keys absent from the file.
func (c *StorageConfig) SetDefaults() {
	c.Mode = "server"
	c.Path = "data" // "data/" relative to the config file
	c.Retention = 15 * 24 * time.Hour
	c.OutOfOrderWindow = 10 * time.Minute
	c.MaxWALAge = 4 * time.Hour
	c.RemoteFlushDeadline = time.Minute
	c.LookbackDelta = 5 * time.Minute
	c.QueryTimeout = 2 * time.Minute
	c.QueryMaxSamples = 50000000
}

// Validate checks what types alone cannot.
func (c *StorageConfig) Validate() error {
	var errs []error
	if !slices.Contains(StorageModes, c.Mode) {
		errs = append(errs, Fieldf("mode", "expected one of %s, got %s", strings.Join(StorageModes, ", "), quote(c.Mode)))
	}
	if c.Path == "" {
		errs = append(errs, Fieldf("path", "must not be empty"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"retention", c.Retention},
		{"max_wal_age", c.MaxWALAge},
		{"remote_flush_deadline", c.RemoteFlushDeadline},
		{"lookback_delta", c.LookbackDelta},
		{"query_timeout", c.QueryTimeout},
	} {
		if d.v <= 0 {
			errs = append(errs, Fieldf(d.name, "must be greater than 0"))
		}
	}
	if c.OutOfOrderWindow < 0 {
		errs = append(errs, Fieldf("out_of_order_window", "must be 0 (no out-of-order samples) or more"))
	}
	if c.QueryMaxSamples <= 0 {
		errs = append(errs, Fieldf("query_max_samples", "must be greater than 0, got %d", c.QueryMaxSamples))
	}
	return errors.Join(errs...)
}

// RemoteWriteConfig is one Prometheus remote write target (issue 3). The
// keys are those of Prometheus's remote_write section; credentials are
// read from files only, so the config file itself holds no secret.
type RemoteWriteConfig struct {
	// Name identifies the queue in self-metrics (remote_name label);
	// default: a hash of the config, as in Prometheus.
	Name string `yaml:"name"`
	// URL is the receiver: Prometheus's /api/v1/write or
	// VictoriaMetrics's /api/v1/write (vminsert: /insert/0/prometheus/api/v1/write).
	URL           string        `yaml:"url" redact:"url"`
	RemoteTimeout time.Duration `yaml:"remote_timeout"`
	// HTTPClientConfig: basic_auth, bearer_token_file, tls_config,
	// oauth2, proxy_url (httpclient.go).
	HTTPClientConfig `yaml:",inline"`
	Headers          map[string]string `yaml:"headers" redact:"values"`
	// SendNativeHistograms sends native histograms (StatsD timers and
	// histograms mapped with native_histogram_bucket_factor) to this
	// target, as Prometheus's key of that name. Off by default, as in
	// Prometheus: a receiver that does not take them either drops them
	// while answering 2xx (VictoriaMetrics 1.79) or answers 500 and stops
	// the whole queue behind them (Prometheus 2.x without
	// --enable-feature=native-histograms). While off, the histograms this
	// target does not get are counted in
	// copenhagen_remote_write_histograms_skipped_total.
	SendNativeHistograms bool        `yaml:"send_native_histograms"`
	Queue                QueueConfig `yaml:"queue"`
}

// QueueConfig tunes the remote write queue (Prometheus's queue_config).
type QueueConfig struct {
	// Capacity is how many samples each shard buffers before reading
	// from the WAL blocks.
	Capacity          int           `yaml:"capacity"`
	MaxShards         int           `yaml:"max_shards"`
	MinShards         int           `yaml:"min_shards"`
	MaxSamplesPerSend int           `yaml:"max_samples_per_send"`
	BatchSendDeadline time.Duration `yaml:"batch_send_deadline"`
	MinBackoff        time.Duration `yaml:"min_backoff"`
	MaxBackoff        time.Duration `yaml:"max_backoff"`
	// RetryOnHTTP429 retries batches refused with 429 Too Many Requests
	// (with backoff) instead of dropping them.
	RetryOnHTTP429 bool `yaml:"retry_on_http_429"`
}

// SetDefaults sets Prometheus's remote write defaults, except that 429 is
// retried: a receiver asking to slow down is not a reason to lose data.
func (c *RemoteWriteConfig) SetDefaults() {
	c.RemoteTimeout = 30 * time.Second
	c.SendNativeHistograms = false // Prometheus's default; see the field
	c.Queue = QueueConfig{
		Capacity:          10000,
		MaxShards:         50,
		MinShards:         1,
		MaxSamplesPerSend: 2000,
		BatchSendDeadline: 5 * time.Second,
		MinBackoff:        30 * time.Millisecond,
		MaxBackoff:        5 * time.Second,
		RetryOnHTTP429:    true,
	}
}

// reservedHeaders may not be set through headers: Prometheus sets them
// itself, and credentials belong in files.
var reservedHeaders = []string{
	"Authorization", "Host", "Content-Encoding", "Content-Length", "Content-Type",
	"User-Agent", "Connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization",
	"Www-Authenticate", "X-Prometheus-Remote-Write-Version",
}

// Validate checks what types alone cannot. Credential files must be
// readable now, so that a typo is a config error and not a stream of
// failed requests later; their content is never reported.
func (c *RemoteWriteConfig) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if c.URL == "" {
		add(Fieldf("url", "is required"))
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add(Fieldf("url", `expected an http:// or https:// URL like "http://prometheus:9090/api/v1/write", got %s`, quote(RedactURL(c.URL))))
	} else if u.User != nil {
		add(Fieldf("url", "must not contain credentials; use basic_auth.password_file"))
	}
	if c.RemoteTimeout <= 0 {
		add(Fieldf("remote_timeout", "must be greater than 0"))
	}
	for name := range c.Headers {
		if slices.Contains(reservedHeaders, http.CanonicalHeaderKey(name)) {
			add(Fieldf("headers."+name, "is set by Copenhagen or holds credentials; use basic_auth or bearer_token_file"))
		}
	}
	q := c.Queue
	for _, p := range []struct {
		name string
		v    int
	}{
		{"capacity", q.Capacity}, {"max_shards", q.MaxShards}, {"min_shards", q.MinShards},
		{"max_samples_per_send", q.MaxSamplesPerSend},
	} {
		if p.v <= 0 {
			add(Fieldf("queue."+p.name, "must be greater than 0, got %d", p.v))
		}
	}
	if q.MinShards > q.MaxShards && q.MaxShards > 0 {
		add(Fieldf("queue.min_shards", "must be at most max_shards (%d), got %d", q.MaxShards, q.MinShards))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"batch_send_deadline", q.BatchSendDeadline}, {"min_backoff", q.MinBackoff}, {"max_backoff", q.MaxBackoff},
	} {
		if d.v <= 0 {
			add(Fieldf("queue."+d.name, "must be greater than 0"))
		}
	}
	if q.MinBackoff > q.MaxBackoff && q.MaxBackoff > 0 {
		add(Fieldf("queue.min_backoff", "must be at most max_backoff (%v), got %v", q.MaxBackoff, q.MinBackoff))
	}
	return errors.Join(errs...)
}

func checkReadable(field string, p Path) error {
	if p == "" {
		return nil
	}
	f, err := os.Open(string(p))
	if err != nil {
		return Fieldf(field, "%v", err)
	}
	_ = f.Close()
	return nil
}

// checkClientAuth checks the credentials of an HTTP client section
// (HTTPClientConfig.Validate): secrets come from readable files
// only, basic auth and a bearer token exclude each other, a client
// certificate comes with its key.
func checkClientAuth(basic BasicAuthConfig, bearerTokenFile Path, tls TLSConfig) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if basic.PasswordFile != "" && basic.Username == "" {
		add(Fieldf("basic_auth.username", "is required with basic_auth.password_file"))
	}
	if basic.Username != "" && basic.PasswordFile == "" {
		add(Fieldf("basic_auth.password_file", "is required with basic_auth.username (passwords are read from files only)"))
	}
	if basic.Username != "" && bearerTokenFile != "" {
		add(Fieldf("bearer_token_file", "cannot be used together with basic_auth"))
	}
	add(checkReadable("basic_auth.password_file", basic.PasswordFile))
	add(checkReadable("bearer_token_file", bearerTokenFile))
	add(checkReadable("tls_config.ca_file", tls.CAFile))
	add(checkReadable("tls_config.cert_file", tls.CertFile))
	add(checkReadable("tls_config.key_file", tls.KeyFile))
	if (tls.CertFile == "") != (tls.KeyFile == "") {
		add(Fieldf("tls_config", "cert_file and key_file must be given together"))
	}
	return errs
}
