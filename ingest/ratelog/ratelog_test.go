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

func TestRejectionsReportTheFirstExampleOncePerInterval(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, nil))
	r := Rejections{Every: time.Minute}
	long := strings.Repeat("é", MaxExample) // 2 bytes a rune: cut inside one
	r.Add("bad_value", []byte(long))
	r.Add("empty_name", []byte("x"))
	now := time.Unix(1000, 0)
	r.Warn(logger, now, "rejected", "line")
	out := buf.String()
	for _, want := range []string{"rejected=2", "example_reason=bad_value", `..."`, "example_line_bytes=512"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %s in %s", want, out)
		}
	}
	if strings.Contains(out, `\x`) {
		t.Errorf("example cut inside a rune: %s", out)
	}
	buf.Reset()
	r.Add("bad_value", []byte("y"))
	r.Warn(logger, now.Add(time.Second), "rejected", "line")
	if buf.Len() != 0 || r.Pending() != 1 {
		t.Fatalf("warned again within the interval: %q, pending %d", buf.String(), r.Pending())
	}
	r.Warn(logger, now.Add(2*time.Minute), "rejected", "line")
	if !strings.Contains(buf.String(), "rejected=1") || r.Pending() != 0 {
		t.Fatalf("after the interval: %q, pending %d", buf.String(), r.Pending())
	}
}
