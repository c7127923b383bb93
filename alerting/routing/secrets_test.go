package routing

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestSecrets(t *testing.T) {
	dir := t.TempDir()
	urlFile := writeFile(t, filepath.Join(dir, "hook-url"), "https://hooks.example/from/a/file?token=file-token-1\n")
	cfg := writeFile(t, filepath.Join(dir, "am.yml"), `
route:
  receiver: x
receivers:
  - name: x
    slack_configs:
      - api_url: https://hooks.slack.com/services/T0001/B0002/slackpath
        channel: '#ops'
    webhook_configs:
      - url_file: `+urlFile+`
    pagerduty_configs:
      - routing_key: pd-routing-key-2
`)
	conf, err := Validate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(Secrets(conf), "\n")
	for _, want := range []string{"/services/T0001/B0002/slackpath", "https://hooks.slack.com/services/T0001/B0002/slackpath",
		"file-token-1", "pd-routing-key-2", "/from/a/file"} {
		if !strings.Contains(got, want) {
			t.Errorf("Secrets lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "#ops") {
		t.Errorf("Secrets holds a channel name:\n%s", got)
	}
}
