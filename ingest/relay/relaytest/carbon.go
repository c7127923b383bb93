// Package relaytest is the stand-in for a legacy carbon-cache (or
// carbon-relay) that the relay tests send to: a plaintext TCP receiver that
// records every line. One implementation for the relay package's tests and
// the binary's end-to-end tests, so both assert against the same thing.
package relaytest

import (
	"bufio"
	"net"
	"slices"
	"sync"
	"testing"
	"time"
)

// Carbon is a running carbon plaintext receiver.
type Carbon struct {
	ln    net.Listener
	mu    sync.Mutex
	lines []string
	open  int // connections still being read
}

// StartCarbon listens on addr ("127.0.0.1:0" for a free port) until the
// test ends.
func StartCarbon(t testing.TB, addr string) *Carbon {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &Carbon{ln: ln}
	go c.accept()
	t.Cleanup(func() { ln.Close() })
	return c
}

func (c *Carbon) accept() {
	for {
		conn, err := c.ln.Accept()
		if err != nil {
			return
		}
		c.mu.Lock()
		c.open++
		c.mu.Unlock()
		go func() {
			defer conn.Close()
			sc := bufio.NewScanner(conn)
			for sc.Scan() {
				c.mu.Lock()
				c.lines = append(c.lines, sc.Text())
				c.mu.Unlock()
			}
			c.mu.Lock()
			c.open--
			c.mu.Unlock()
		}()
	}
}

// Addr is the host:port to send to.
func (c *Carbon) Addr() string { return c.ln.Addr().String() }

// Lines is a copy of what was received so far, in order.
func (c *Carbon) Lines() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.lines)
}

// Reset forgets what was received.
func (c *Carbon) Reset() {
	c.mu.Lock()
	c.lines = nil
	c.mu.Unlock()
}

// WaitLines waits (10 s at most) until exactly want was received. It
// returns at the first match: a test asserting "at most once" calls
// ExpectLines after closing the sender.
func (c *Carbon) WaitLines(t testing.TB, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := c.Lines()
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("carbon %s got %q, want %q", c.Addr(), got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ExpectLines checks, once the sender has closed its connections, that
// exactly want was received: it waits (10 s at most) until every
// connection was read to its end, so a late duplicate is seen.
func (c *Carbon) ExpectLines(t testing.TB, want []string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		open := c.open
		c.mu.Unlock()
		if open == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("carbon %s: %d connections still open; close the sender before ExpectLines", c.Addr(), open)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := c.Lines(); !slices.Equal(got, want) {
		t.Fatalf("carbon %s got %q, want exactly %q", c.Addr(), got, want)
	}
}
