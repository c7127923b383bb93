package routing

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/notifier"
)

// Slack with a bot token (chat.postMessage, token from a file) instead of
// an incoming webhook.
func TestSlackBotToken(t *testing.T) {
	var (
		mu    sync.Mutex
		auths []string
		chans []string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		var m struct {
			Channel string `json:"channel"`
		}
		_ = json.Unmarshal(b, &m)
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		chans = append(chans, m.Channel)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true,"channel":"C1","ts":"1.2"}`))
	}))
	defer srv.Close()
	dir := t.TempDir()
	token := writeFile(t, filepath.Join(dir, "secrets", "slack-bot-token"), "xoxb-test-token\n")
	cfg := writeFile(t, filepath.Join(dir, "am.yml"), `
route:
  receiver: bot
  group_by: [check_id]
`+fastTimings+`
receivers:
  - name: bot
    slack_configs:
      - app_token_file: `+token+`
        app_url: `+srv.URL+`/api/chat.postMessage
        channel: '#ops'
`)
	r := startRouter(t, cfg, t.TempDir())
	now := time.Now()
	r.Send([]*notifier.Alert{alert("c1", "x", "critical", "", "1", now, now.Add(time.Hour))}...)
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(auths)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no chat.postMessage call")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if auths[0] != "Bearer xoxb-test-token" || chans[0] != "#ops" {
		t.Errorf("Authorization %q channel %q", auths[0], chans[0])
	}
}
