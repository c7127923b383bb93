package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func wantShadowDefault() ShadowConfig {
	return ShadowConfig{
		Timeout: 20 * time.Second, Concurrency: 4, MinEvaluations: 10080, MinEpisodes: 1,
		TrafficShare: 1, EvidencePerCheck: 20, SettleDelay: 10 * time.Minute,
	}
}

func TestShadowConfig(t *testing.T) {
	dir := t.TempDir()
	checks := filepath.Join(dir, "checks.json")
	if err := os.WriteFile(checks, []byte(`{"values": [{"id": "a", "target": "stats.x", "warn": "1", "error": "2"}]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte(`{"nothing": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	pw := filepath.Join(dir, "pw")
	if err := os.WriteFile(pw, []byte("s3cret"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		yaml string
		want []string // substrings of the errors, in order; none: valid
	}{
		{"off", ``, nil},
		{"on", "shadow:\n  graphite_url: http://graphite:8080\n  checks_file: " + checks + "\n  basic_auth: {username: seyren, password_file: " + pw + "}\n  header_files: {X-Scope-OrgID: " + pw + "}\n  timer_buckets: [0.01, 0.1, 1]\n", nil},
		{"checks without url", "shadow:\n  checks_file: " + checks + "\n", []string{"shadow.graphite_url: is required with checks_file"}},
		{"bad url with password", "shadow:\n  graphite_url: http://u:hunter2@graphite\n  checks_file: " + checks + "\n", []string{"shadow.graphite_url: must not contain credentials"}},
		{"no checks", "shadow:\n  graphite_url: http://graphite\n", []string{"shadow.checks_file: is required"}},
		{"seyren_url", "shadow:\n  graphite_url: http://graphite\n  seyren_url: http://seyren:8080\n  checks_file: " + checks + "\n", nil},
		{"seyren_url with password", "shadow:\n  graphite_url: http://graphite\n  seyren_url: https://u:hunter2@seyren\n  checks_file: " + checks + "\n", []string{"shadow.seyren_url: must not contain credentials"}},
		{"seyren_url not a URL", "shadow:\n  graphite_url: http://graphite\n  seyren_url: seyren:8080?token=hunter2\n  checks_file: " + checks + "\n", []string{"shadow.seyren_url: expected an http:// or https:// URL"}},
		{"checks not an export", "shadow:\n  graphite_url: http://graphite\n  checks_file: " + bad + "\n", []string{"shadow.checks_file: " + bad + ": seyren export"}},
		{"limits", "shadow:\n  graphite_url: http://graphite\n  checks_file: " + checks + "\n  concurrency: 0\n  min_episodes: 0\n  traffic_share: 1.5\n  timer_buckets: [1, 0.1]\n  headers: {Authorization: x}\n",
			[]string{"shadow.concurrency", "shadow.min_episodes", "shadow.traffic_share", "shadow.timer_buckets: must be sorted", "shadow.headers.Authorization"}},
		{"settle off", "shadow:\n  graphite_url: http://graphite\n  checks_file: " + checks + "\n  settle_delay: 0s\n", nil},
		{"settle negative", "shadow:\n  graphite_url: http://graphite\n  checks_file: " + checks + "\n  settle_delay: -1m\n", []string{"shadow.settle_delay: expected a duration"}},
		{"settle beyond the finest archive", "shadow:\n  graphite_url: http://graphite\n  checks_file: " + checks + "\n  settle_delay: 7h\n", []string{"shadow.settle_delay: must be between 0 (off) and 6h0m0s", "got 7h0m0s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml), filepath.Join(dir, "copenhagen.yml"))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want %v", tc.want)
			}
			msg := err.Error()
			if strings.Contains(msg, "hunter2") || strings.Contains(msg, "s3cret") {
				t.Fatalf("error shows a secret: %s", msg)
			}
			rest := msg
			for _, w := range tc.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("error %q lacks %q", msg, w)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}
