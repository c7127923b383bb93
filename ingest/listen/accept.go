package listen

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
)

// acceptor is the accepting half shared by the stream listeners (TCP lines,
// length-prefixed frames): it bounds the connections served at once, backs
// off on accept errors, and at Close wakes every reader so that in-flight
// handler calls finish. The listener supplies what to do with a connection.
type acceptor struct {
	name      string
	logger    *slog.Logger
	maxConns  int
	ln        net.Listener
	ctr       *counters
	run       *runState
	serveConn func(net.Conn)

	mu    sync.Mutex
	conns map[net.Conn]struct{}

	limitLog, errLog *ratelog.Limiter
}

func newAcceptor(name string, logger *slog.Logger, maxConns int, ln net.Listener, ctr *counters, serveConn func(net.Conn)) *acceptor {
	a := &acceptor{
		name: name, logger: logger, maxConns: maxConns, ln: ln, ctr: ctr, serveConn: serveConn,
		conns:    make(map[net.Conn]struct{}),
		limitLog: ratelog.New(10 * time.Second), errLog: ratelog.New(10 * time.Second),
	}
	a.run = newRunState(a.stop)
	return a
}

// Addr is the bound address, with the port the kernel chose for ":0".
func (a *acceptor) Addr() net.Addr { return a.ln.Addr() }

func (a *acceptor) stop() error {
	err := a.ln.Close()
	a.mu.Lock()
	for c := range a.conns {
		// Wake the reader; it closes the connection itself.
		c.SetReadDeadline(time.Now())
	}
	a.mu.Unlock()
	return err
}

func (a *acceptor) acceptLoop() {
	var backoff time.Duration
	for {
		c, err := a.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || a.run.isStopping() {
				return
			}
			// Out of file descriptors and the like: wait, as net/http does.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			a.errLog.Warn(a.logger, "accepting a connection failed", "listener", a.name, "err", err, "retry_in", backoff)
			select {
			case <-time.After(backoff):
			case <-a.run.stopping:
				return
			}
			continue
		}
		backoff = 0
		a.mu.Lock()
		full := len(a.conns) >= a.maxConns
		if !full {
			a.conns[c] = struct{}{}
		}
		a.mu.Unlock()
		if full {
			a.ctr.connLimit.Inc()
			c.Close()
			a.limitLog.Warn(a.logger, "refused a connection: too many open connections",
				"listener", a.name, "remote", c.RemoteAddr().String(), "max_connections", a.maxConns)
			continue
		}
		a.ctr.connections.Inc()
		if !a.run.goroutine(func() { a.serveConn(c) }) {
			a.forget(c)
			return
		}
	}
}

// forget closes a connection and stops counting it; serveConn defers it.
func (a *acceptor) forget(c net.Conn) {
	c.Close()
	a.mu.Lock()
	delete(a.conns, c)
	a.mu.Unlock()
	a.ctr.connections.Dec()
}
