package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestOneLinePerIntervalAndTheRestCounted(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	l := New(50 * time.Millisecond)
	for range 5 {
		l.Warn(logger, "dropped")
	}
	if n := strings.Count(buf.String(), "dropped"); n != 1 {
		t.Fatalf("%d lines in the first interval, want 1:\n%s", n, buf.String())
	}
	time.Sleep(60 * time.Millisecond)
	l.Warn(logger, "dropped")
	if !strings.Contains(buf.String(), "suppressed_similar=4") {
		t.Fatalf("held-back lines not reported:\n%s", buf.String())
	}
}
