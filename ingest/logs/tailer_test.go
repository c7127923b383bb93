package logs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// memSink records entries and acknowledges them at once, like a Loki that
// stores everything.
type memSink struct {
	mu    *sync.Mutex
	lines *[]string
	ack   *Cursor
}

func (s *memSink) Send(_ context.Context, r *Record) error {
	s.mu.Lock()
	*s.lines = append(*s.lines, r.Stream.String()+"|"+string(r.Line))
	s.mu.Unlock()
	s.ack.Acked(r.Offset)
	return nil
}

func (s *memSink) Flush(context.Context) error { return nil }

type harness struct {
	t       *testing.T
	dir     string
	mu      sync.Mutex
	lines   []string
	cancel  context.CancelFunc
	done    chan struct{}
	pos     *Positions
	startAt bool
	ml      []MultilineRule
	poll    bool // no inotify
}

func (h *harness) start() {
	h.t.Helper()
	pos, err := OpenPositions(filepath.Join(h.dir, "positions.json"), 0, nil, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	h.pos = pos
	m, err := NewManager(Config{
		Sources:      []Source{{Glob: filepath.Join(h.dir, "*.log")}},
		Multiline:    h.ml,
		StartAtEnd:   h.startAt,
		Positions:    pos,
		PollInterval: 20 * time.Millisecond,
		NoInotify:    h.poll,
		Output: func(f FileInfo) Sink {
			return &memSink{mu: &h.mu, lines: &h.lines, ack: f.Cursor}
		},
	}, nil)
	if err != nil {
		h.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel, h.done = cancel, make(chan struct{})
	go func() { m.Run(ctx); close(h.done) }()
}

func (h *harness) stop() {
	h.cancel()
	<-h.done
	h.pos.Close()
}

func (h *harness) waitFor(n int) []string {
	h.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		h.mu.Lock()
		got := len(h.lines)
		h.mu.Unlock()
		if got >= n {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // and nothing more
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.lines...)
}

func write(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(s)
	f.Close()
}

// noAckSink receives entries but the server never acknowledges them.
type noAckSink struct{ n *int }

func (s noAckSink) Send(context.Context, *Record) error { *s.n++; return nil }
func (noAckSink) Flush(context.Context) error           { return nil }

func TestUnacknowledgedEntriesAreReadAgain(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "0.log")
	write(t, f, "one\ntwo\n")
	pos, err := OpenPositions(filepath.Join(dir, "positions.json"), 0, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	m, _ := NewManager(Config{Sources: []Source{{Glob: f}}, Positions: pos, PollInterval: 10 * time.Millisecond,
		Output: func(FileInfo) Sink { return noAckSink{&n} }}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { m.Run(ctx); close(done) }()
	time.Sleep(200 * time.Millisecond)
	cancel()
	<-done
	pos.Close()
	if n != 2 {
		t.Fatalf("read %d entries, want 2", n)
	}
	h := &harness{t: t, dir: dir}
	h.start()
	defer h.stop()
	if got := h.waitFor(2); len(got) != 2 {
		t.Errorf("after a restart without acknowledgements got %q, want both lines again", got)
	}
}

// TestRotationAndNewFiles follows a rename rotation and a new file, with
// inotify and with polling only.
func TestRotationAndNewFiles(t *testing.T) {
	for _, poll := range []bool{false, true} {
		dir := t.TempDir()
		f := filepath.Join(dir, "0.log")
		write(t, f, "a1\n")
		h := &harness{t: t, dir: dir, poll: poll}
		h.start()
		h.waitFor(1)
		write(t, f, "a2\n")
		os.Rename(f, f+".20261126-050000")
		write(t, f+".20261126-050000", "a3 after the rename\n")
		write(t, f, "b1\n")
		write(t, filepath.Join(dir, "new.log"), "n1\n")
		os.WriteFile(filepath.Join(dir, "old.log.gz"), []byte("never\n"), 0o644)
		got := h.waitFor(5)
		h.stop()
		slices.Sort(got)
		if strings.Join(got, ",") != "|a1,|a2,|a3 after the rename,|b1,|n1" {
			t.Errorf("poll=%v: got %q", poll, got)
		}
	}
}

func TestMultilinePHPFatal(t *testing.T) {
	dir := t.TempDir()
	h := &harness{t: t, dir: dir, ml: []MultilineRule{{Glob: filepath.Join(dir, "*.log"), Multiline: Multiline{
		FirstLine: regexp.MustCompile(`^\[`), MaxLines: 3, MaxWait: 100 * time.Millisecond}}}}
	h.start()
	defer h.stop()
	write(t, filepath.Join(dir, "php.log"), "[26-Nov-2026 05:00:01] PHP Fatal error:  Uncaught Exception: boom\n"+
		"Stack trace:\n#0 /app/index.php(3): f()\n"+
		"[26-Nov-2026 05:00:02] next\n#0 a\n#1 b\n#2 c\n")
	got := h.waitFor(3)
	want := []string{
		"|[26-Nov-2026 05:00:01] PHP Fatal error:  Uncaught Exception: boom\nStack trace:\n#0 /app/index.php(3): f()",
		"|[26-Nov-2026 05:00:02] next\n#0 a\n#1 b", // max_lines 3
		"|#2 c", // flushed after max_wait
	}
	if strings.Join(got, "\n---\n") != strings.Join(want, "\n---\n") {
		t.Errorf("got %q\nwant %q", got, want)
	}
}

func TestPositionsResumeAndStartAt(t *testing.T) {
	dir := t.TempDir()
	old := filepath.Join(dir, "old.log")
	write(t, old, "history 1\nhistory 2\n")
	h := &harness{t: t, dir: dir, startAt: true}
	h.start()
	time.Sleep(100 * time.Millisecond)
	write(t, old, "new 1\n")
	write(t, filepath.Join(dir, "created.log"), "created 1\n")
	got := h.waitFor(2)
	h.stop()
	if strings.Contains(strings.Join(got, ","), "history") || len(got) != 2 {
		t.Errorf("start_at end: got %q, want only lines written after the start", got)
	}
	// Restart: nothing is sent again, new lines are.
	write(t, old, "new 2\n")
	h2 := &harness{t: t, dir: dir, startAt: true}
	h2.start()
	defer h2.stop()
	got = h2.waitFor(1)
	if len(got) != 1 || got[0] != "|new 2" {
		t.Errorf("after restart got %q, want only the line written while stopped", got)
	}
}

func TestRotatedWhileStoppedIsFinished(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "0.log")
	write(t, f, "a\n")
	h := &harness{t: t, dir: dir}
	h.start()
	h.waitFor(1)
	h.stop()
	write(t, f, "b written before rotation\n")
	os.Rename(f, f+".20261126-050000")
	write(t, f, "c in the new file\n")
	h2 := &harness{t: t, dir: dir}
	h2.start()
	defer h2.stop()
	got := h2.waitFor(2)
	if strings.Join(got, ",") != "|b written before rotation,|c in the new file" && strings.Join(got, ",") != "|c in the new file,|b written before rotation" {
		t.Errorf("got %q", got)
	}
}

func TestInodeReuseIsANewFile(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "0.log")
	write(t, f, "first file, long enough to be a fingerprint\n")
	h := &harness{t: t, dir: dir}
	h.start()
	h.waitFor(1)
	h.stop()
	// Same inode, different content (what a reused inode looks like):
	// the saved offset must not be applied.
	os.Truncate(f, 0)
	write(t, f, "second file with other content entirely!!!!\nmore\n")
	h2 := &harness{t: t, dir: dir}
	h2.start()
	defer h2.stop()
	got := h2.waitFor(2)
	if len(got) != 2 || got[0] != "|second file with other content entirely!!!!" {
		t.Errorf("got %q", got)
	}
}

func TestCRIPartialsInterleavedKeepOffsetsSafe(t *testing.T) {
	dir := t.TempDir()
	f := filepath.Join(dir, "0.log")
	ts := "2026-11-26T05:00:01.000000000Z"
	write(t, f, ts+" stdout P out-a-\n"+ts+" stderr F err-1\n"+ts+" stdout F out-b\n")
	h := &harness{t: t, dir: dir}
	h.start()
	defer h.stop()
	got := h.waitFor(2)
	if strings.Join(got, ",") != "stderr|err-1,stdout|out-a-out-b" {
		t.Errorf("got %q", got)
	}
}

func BenchmarkTailCRI(b *testing.B) {
	dir := b.TempDir()
	f := filepath.Join(dir, "0.log")
	var sb strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&sb, "2026-11-26T05:00:01.123456789Z stdout F GET /api/v1/items/%d 200 12ms level=info user=alice request_id=abcdef0123456789\n", i)
	}
	data := sb.String()
	os.WriteFile(f, []byte(data), 0o644)
	pos, _ := OpenPositions(filepath.Join(dir, "p.json"), 0, nil, nil)
	defer pos.Close()
	m, _ := NewManager(Config{Positions: pos, Output: func(FileInfo) Sink { return nil }}, nil)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		fh, _ := os.Open(f)
		t := &tailer{m: m, f: fh, cursor: &Cursor{store: pos}, sink: discard{}}
		t.fpLen = fingerprintSize
		t.readAvailable(context.Background())
		fh.Close()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*10000), "ns/line")
}

type discard struct{}

func (discard) Send(context.Context, *Record) error { return nil }
func (discard) Flush(context.Context) error         { return nil }

func BenchmarkParseCRI(b *testing.B) {
	line := []byte("2026-11-26T05:00:01.123456789Z stdout F GET /api/v1/items/42 200 12ms level=info user=alice\n")
	var p Piece
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		ParseCRI(line, &p)
	}
}

func BenchmarkParseDocker(b *testing.B) {
	line := []byte(`{"log":"GET /api/v1/items/42 200 12ms \"quoted\" level=info user=alice\n","stream":"stdout","time":"2026-11-26T05:00:01.123456789Z"}`)
	var p Piece
	var buf []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(line)))
	for b.Loop() {
		buf, _ = ParseDocker(line, buf, &p)
	}
}

func BenchmarkLevel(b *testing.B) {
	msg := []byte(`{"message":"Payment failed","context":{"order":42},"level":400,"level_name":"ERROR","channel":"app","datetime":"2026-11-26T05:00:01+00:00"}`)
	b.ReportAllocs()
	for b.Loop() {
		Level(msg)
	}
}
