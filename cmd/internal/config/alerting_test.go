package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func wantAlertingDefault() AlertingConfig {
	return AlertingConfig{SnapshotInterval: 15 * time.Minute, QueueSize: 10000, Cluster: wantClusterDefault()}
}

func TestAlertingConfig(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "alertmanager.yml"), []byte("route: {receiver: x}\nreceivers: [{name: x}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, yml string
		errs      []string
		check     func(t *testing.T, c *Config)
	}{
		{name: "valid", yml: `
alerting:
  config_file: alertmanager.yml
  data_dir: am-data
  external_url: https://copenhagen.example.org
  seyren_url: https://seyren.example.org
  retention: 400d
`, check: func(t *testing.T, c *Config) {
			a := c.Alerting
			if got, want := string(a.ConfigFile), filepath.Join(dir, "alertmanager.yml"); got != want {
				t.Errorf("config_file = %q, want %q (relative to the config file)", got, want)
			}
			if got, want := string(a.DataDir), filepath.Join(dir, "am-data"); got != want {
				t.Errorf("data_dir = %q, want %q", got, want)
			}
			if a.Retention != 400*24*time.Hour || a.QueueSize != 10000 || a.SnapshotInterval != 15*time.Minute {
				t.Errorf("values: %+v", a)
			}
		}},
		{name: "bad", yml: `
alerting:
  config_file: missing.yml
  external_url: copenhagen:9095
  seyren_url: "ftp://seyren"
  retention: -1s
  snapshot_interval: 0s
  queue_size: 0
`, errs: []string{"alerting.config_file", "alerting.external_url", "alerting.seyren_url", "alerting.retention", "alerting.snapshot_interval", "alerting.queue_size"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(dir, tc.name+".yml")
			if err := os.WriteFile(file, []byte(tc.yml), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := Load(file)
			if len(tc.errs) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				tc.check(t, c)
				return
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, e := range tc.errs {
				if !strings.Contains(err.Error(), e) {
					t.Errorf("error does not mention %s:\n%v", e, err)
				}
			}
		})
	}
}
