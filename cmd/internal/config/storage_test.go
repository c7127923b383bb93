package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func wantStorageDefault() StorageConfig {
	return StorageConfig{
		Mode:                "server",
		Path:                "data",
		Retention:           15 * 24 * time.Hour,
		OutOfOrderWindow:    10 * time.Minute,
		MaxWALAge:           4 * time.Hour,
		RemoteFlushDeadline: time.Minute,
		LookbackDelta:       5 * time.Minute,
		QueryTimeout:        2 * time.Minute,
		QueryMaxSamples:     50000000,
	}
}

func TestStorageAndRemoteWriteParse(t *testing.T) {
	dir := t.TempDir()
	for _, f := range []string{"token", "pass", "ca.pem"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("s3cr3t"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "c.yml")
	doc := `storage:
  mode: agent
  path: tsdb
  retention: 30d
  out_of_order_window: 1h
remote_write:
  - url: https://vm.example.com/api/v1/write
    name: vm
    bearer_token_file: token
    tls_config: {ca_file: ca.pem, insecure_skip_verify: true}
    headers: {X-Scope-OrgID: team-a}
    queue: {max_shards: 4, retry_on_http_429: false}
  - url: http://prom:9090/api/v1/write
    send_native_histograms: true
    basic_auth: {username: copenhagen, password_file: pass}
`
	if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage.Mode != "agent" || c.Storage.Path != Path(filepath.Join(dir, "tsdb")) ||
		c.Storage.Retention != 30*24*time.Hour || c.Storage.OutOfOrderWindow != time.Hour {
		t.Errorf("storage = %+v", c.Storage)
	}
	if len(c.RemoteWrite) != 2 {
		t.Fatalf("remote_write = %+v", c.RemoteWrite)
	}
	vm, prom := c.RemoteWrite[0], c.RemoteWrite[1]
	if vm.BearerTokenFile != Path(filepath.Join(dir, "token")) || !vm.TLSConfig.InsecureSkipVerify ||
		vm.Headers["X-Scope-OrgID"] != "team-a" || vm.Queue.MaxShards != 4 || vm.Queue.RetryOnHTTP429 {
		t.Errorf("remote_write[0] = %+v", vm)
	}
	// Unset queue keys keep Prometheus's defaults; 429 is retried by default.
	if vm.Queue.Capacity != 10000 || !prom.Queue.RetryOnHTTP429 || prom.RemoteTimeout != 30*time.Second {
		t.Errorf("defaults lost: %+v / %+v", vm.Queue, prom)
	}
	// Native histograms are sent only where the file says so.
	if vm.SendNativeHistograms || !prom.SendNativeHistograms {
		t.Errorf("send_native_histograms: remote_write[0] = %v (want the default, false), remote_write[1] = %v (want true)",
			vm.SendNativeHistograms, prom.SendNativeHistograms)
	}
	if !strings.Contains(c.String(), "send_native_histograms: true") || !strings.Contains(c.String(), "send_native_histograms: false") {
		t.Errorf("the config dump does not show send_native_histograms:\n%s", c.String())
	}
	if prom.BasicAuth.Username != "copenhagen" || prom.BasicAuth.PasswordFile != Path(filepath.Join(dir, "pass")) {
		t.Errorf("remote_write[1].basic_auth = %+v", prom.BasicAuth)
	}
	if strings.Contains(c.String(), "s3cr3t") {
		t.Error("a secret file's content leaked into the config dump")
	}
}

func TestStorageAndRemoteWriteErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		doc  string
		want []string // substrings, each on the reported line
	}{
		{"storage:\n  mode: cluster\n", []string{"c.yml:2: storage.mode: expected one of server, agent"}},
		{"storage:\n  retention: 0s\n  out_of_order_window: -1m\n", []string{
			"c.yml:2: storage.retention: must be greater than 0",
			"c.yml:3: storage.out_of_order_window: expected a duration",
		}},
		{"remote_write:\n  - name: a\n", []string{"remote_write[0].url: is required"}},
		{"remote_write:\n  - url: ftp://x/\n", []string{"c.yml:2: remote_write[0].url: expected an http:// or https:// URL"}},
		{"remote_write:\n  - url: http://u:hunter2@x/\n", []string{"remote_write[0].url: must not contain credentials"}},
		{"remote_write:\n  - url: http://x/\n    bearer_token_file: missing\n", []string{"c.yml:3: remote_write[0].bearer_token_file:", "no such file"}},
		{"remote_write:\n  - url: http://x/\n    basic_auth: {username: u}\n", []string{"remote_write[0].basic_auth.password_file: is required"}},
		{"remote_write:\n  - url: http://x/\n    headers: {authorization: Bearer x}\n", []string{"remote_write[0].headers.authorization: is set by Copenhagen or holds credentials"}},
		{"remote_write:\n  - url: http://x/\n    queue:\n      min_shards: 5\n      max_shards: 2\n", []string{"c.yml:4: remote_write[0].queue.min_shards: must be at most max_shards (2), got 5"}},
		{"remote_write:\n  - url: http://x/\n    queu: {}\n", []string{"c.yml:3: unknown key \"remote_write[0].queu\""}},
		{"remote_write:\n  - url: http://x/\n    send_native_histograms: yes please\n", []string{"c.yml:3: remote_write[0].send_native_histograms:"}},
		{"remote_write:\n  - url: http://x/\n    send_native_histogram: true\n", []string{"c.yml:3: unknown key \"remote_write[0].send_native_histogram\"", "send_native_histograms"}},
	}
	for _, tt := range tests {
		file := filepath.Join(dir, "c.yml")
		if err := os.WriteFile(file, []byte(tt.doc), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(file)
		if err == nil {
			t.Errorf("%q: no error", tt.doc)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%q:\n%v\nwant it to contain %q", tt.doc, err, w)
			}
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error leaks a password: %v", err)
		}
	}
}
