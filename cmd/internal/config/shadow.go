package config

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"slices"
	"time"

	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

// ShadowConfig is the switchover shadow (issue 11, alerting/shadow): every
// imported check also evaluated Seyren's way over graphite-web, at the
// same instant, and the verdicts compared. Off when graphite_url is "".
type ShadowConfig struct {
	// GraphiteURL is graphite-web's base URL (its /render API).
	GraphiteURL string `yaml:"graphite_url" redact:"url"`
	// ChecksFile is a Seyren export (/api/checks JSON, as `import seyren
	// --from` reads it); the import writes DIR/shadow/checks.json.
	ChecksFile Path `yaml:"checks_file"`
	// SeyrenURL is Seyren itself (its API, /api/checks): optional. With
	// it the live shadow seeds its emulator from Seyren's newest alert
	// rows and reads Seyren's reported state once per evaluation interval
	// as a third column; `copenhagen shadow replay --config` reads
	// Seyren's alert history. Same HTTP client options as graphite_url.
	SeyrenURL string `yaml:"seyren_url" redact:"url"`
	// Timeout bounds one render; Concurrency bounds the renders at once.
	Timeout     time.Duration `yaml:"timeout"`
	Concurrency int           `yaml:"concurrency"`
	// Dir keeps the shadow's state and evidence; "" means
	// <storage.path>/shadow.
	Dir Path `yaml:"dir"`
	// MinEvaluations and MinEpisodes: a check is ready after that many
	// comparable evaluations and non-OK episodes, nothing unexplained.
	MinEvaluations int `yaml:"min_evaluations"`
	MinEpisodes    int `yaml:"min_episodes"`
	// TrafficShare is the share of the legacy traffic Copenhagen gets
	// during a ramp (0 < share <= 1), to explain sums that differ by it.
	TrafficShare float64 `yaml:"traffic_share"`
	// TimerBuckets are histogram bounds in seconds, to explain the
	// percentile gaps of timers statsd.mapping_file does not describe
	// (the others are judged by their own buckets or native histogram).
	TimerBuckets []float64 `yaml:"timer_buckets"`
	// EvidencePerCheck is how many disagreements are kept per check.
	EvidencePerCheck int `yaml:"evidence_per_check"`
	// SettleDelay is when each disagreement is checked again (the
	// "settled" second pass, alerting/shadow settle.go): graphite-web is
	// asked again for the same instant, the check's value re-evaluated
	// over the stored data. A mismatch that disappears was timing (late
	// points, carbon's cache, graphite-web's cache); one that persists is
	// logic. 0 turns the second pass off.
	SettleDelay time.Duration `yaml:"settle_delay"`
	// HTTPClientConfig is the client towards graphite-web, as for every
	// HTTP client: basic_auth, bearer_token_file, tls_config, oauth2,
	// proxy_url (httpclient.go); secrets in files only.
	HTTPClientConfig `yaml:",inline"`
	Headers          map[string]string `yaml:"headers" redact:"values"`
	// HeaderFiles are headers whose value is read from a file at each
	// request (a tenant token, a proxy key).
	HeaderFiles map[string]Path `yaml:"header_files"`
}

// MaxSettleDelay bounds shadow.settle_delay: the settled pass renders the
// original instant again, which must still be inside whisper's finest
// archive (a day in every retention users run) to be the same data,
// settled, rather than a rollup of it.
const MaxSettleDelay = 6 * time.Hour

// SetDefaults sets the values used for keys absent from the file.
func (c *ShadowConfig) SetDefaults() {
	c.Timeout = 20 * time.Second
	c.Concurrency = 4
	c.MinEvaluations = 7 * 24 * 60
	c.MinEpisodes = 1
	c.TrafficShare = 1
	c.EvidencePerCheck = 20
	c.SettleDelay = 10 * time.Minute
}

// Enabled says whether the shadow runs.
func (c *ShadowConfig) Enabled() bool { return c.GraphiteURL != "" }

// Validate checks what types alone cannot, including that checks_file
// parses as a Seyren export.
func (c *ShadowConfig) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if !c.Enabled() {
		if c.ChecksFile != "" {
			add(Fieldf("graphite_url", "is required with checks_file (the shadow is off without it)"))
		}
		return errors.Join(errs...)
	}
	if u, err := url.Parse(c.GraphiteURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		add(Fieldf("graphite_url", `expected an http:// or https:// URL like "http://graphite:8080", got %s`, quote(RedactURL(c.GraphiteURL))))
	} else if u.User != nil {
		add(Fieldf("graphite_url", "must not contain credentials; use basic_auth.password_file"))
	}
	if c.SeyrenURL != "" {
		if u, err := url.Parse(c.SeyrenURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(Fieldf("seyren_url", `expected an http:// or https:// URL, got %s`, quote(RedactURL(c.SeyrenURL))))
		} else if u.User != nil {
			add(Fieldf("seyren_url", "must not contain credentials; use basic_auth.password_file"))
		}
	}
	if c.ChecksFile == "" {
		add(Fieldf("checks_file", "is required: the Seyren export the checks were imported from (DIR/shadow/checks.json)"))
	} else if data, err := os.ReadFile(string(c.ChecksFile)); err != nil {
		add(Fieldf("checks_file", "%v", err))
	} else if _, err := seyren.ParseChecks(data); err != nil {
		add(Fieldf("checks_file", "%s: %v", c.ChecksFile, err))
	}
	if c.Timeout <= 0 {
		add(Fieldf("timeout", "must be greater than 0"))
	}
	if c.Concurrency <= 0 || c.Concurrency > 64 {
		add(Fieldf("concurrency", "must be between 1 and 64, got %d", c.Concurrency))
	}
	if c.MinEvaluations <= 0 {
		add(Fieldf("min_evaluations", "must be greater than 0, got %d", c.MinEvaluations))
	}
	if c.MinEpisodes <= 0 {
		add(Fieldf("min_episodes", "must be greater than 0 (a quiet period is no proof), got %d", c.MinEpisodes))
	}
	if !(c.TrafficShare > 0 && c.TrafficShare <= 1) {
		add(Fieldf("traffic_share", "must be in (0, 1], got %v", c.TrafficShare))
	}
	if !slices.IsSorted(c.TimerBuckets) {
		add(Fieldf("timer_buckets", "must be sorted"))
	}
	for _, b := range c.TimerBuckets {
		if !(b > 0) || b > 1e9 {
			add(Fieldf("timer_buckets", "bounds must be positive seconds, got %v", b))
			break
		}
	}
	if c.EvidencePerCheck <= 0 || c.EvidencePerCheck > 10000 {
		add(Fieldf("evidence_per_check", "must be between 1 and 10000, got %d", c.EvidencePerCheck))
	}
	if c.SettleDelay < 0 || c.SettleDelay > MaxSettleDelay {
		add(Fieldf("settle_delay", "must be between 0 (off) and %s (graphite-web must still answer from its finest archive), got %s", MaxSettleDelay, c.SettleDelay))
	}
	for name := range c.Headers {
		if slices.Contains(reservedHeaders, http.CanonicalHeaderKey(name)) {
			add(Fieldf("headers."+name, "is set by Copenhagen or holds credentials; use basic_auth, bearer_token_file or header_files"))
		}
	}
	for name, p := range c.HeaderFiles {
		if _, dup := c.Headers[name]; dup {
			add(Fieldf("header_files."+name, "is also in headers"))
		}
		add(checkReadable(fmt.Sprintf("header_files.%s", name), p))
	}
	return errors.Join(errs...)
}
