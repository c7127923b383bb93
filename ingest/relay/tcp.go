package relay

import (
	"bytes"
	"errors"
	"net"
	"time"

	"github.com/copenhagen-obs/copenhagen/ingest/backoff"
)

// Timings of the TCP transport.
const (
	tcpDialTimeout  = 5 * time.Second
	tcpWriteTimeout = 30 * time.Second
	tcpMinBackoff   = 100 * time.Millisecond
	tcpMaxBackoff   = 10 * time.Second
	// tcpGiveUp is how long one buffer is retried against a target that
	// is down before its lines are dropped (send_error). Meanwhile Send
	// keeps filling the queue up to its bound, so a short restart of the
	// legacy carbon loses nothing and a long outage costs a bounded
	// amount of memory.
	tcpGiveUp = 30 * time.Second
)

// tcpTransport writes lines as a stream to a carbon plaintext receiver,
// reconnecting with jittered exponential backoff when the connection
// fails (the relays of many pods must not reconnect in lockstep). It runs
// in its target's sender goroutine, so waiting here never slows the
// listeners; their lines wait in the bounded queue instead.
type tcpTransport struct {
	addr    string
	conn    net.Conn
	backoff *backoff.Backoff
	stop    <-chan struct{} // closed when the relay closes: stop retrying
	giveUp  time.Duration
	dial    func(addr string) (net.Conn, error)
}

func newTCPTransport(addr string) *tcpTransport {
	return &tcpTransport{
		addr: addr, giveUp: tcpGiveUp, backoff: backoff.New(tcpMinBackoff, tcpMaxBackoff),
		dial: func(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, tcpDialTimeout) },
	}
}

func (t *tcpTransport) send(buf []byte) sendResult {
	var res sendResult
	total := countLines(buf)
	rest := buf
	deadline := time.Now().Add(t.giveUp)
	for len(rest) > 0 {
		if t.conn == nil {
			c, err := t.dial(t.addr)
			if err != nil {
				res.failures++
				res.err = err
				if !t.wait(deadline) {
					break
				}
				continue
			}
			t.conn = c
		}
		t.conn.SetWriteDeadline(time.Now().Add(tcpWriteTimeout))
		n, err := t.conn.Write(rest)
		if err == nil {
			rest = nil
			t.backoff.Reset()
			break
		}
		res.failures++
		res.err = err
		t.conn.Close()
		t.conn = nil
		// Resend from the start of the line the error cut: a fragment
		// on the broken connection is discarded by carbon with it.
		rest = rest[bytes.LastIndexByte(rest[:n], '\n')+1:]
		if !t.wait(deadline) {
			break
		}
	}
	res.failed = countLines(rest)
	res.sent = total - res.failed
	return res
}

// wait sleeps for the next backoff step; false means give up (the relay
// is closing or the buffer has been retried long enough).
func (t *tcpTransport) wait(deadline time.Time) bool {
	wait := t.backoff.Next()
	if time.Now().Add(wait).After(deadline) {
		return false
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-t.stop:
		return false
	}
}

func (t *tcpTransport) close() error {
	if t.conn == nil {
		return nil
	}
	err := t.conn.Close()
	t.conn = nil
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
