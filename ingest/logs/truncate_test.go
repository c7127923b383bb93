package logs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// gateSink is a shipper that can be down: while the gate is closed, Send
// blocks, as the Loki pusher does when its buffer is full.
type gateSink struct {
	mu    sync.Mutex
	open  *sync.Cond
	shut  bool
	held  int // Sends that waited at the closed gate
	lines []string
	sent  chan struct{}
	ack   func(*Record)
}

func (s *gateSink) Send(_ context.Context, r *Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.shut {
		s.held++
	}
	for s.shut {
		s.open.Wait()
	}
	s.lines = append(s.lines, string(r.Line))
	s.ack(r)
	select {
	case s.sent <- struct{}{}:
	default:
	}
	return nil
}

func (s *gateSink) Flush(context.Context) error { return nil }

func (s *gateSink) set(shut bool) {
	s.mu.Lock()
	s.shut = shut
	s.mu.Unlock()
	s.open.Broadcast()
}

func writeLines(t *testing.T, path, prefix string, from, to int) {
	t.Helper()
	var b strings.Builder
	for i := from; i < to; i++ {
		fmt.Fprintf(&b, "%s line %04d of the copytruncate test\n", prefix, i)
	}
	write(t, path, b.String())
}

// A copytruncate whose new content grows past the old offset before the
// tailer looks again (here: while the shipper is down and reading is
// paused) is seen by the changed head of the file: every new line is read
// once, from the start, and counted under truncate_regrown.
func TestCopytruncateRegrownPastOffset(t *testing.T) {
	for _, poll := range []bool{false, true} {
		t.Run(fmt.Sprintf("poll=%v", poll), func(t *testing.T) {
			dir := t.TempDir()
			f := filepath.Join(dir, "app.log")
			writeLines(t, f, "old", 0, 1000)
			pos, err := OpenPositions(filepath.Join(dir, "positions.json"), 0, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer pos.Close()
			sink := &gateSink{sent: make(chan struct{}, 1)}
			sink.open = sync.NewCond(&sink.mu)
			reg := prometheus.NewRegistry()
			m, err := NewManager(Config{
				Sources: []Source{{Glob: f}}, Positions: pos, PollInterval: 20 * time.Millisecond, NoInotify: poll,
				Output: func(fi FileInfo) Sink {
					sink.ack = func(r *Record) { fi.Cursor.Acked(r.Offset) }
					return sink
				},
			}, reg)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan struct{})
			go func() { m.Run(ctx); close(done) }()
			defer func() { cancel(); sink.set(false); <-done }()

			waitLines := func(n int) []string {
				t.Helper()
				deadline := time.Now().Add(30 * time.Second)
				for time.Now().Before(deadline) {
					sink.mu.Lock()
					got := len(sink.lines)
					sink.mu.Unlock()
					if got >= n {
						break
					}
					time.Sleep(10 * time.Millisecond)
				}
				time.Sleep(100 * time.Millisecond)
				sink.mu.Lock()
				defer sink.mu.Unlock()
				return append([]string(nil), sink.lines...)
			}
			if got := waitLines(1000); len(got) != 1000 {
				t.Fatalf("got %d of the first 1000 lines", len(got))
			}

			// The shipper goes down; one more line blocks the tailer.
			sink.set(true)
			writeLines(t, f, "old", 1000, 1001)
			for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
				sink.mu.Lock()
				held := sink.held
				sink.mu.Unlock()
				if held > 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("the tailer never reached the closed gate")
				}
			}
			// copytruncate, and the application writes more than was
			// there before reading resumes.
			if err := os.Truncate(f, 0); err != nil {
				t.Fatal(err)
			}
			writeLines(t, f, "new", 0, 2000)
			time.Sleep(100 * time.Millisecond)
			sink.set(false)

			got := waitLines(1001 + 2000)
			seen := map[string]int{}
			for _, l := range got {
				seen[l]++
			}
			for i := range 2000 {
				l := fmt.Sprintf("new line %04d of the copytruncate test", i)
				if seen[l] != 1 {
					t.Fatalf("%q arrived %d times (of %d lines)", l, seen[l], len(got))
				}
			}
			if len(got) != 3001 {
				t.Fatalf("got %d lines, want 3001 (1001 old, 2000 new)", len(got))
			}
			if n := testutil.ToFloat64(m.met.rotations.WithLabelValues("truncate_regrown")); n != 1 {
				t.Errorf("truncate_regrown = %v, want 1", n)
			}
		})
	}
}
