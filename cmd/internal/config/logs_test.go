package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	commoncfg "github.com/prometheus/common/config"
)

func wantLogsDefault() LogsConfig {
	return LogsConfig{
		Paths:                 []string{"/var/log/pods/*/*/*.log"},
		StartAt:               "beginning",
		PositionsFile:         "logs-positions.json",
		PositionsSyncInterval: 100 * time.Millisecond,
		PollInterval:          250 * time.Millisecond,
		ScanInterval:          10 * time.Second,
		MaxLineSize:           256 * 1024,
		MaxStreams:            10000,
		MaxLabelValueLength:   2048,
	}
}

func wantLokiDefault() LokiConfig {
	return LokiConfig{
		BatchSize:       1 << 20,
		BatchWait:       time.Second,
		MaxBuffer:       16 << 20,
		Timeout:         10 * time.Second,
		MinBackoff:      500 * time.Millisecond,
		MaxBackoff:      30 * time.Second,
		MaxLineSize:     256000,
		ShutdownTimeout: 10 * time.Second,
	}
}

func TestLogsConfig(t *testing.T) {
	good := `
logs:
  paths: [/var/log/pods/*/*/*.log]
  files:
  - path: /var/log/nginx/*.log
    labels: {job: nginx, env: prod}
  start_at: end
  positions_file: /var/lib/copenhagen/positions.json
  multiline:
  - path: /var/log/pods/shop_*/*/*.log
    first_line: '^\[\d{4}-'
loki:
  url: http://loki:3100/loki/api/v1/push
  tenant_id: team-a
  batch_size: 512KiB
  batch_wait: 2s
  bearer_token_file: TOKEN
  tls_config: {ca_file: TOKEN, server_name: loki.internal}
  proxy_url: http://proxy:3128
`
	tok := filepath.Join(t.TempDir(), "loki-token")
	if err := os.WriteFile(tok, []byte("s3cr3t"), 0o600); err != nil {
		t.Fatal(err)
	}
	good = strings.ReplaceAll(good, "TOKEN", tok)
	c, err := Parse([]byte(good), "c.yml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Logs.StartAt != "end" || c.Logs.Files[0].Labels["job"] != "nginx" || c.Loki.BatchSize != 512<<10 || c.Loki.TenantID != "team-a" {
		t.Errorf("decoded %+v %+v", c.Logs, c.Loki)
	}
	// Loki's client is the one remote_write has: TLS and proxy too.
	hc := c.Loki.Prometheus(commoncfg.DefaultHTTPClientConfig)
	if hc.Authorization == nil || hc.Authorization.CredentialsFile != tok || hc.TLSConfig.CAFile != tok ||
		hc.TLSConfig.ServerName != "loki.internal" || hc.ProxyURL.String() != "http://proxy:3128" {
		t.Errorf("loki HTTP client = %+v", hc)
	}
	if m := c.Logs.Multiline[0]; m.MaxLines != 500 || m.MaxWait != 3*time.Second {
		t.Errorf("multiline defaults not applied: %+v", m)
	}
	bad := []struct{ doc, want string }{
		{"logs:\n  start_at: middle\n", "logs.start_at"},
		{"loki:\n  url: loki:3100\n", "loki.url"},
		{"logs:\n  multiline:\n  - path: '*'\n    first_line: '('\n", "logs.multiline[0].first_line"},
		{"logs:\n  files:\n  - path: /x.log\n    labels: {\"bad-name\": x}\n", "logs.files[0].labels"},
		{"loki:\n  batch_size: 2MiB\n  max_buffer: 1MiB\n", "loki.max_buffer"},
		{"loki:\n  bearer_token_file: /nonexistent/loki-token\n", "loki.bearer_token_file"},
		{"loki:\n  basic_auth: {username: u}\n", "loki.basic_auth.password_file"},
		{"loki:\n  proxy_url: http://user:pw@proxy:3128\n", "loki.proxy_url: must not contain credentials"},
		{"loki:\n  oauth2: {client_id: c}\n", "loki.oauth2.client_secret_file"},
	}
	for _, b := range bad {
		_, err := Parse([]byte(b.doc), "c.yml")
		if err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%q: error %v, want it to name %s", b.doc, err, b.want)
		}
	}
}
