package config

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Query-string tokens, header values and userinfo never appear in the
// rendering (`check config --print`), and Secrets lists them for the log
// handler; loki.url with credentials is refused as remote_write's is.
func TestRedactedRendering(t *testing.T) {
	dir := t.TempDir()
	am := filepath.Join(dir, "am.yml")
	if err := os.WriteFile(am, []byte("route: {receiver: x}\nreceivers: [{name: x}]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	doc := `
remote_write:
  - url: https://vm.example/api/v1/write?token=rw-token-123&tenant=7
    headers:
      X-Api-Key: header-secret-456
loki:
  url: https://loki.example/loki/api/v1/push?api_key=loki-key-789
rules:
  query_url: https://vmselect.example/select/0/prometheus?auth=query-key-abc
alerting:
  alertmanagers:
    - urls:
        - https://am.example/?key=am-key-def
`
	c, err := Parse([]byte(doc), filepath.Join(dir, "c.yml"))
	if err != nil {
		t.Fatal(err)
	}
	out := c.String()
	secrets := []string{"rw-token-123", "header-secret-456", "loki-key-789", "query-key-abc", "am-key-def"}
	for _, s := range secrets {
		if strings.Contains(out, s) {
			t.Errorf("rendering holds %q:\n%s", s, out)
		}
	}
	for _, s := range []string{"https://vm.example/api/v1/write?tenant=<secret>&token=<secret>", "X-Api-Key: <secret>", "api_key=<secret>"} {
		if !strings.Contains(out, s) {
			t.Errorf("rendering lacks %q:\n%s", s, out)
		}
	}
	got := strings.Join(c.Secrets(), " ")
	for _, s := range secrets {
		if !strings.Contains(got, s) {
			t.Errorf("Secrets() lacks %q: %s", s, got)
		}
	}
	if strings.Contains(got, " 7 ") {
		t.Errorf("Secrets() holds a one-byte value: %s", got)
	}

	_, err = Parse([]byte("loki:\n  url: https://user:pa55word@loki.example/loki/api/v1/push\n"), "c.yml")
	if err == nil || !strings.Contains(err.Error(), "loki.url: must not contain credentials") || strings.Contains(err.Error(), "pa55word") {
		t.Fatalf("loki.url with userinfo: %v", err)
	}
	_, err = Parse([]byte("loki:\n  url: ftp://user:pa55word@loki.example/?token=zzzz\n"), "c.yml")
	if err == nil || strings.Contains(err.Error(), "pa55word") || strings.Contains(err.Error(), "zzzz") {
		t.Fatalf("bad loki.url error leaks its secrets: %v", err)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://loki:3100/loki/api/v1/push": "http://loki:3100/loki/api/v1/push",
		"https://a:b@x.example/p?t=1&u=2":   "https://%3Csecret%3E@x.example/p?t=<secret>&u=<secret>",
		"https://x.example/p?token=abc":     "https://x.example/p?token=<secret>",
		"::not a url?token=abc":             "<secret>",
	} {
		if got := RedactURL(in); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzRedactURL: no panic, and in what comes out every query value and
// the password read back as "<secret>".
func FuzzRedactURL(f *testing.F) {
	for _, s := range []string{"https://u:p@x/?a=b", "http://x/?token=abcd&token=efgh", "://?", "http://[::1]:80/p?q=%zz", "?000=?000"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := RedactURL(s)
		if out == redacted || out == s && len(urlSecrets(s)) == 0 {
			return
		}
		u, err := url.Parse(out)
		if err != nil {
			t.Fatalf("RedactURL(%q) = %q, which does not parse: %v", s, out, err)
		}
		for k, vs := range u.Query() {
			for _, v := range vs {
				if v != redacted {
					t.Fatalf("RedactURL(%q) = %q keeps %s=%q", s, out, k, v)
				}
			}
		}
		if _, ok := u.User.Password(); ok {
			t.Fatalf("RedactURL(%q) = %q keeps the password", s, out)
		}
	})
}

func TestHTTPLimitsValidate(t *testing.T) {
	_, err := Parse([]byte("http:\n  max_request_body_size: 1KiB\n  max_query_length: 4KiB\n  max_query_depth: 0\n"), "c.yml")
	for _, want := range []string{"c.yml:3: http.max_query_length: must be at most max_request_body_size", "c.yml:4: http.max_query_depth: must be greater than 0"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
	_, err = Parse([]byte("alerting:\n  max_silences: 0\n  max_silence_size: 10\n"), "c.yml")
	for _, want := range []string{"alerting.max_silences: must be greater than 0", "alerting.max_silence_size: must be at least 1KiB"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("got %v, want %q", err, want)
		}
	}
}
