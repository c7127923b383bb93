package logredact

import (
	"bytes"
	"errors"
	"log/slog"
	"net/url"
	"strings"
	"testing"
)

func TestHandlerRedacts(t *testing.T) {
	var buf bytes.Buffer
	h := New(slog.NewTextHandler(&buf, nil))
	log := slog.New(h).With("component", "test")
	token := "tok-3f9a1c"
	hook := "/services/T0001/B0002/XXXXsecret"
	h.SetSecrets([]string{token, hook})

	log.Info("posting to https://hooks.slack.com"+hook,
		"url", "https://vm.example/api/v1/write?token="+token,
		"err", errors.New(`unexpected status code 500: {"echo":"`+hook+`"}`),
		"escaped", url.QueryEscape(hook),
		slog.Group("g", "inner", token),
		"list", []string{"a", token},
		"long", strings.Repeat("x", 5000),
		"n", 42,
	)
	out := buf.String()
	for _, s := range []string{token, hook, url.QueryEscape(hook), "T0001"} {
		if strings.Contains(out, s) {
			t.Errorf("log holds %q:\n%s", s, out)
		}
	}
	for _, s := range []string{"component=test", "n=42", "bytes, cut", "<secret>"} {
		if !strings.Contains(out, s) {
			t.Errorf("log lacks %q:\n%s", s, out)
		}
	}
	if strings.Count(out, "x") > MaxValueLength+100 {
		t.Errorf("long value not cut: %d bytes", len(out))
	}

	// Secrets set later apply to loggers derived before.
	buf.Reset()
	h.SetSecrets([]string{"newsecret"})
	log.Warn("x", "v", "has newsecret in it")
	if strings.Contains(buf.String(), "newsecret") {
		t.Errorf("new secret not redacted: %s", buf.String())
	}
}

func BenchmarkHandle(b *testing.B) {
	h := New(slog.NewTextHandler(discard{}, nil))
	h.SetSecrets([]string{"tok-3f9a1c", "/services/T0001/B0002/XXXXsecret", "another-long-secret-value"})
	log := slog.New(h)
	b.ReportAllocs()
	for b.Loop() {
		log.Info("remote write batch sent", "url", "https://vm.example/api/v1/write", "samples", 2000, "err", errors.New("server returned HTTP status 500"))
	}
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }
