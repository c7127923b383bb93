package config

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"time"
)

// RulesConfig configures rule evaluation (issue 6): Prometheus rule files
// evaluated by Prometheus's rules manager, over the embedded storage or a
// remote Prometheus-compatible query endpoint.
type RulesConfig struct {
	// Files are glob patterns of Prometheus rule files (relative to the
	// config file), e.g. "rules/*.yml" for what `copenhagen import seyren`
	// writes. Empty: no rule evaluation.
	Files []Path `yaml:"files"`
	// EvaluationInterval is the interval of groups that do not set their
	// own (Prometheus's global.evaluation_interval). Seyren polled every
	// 60 s; the imported groups say interval: 1m themselves.
	EvaluationInterval time.Duration `yaml:"evaluation_interval"`
	// QueryURL, when set, makes rules read from a remote
	// Prometheus-compatible query API (Prometheus, vmselect
	// .../select/0/prometheus) instead of the embedded storage, for data
	// sets one node cannot hold. Recording rules are still written to
	// Copenhagen's storage (and remote write, if configured).
	QueryURL string `yaml:"query_url"`
	// QueryTimeout bounds each remote query.
	QueryTimeout time.Duration `yaml:"query_timeout"`
	// QueryClient is the HTTP client of query_url: basic_auth,
	// bearer_token_file, tls_config, oauth2, proxy_url (httpclient.go).
	QueryClient HTTPClientConfig `yaml:"query_client"`
	// OutageTolerance, ForGracePeriod and ResendDelay are Prometheus's
	// --rules.alert.for-outage-tolerance, --rules.alert.for-grace-period
	// and --rules.alert.resend-delay.
	OutageTolerance time.Duration `yaml:"outage_tolerance"`
	ForGracePeriod  time.Duration `yaml:"for_grace_period"`
	ResendDelay     time.Duration `yaml:"resend_delay"`
	// NoDataIntervals is how many consecutive evaluations an imported
	// Seyren check's query must return nothing before
	// CopenhagenCheckNoData fires; 0 disables that alert.
	NoDataIntervals int `yaml:"no_data_intervals"`
}

// SetDefaults sets Prometheus's defaults.
func (c *RulesConfig) SetDefaults() {
	c.EvaluationInterval = time.Minute
	c.QueryTimeout = 2 * time.Minute
	c.OutageTolerance = time.Hour
	c.ForGracePeriod = 10 * time.Minute
	c.ResendDelay = time.Minute
	c.NoDataIntervals = 2
}

// Validate checks what types alone cannot.
func (c *RulesConfig) Validate() error {
	var errs []error
	if c.EvaluationInterval <= 0 {
		errs = append(errs, Fieldf("evaluation_interval", "must be greater than 0"))
	}
	if c.QueryTimeout <= 0 {
		errs = append(errs, Fieldf("query_timeout", "must be greater than 0"))
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"outage_tolerance", c.OutageTolerance}, {"for_grace_period", c.ForGracePeriod}, {"resend_delay", c.ResendDelay}} {
		if d.v < 0 {
			errs = append(errs, Fieldf(d.name, "must not be negative"))
		}
	}
	if c.NoDataIntervals < 0 {
		errs = append(errs, Fieldf("no_data_intervals", "must be 0 (disabled) or more, got %d", c.NoDataIntervals))
	}
	if c.QueryURL != "" {
		if u, err := url.Parse(c.QueryURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, Fieldf("query_url", `expected an http:// or https:// URL like "http://vmselect:8481/select/0/prometheus", got %s`, quote(redactURL(c.QueryURL))))
		} else if u.User != nil {
			errs = append(errs, Fieldf("query_url", "must not contain credentials"))
		}
	}
	for i, f := range c.Files {
		if f == "" {
			errs = append(errs, Fieldf(fmt.Sprintf("files[%d]", i), "must not be empty"))
		}
	}
	return errors.Join(errs...)
}

// AlertmanagerAPIVersions are the accepted alerting.alertmanagers[].api_version.
var AlertmanagerAPIVersions = []string{"v2"}

// AlertmanagerConfig is one external Alertmanager (or cluster: every URL
// gets every alert, as Prometheus sends to every member) that evaluated
// alerts are sent to, under alerting.alertmanagers. Credentials are read
// from files only.
type AlertmanagerConfig struct {
	// URLs are the Alertmanagers' base URLs ("http://am-1:9093"); alerts
	// are POSTed to <url>/api/v2/alerts. All must share scheme and path.
	// "dns+http://name:port" is every address name resolves to (every
	// replica behind a headless Service), "dnssrv+http://name" every
	// target of its SRV record (alerting_cluster.go).
	URLs       []string      `yaml:"urls"`
	Timeout    time.Duration `yaml:"timeout"`
	APIVersion string        `yaml:"api_version"`
	// HTTPClientConfig: basic_auth, bearer_token_file, tls_config,
	// oauth2, proxy_url (httpclient.go).
	HTTPClientConfig `yaml:",inline"`
}

// SetDefaults sets Prometheus's alertmanager_config defaults.
func (c *AlertmanagerConfig) SetDefaults() {
	c.Timeout = 10 * time.Second
	c.APIVersion = "v2"
}

// Validate checks what types alone cannot; credential files must be
// readable now.
func (c *AlertmanagerConfig) Validate() error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if len(c.URLs) == 0 {
		add(Fieldf("urls", "at least one URL is required"))
	}
	var first *url.URL
	for i, s := range c.URLs {
		field := fmt.Sprintf("urls[%d]", i)
		u, err := url.Parse(trimDNSPrefix(s))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			add(Fieldf(field, `expected an http:// or https:// URL like "http://alertmanager:9093", got %s`, quote(redactURL(s))))
			continue
		}
		if u.User != nil {
			add(Fieldf(field, "must not contain credentials; use basic_auth.password_file"))
			continue
		}
		if first == nil {
			first = u
		} else if u.Scheme != first.Scheme || u.Path != first.Path {
			add(Fieldf(field, "must have the scheme and path of urls[0] (use another list entry otherwise)"))
		}
	}
	if c.Timeout <= 0 {
		add(Fieldf("timeout", "must be greater than 0"))
	}
	if !slices.Contains(AlertmanagerAPIVersions, c.APIVersion) {
		add(Fieldf("api_version", "expected v2, got %s", quote(c.APIVersion)))
	}
	return errors.Join(errs...)
}
