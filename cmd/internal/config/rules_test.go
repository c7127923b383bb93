package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func wantRulesDefault() RulesConfig {
	return RulesConfig{
		EvaluationInterval: time.Minute,
		QueryTimeout:       2 * time.Minute,
		OutageTolerance:    time.Hour,
		ForGracePeriod:     10 * time.Minute,
		ResendDelay:        time.Minute,
		NoDataIntervals:    2,
	}
}

func TestRulesConfig(t *testing.T) {
	dir := t.TempDir()
	pw := filepath.Join(dir, "am-password")
	if err := os.WriteFile(pw, []byte("secret-pw"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, yml string
		errs      []string // substrings expected in the error; none: valid
		check     func(t *testing.T, c *Config)
	}{
		{name: "valid", yml: `
rules:
  files: ["rules/*.yml"]
  evaluation_interval: 15s
  query_url: http://vmselect:8481/select/0/prometheus
alerting:
  alertmanagers:
    - urls: [http://am-1:9093, http://am-2:9093]
      basic_auth: {username: copenhagen, password_file: am-password}
`, check: func(t *testing.T, c *Config) {
			if got, want := string(c.Rules.Files[0]), filepath.Join(dir, "rules/*.yml"); got != want {
				t.Errorf("files[0] = %q, want %q (relative to the config file)", got, want)
			}
			if c.Rules.EvaluationInterval != 15*time.Second {
				t.Errorf("evaluation_interval = %v", c.Rules.EvaluationInterval)
			}
			am := c.Alerting.Alertmanagers[0]
			if am.Timeout != 10*time.Second || am.APIVersion != "v2" || len(am.URLs) != 2 {
				t.Errorf("alertmanager defaults: %+v", am)
			}
			if strings.Contains(c.String(), "secret-pw") {
				t.Errorf("config dump shows the password")
			}
		}},
		{name: "bad values", yml: `
rules:
  evaluation_interval: 0s
  resend_delay: -1s
  no_data_intervals: -1
  query_url: "vmselect:8481"
`, errs: []string{"rules.evaluation_interval", "rules.resend_delay", "rules.no_data_intervals", "rules.query_url"}},
		{name: "bad alertmanager", yml: `
alerting:
  alertmanagers:
    - urls: ["http://user:pw@am:9093", "https://am-2:9093/x", "am-3"]
      api_version: v1
      basic_auth: {username: a}
      bearer_token_file: missing-token
`, errs: []string{"urls[0]", "urls[2]", "api_version", "basic_auth.password_file", "bearer_token_file"}},
		{name: "no urls", yml: "alerting:\n  alertmanagers:\n    - timeout: 1s\n", errs: []string{"urls"}},
		{name: "mixed schemes", yml: "alerting:\n  alertmanagers:\n    - urls: [http://a:9093, https://b:9093]\n", errs: []string{"urls[1]"}},
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
				t.Fatal("expected an error")
			}
			for _, e := range tc.errs {
				if !strings.Contains(err.Error(), e) {
					t.Errorf("error does not mention %s:\n%v", e, err)
				}
			}
			if strings.Contains(err.Error(), "pw@") {
				t.Errorf("error shows credentials: %v", err)
			}
		})
	}
}
