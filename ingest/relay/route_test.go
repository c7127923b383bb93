package relay

import (
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/copenhagen-obs/copenhagen/ingest/relay/relaytest"
)

func TestRouterModes(t *testing.T) {
	a, b := relaytest.StartCarbon(t, "127.0.0.1:0"), relaytest.StartCarbon(t, "127.0.0.1:0")
	routes := []Route{
		{Match: regexp.MustCompile(`^collectd\.`), Targets: []string{a.Addr()}},
		{Match: regexp.MustCompile(`cpu`), Targets: []string{b.Addr(), a.Addr()}},
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
		a.Reset()
		b.Reset()
		r, err := NewRouter(routes, tc.mode, Options{Logger: quiet}, nil)
		if err != nil {
			t.Fatal(err)
		}
		s := r.NewSender()
		s.Send([]byte(in))
		a.WaitLines(t, tc.wantA)
		b.WaitLines(t, tc.wantB)
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
		// Each target at most once per line, even in MatchAll: checked
		// again once the router has flushed and closed its connections.
		a.ExpectLines(t, tc.wantA)
		b.ExpectLines(t, tc.wantB)
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
	srv := relaytest.StartCarbon(t, addr)
	srv.WaitLines(t, []string{"early.one 1 1700000000", "early.two 2 1700000000"})
	tg := r.targets[0]
	waitFor := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(tg.sent) != 2 && time.Now().Before(waitFor) {
		time.Sleep(10 * time.Millisecond)
	}
	if testutil.ToFloat64(tg.droppedSend) != 0 || testutil.ToFloat64(tg.sent) != 2 {
		t.Fatalf("dropped %v sent %v", testutil.ToFloat64(tg.droppedSend), testutil.ToFloat64(tg.sent))
	}
	// A reconnect must not send the buffered lines twice.
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	srv.ExpectLines(t, []string{"early.one 1 1700000000", "early.two 2 1700000000"})
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
