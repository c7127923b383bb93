package relay

import (
	"bufio"
	"net"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// carbonServer is a legacy carbon plaintext receiver recording lines.
type carbonServer struct {
	ln    net.Listener
	mu    sync.Mutex
	lines []string
}

func startCarbon(t *testing.T, addr string) *carbonServer {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	s := &carbonServer{ln: ln}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					s.mu.Lock()
					s.lines = append(s.lines, sc.Text())
					s.mu.Unlock()
				}
			}()
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return s
}

func (s *carbonServer) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lines)
}

func waitLines(t *testing.T, s *carbonServer, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := s.got()
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("carbon %s got %q, want %q", s.ln.Addr(), got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestRouterModes(t *testing.T) {
	a, b := startCarbon(t, "127.0.0.1:0"), startCarbon(t, "127.0.0.1:0")
	routes := []Route{
		{Match: regexp.MustCompile(`^collectd\.`), Targets: []string{a.ln.Addr().String()}},
		{Match: regexp.MustCompile(`cpu`), Targets: []string{b.ln.Addr().String(), a.ln.Addr().String()}},
	}
	in := "collectd.web01.cpu 1 1700000000\napp.cpu;host=x 2 1700000000\r\nother.metric 3 1700000000\n\n  collectd.x 4 1700000000"
	for _, tc := range []struct {
		mode  Mode
		wantA []string
		wantB []string
	}{
		{MatchFirst, []string{"collectd.web01.cpu 1 1700000000", "app.cpu;host=x 2 1700000000", "  collectd.x 4 1700000000"},
			[]string{"app.cpu;host=x 2 1700000000"}},
		{MatchAll, []string{"collectd.web01.cpu 1 1700000000", "app.cpu;host=x 2 1700000000", "  collectd.x 4 1700000000"},
			[]string{"collectd.web01.cpu 1 1700000000", "app.cpu;host=x 2 1700000000"}},
	} {
		a.mu.Lock()
		a.lines = nil
		a.mu.Unlock()
		b.mu.Lock()
		b.lines = nil
		b.mu.Unlock()
		r, err := NewRouter(routes, tc.mode, Options{Logger: quiet}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := r.NewSender()
		s.Send([]byte(in))
		waitLines(t, a, tc.wantA) // each target at most once per line, even in MatchAll
		waitLines(t, b, tc.wantB)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRouterReconnectsAndBuffers(t *testing.T) {
	// Reserve a port with nothing listening on it yet.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r, err := NewRouter([]Route{{Targets: []string{addr}}}, MatchFirst, Options{Logger: quiet}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	s := r.NewSender()
	s.Send([]byte("early.one 1 1700000000\n"))
	time.Sleep(300 * time.Millisecond) // a few failed dials
	s.Send([]byte("early.two 2 1700000000\n"))
	srv := startCarbon(t, addr)
	waitLines(t, srv, []string{"early.one 1 1700000000", "early.two 2 1700000000"})
	tg := r.targets[0]
	waitFor := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(tg.sent) != 2 && time.Now().Before(waitFor) {
		time.Sleep(10 * time.Millisecond)
	}
	if testutil.ToFloat64(tg.droppedSend) != 0 || testutil.ToFloat64(tg.sent) != 2 {
		t.Fatalf("dropped %v sent %v", testutil.ToFloat64(tg.droppedSend), testutil.ToFloat64(tg.sent))
	}
}

func TestRouterDropsWhenQueueFullAndClosesPromptly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	r, err := NewRouter([]Route{{Targets: []string{addr}}}, MatchFirst, Options{Logger: quiet, QueueSize: 64}, nil)
	if err != nil {
		t.Fatal(err)
	}
	s := r.NewSender()
	line := []byte("some.metric.path 1 1700000000\n") // 30 bytes: two fit
	for range 10 {
		s.Send(line)
	}
	tg := r.targets[0]
	// The queue holds two lines and the sender may hold as much again
	// while it dials: at most four are taken, at least six dropped.
	if d := testutil.ToFloat64(tg.droppedFull); d < 6 {
		t.Fatalf("queue_full drops = %v, want at least 6", d)
	}
	start := time.Now()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if e := time.Since(start); e > 2*time.Second {
		t.Fatalf("Close took %v with a target down", e)
	}
	if testutil.ToFloat64(tg.droppedSend) < 1 {
		t.Fatalf("lines abandoned at Close not counted")
	}
	// Nothing is lost silently: every line is sent or counted as dropped.
	if total := testutil.ToFloat64(tg.droppedFull) + testutil.ToFloat64(tg.droppedSend) + testutil.ToFloat64(tg.sent); total != 10 {
		t.Fatalf("sent + dropped = %v, want the 10 lines offered", total)
	}
}

func TestNewRouterRejects(t *testing.T) {
	for _, routes := range [][]Route{
		{{Targets: nil}},
		{{Targets: []string{"udp://localhost:2003"}}},
		{{Targets: []string{"localhost"}}},
	} {
		if r, err := NewRouter(routes, MatchAll, Options{Logger: quiet}, nil); err == nil {
			r.Close()
			t.Errorf("NewRouter(%v) accepted", routes)
		}
	}
}
