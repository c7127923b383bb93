package relay

import (
	"bytes"
	"errors"
	"net"
	"time"

	"golang.org/x/net/ipv4"
)

// sendBatch is the number of datagrams one sendmmsg call carries.
const sendBatch = 64

// redialInterval spaces connection attempts to a target that cannot be
// resolved, so that a missing target costs nothing per batch.
const redialInterval = time.Second

// udpTransport packs lines into datagrams of at most max bytes and sends
// them with sendmmsg on a connected socket (connected, so that "port
// unreachable" from a stopped daemon shows up as send errors).
type udpTransport struct {
	addr      string
	max       int
	conn      *net.UDPConn
	pc        *ipv4.PacketConn
	lastDial  time.Time
	dialErr   error
	msgs      []ipv4.Message
	lineCount []int // lines in each message of msgs
}

func newUDPTransport(addr string, max int) *udpTransport {
	t := &udpTransport{addr: addr, max: max, msgs: make([]ipv4.Message, sendBatch), lineCount: make([]int, sendBatch)}
	for i := range t.msgs {
		t.msgs[i].Buffers = make([][]byte, 1)
	}
	return t
}

func (t *udpTransport) dial() error {
	if t.conn != nil {
		return nil
	}
	if time.Since(t.lastDial) < redialInterval {
		return t.dialErr
	}
	t.lastDial = time.Now()
	c, err := net.Dial("udp", t.addr)
	if err != nil {
		t.dialErr = err
		return err
	}
	t.conn = c.(*net.UDPConn)
	t.pc = ipv4.NewPacketConn(t.conn) // the batch calls work for IPv6 too
	return nil
}

func (t *udpTransport) send(buf []byte) sendResult {
	var res sendResult
	if err := t.dial(); err != nil {
		res.failed = countLines(buf)
		res.failures = 1
		res.err = err
		return res
	}
	n := 0 // messages queued in t.msgs
	flush := func() {
		for i := 0; i < n; {
			k, err := t.pc.WriteBatch(t.msgs[i:n], 0)
			k = max(k, 0) // -1 when the first datagram failed
			for _, c := range t.lineCount[i : i+k] {
				res.sent += c
			}
			i += k
			if err != nil {
				if i < n { // the datagram the error is about
					res.failed += t.lineCount[i]
					i++
				}
				res.failures++
				res.err = err
			} else if k == 0 {
				break // cannot happen with a blocking socket; do not spin
			}
		}
		n = 0
	}
	pack(buf, t.max, func(datagram []byte, lines int) {
		t.msgs[n].Buffers[0] = datagram
		t.lineCount[n] = lines
		n++
		if n == len(t.msgs) {
			flush()
		}
	})
	flush()
	return res
}

func (t *udpTransport) close() error {
	if t.conn == nil {
		return nil
	}
	err := t.conn.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}

// pack cuts buf, whole lines each ending with '\n', into datagrams of at
// most max bytes without splitting a line (a longer line goes alone). The
// datagrams alias buf, leave out the last newline, as StatsD clients send
// them, and leave out empty lines.
func pack(buf []byte, max int, emit func(datagram []byte, lines int)) {
	start, lines := 0, 0 // the datagram being built is buf[start:pos-1]
	pos := 0
	for pos < len(buf) {
		j := bytes.IndexByte(buf[pos:], '\n')
		if j < 0 {
			j = len(buf) - pos // tolerate a last line without newline
		}
		end := pos + j // the line is buf[pos:end]
		if j == 0 {
			if lines > 0 {
				emit(buf[start:pos-1], lines)
			}
			pos++
			start, lines = pos, 0
			continue
		}
		if lines > 0 && end-start > max {
			emit(buf[start:pos-1], lines)
			start, lines = pos, 0
		}
		lines++
		pos = end + 1
	}
	if lines > 0 {
		emit(buf[start:min(pos, len(buf)+1)-1], lines)
	}
}
