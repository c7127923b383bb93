package config

import (
	"errors"
	"net/url"
	"time"
)

// AlertingConfig configures routing and notifications (issue 6).
type AlertingConfig struct {
	// Alertmanagers are external Alertmanagers that also receive the
	// evaluated alerts (type in rules.go, rule evaluation's side).
	Alertmanagers []AlertmanagerConfig `yaml:"alertmanagers"`

	// ConfigFile is an Alertmanager configuration (the format
	// `copenhagen import seyren` writes): Copenhagen routes and notifies
	// with Alertmanager's own code in-process. "" disables in-process
	// routing (alerts then only go to Alertmanagers).
	ConfigFile Path `yaml:"config_file"`
	// DataDir keeps silences and the notification log across restarts,
	// so a restart neither pages twice nor forgets silences;
	// "" means <storage.path>/alerting.
	DataDir Path `yaml:"data_dir"`
	// ExternalURL is how users reach Copenhagen: notifications link to
	// <external_url>/alerts. "" means http://<hostname><http.listen>.
	ExternalURL string `yaml:"external_url"`
	// SeyrenURL is Seyren's base URL, the seyrenUrl field of Seyren HTTP
	// payloads; "" takes it from the alerts' seyren_url annotation.
	SeyrenURL string `yaml:"seyren_url"`
	// Retention is how long a sent notification is remembered (and an
	// expired silence kept). It must exceed the longest repeat_interval
	// or the notification is sent again; 0 means the longest
	// repeat_interval plus a day, at least 120h.
	Retention time.Duration `yaml:"retention"`
	// SnapshotInterval is how often silences and the notification log
	// are written to data_dir (and once at shutdown).
	SnapshotInterval time.Duration `yaml:"snapshot_interval"`
	// QueueSize bounds the alerts waiting for the router; beyond it
	// alerts are dropped (counted) rather than slow rule evaluation, and
	// sent again at the next evaluation.
	QueueSize int `yaml:"queue_size"`
	// Cluster makes the in-process Alertmanager one replica of a
	// cluster that pages once (alerting_cluster.go); off by default.
	Cluster ClusterConfig `yaml:"cluster"`
}

// SetDefaults sets the values used for keys absent from the file.
func (c *AlertingConfig) SetDefaults() {
	c.SnapshotInterval = 15 * time.Minute
	c.QueueSize = 10000
}

// Validate checks what types alone cannot. The Alertmanager configuration
// itself is checked when Copenhagen starts or reloads, with Alertmanager's
// own loader (alerting/routing.Validate).
func (c *AlertingConfig) Validate() error {
	var errs []error
	for _, u := range []struct{ name, v string }{{"external_url", c.ExternalURL}, {"seyren_url", c.SeyrenURL}} {
		if u.v == "" {
			continue
		}
		p, err := url.Parse(u.v)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			errs = append(errs, Fieldf(u.name, `expected an http:// or https:// URL like "https://copenhagen.example.org", got %s`, quote(redactURL(u.v))))
		}
	}
	if c.Retention < 0 {
		errs = append(errs, Fieldf("retention", "must be 0 (automatic) or more"))
	}
	if c.SnapshotInterval <= 0 {
		errs = append(errs, Fieldf("snapshot_interval", "must be greater than 0"))
	}
	if c.QueueSize <= 0 {
		errs = append(errs, Fieldf("queue_size", "must be greater than 0, got %d", c.QueueSize))
	}
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(checkReadable("config_file", c.ConfigFile))
	if c.Cluster.Enabled() && c.ConfigFile == "" {
		add(Fieldf("cluster.listen", "clusters the in-process Alertmanager, which needs alerting.config_file"))
	}
	return errors.Join(errs...)
}
