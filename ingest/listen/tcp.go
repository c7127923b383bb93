package listen

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
)

// Defaults of TCPConfig.
const (
	// DefaultMaxLineLength is carbon's (twisted LineReceiver) limit.
	DefaultMaxLineLength  = 16 << 10
	DefaultReadBufferSize = 64 << 10
	DefaultMaxConnections = 1024
	DefaultIdleTimeout    = 5 * time.Minute
)

// TCPConfig configures a newline-framed TCP listener (StatsD over TCP,
// carbon plaintext). Zero values select the defaults.
type TCPConfig struct {
	// Name is the value of the listener label, e.g. "graphite_tcp".
	Name string
	// Network is "tcp" (default), "tcp4" or "tcp6".
	Network string
	// Addr is the address to bind, e.g. ":2003".
	Addr string
	// MaxConnections bounds the connections served at once; more are
	// accepted and closed at once, counted as connection_limit.
	MaxConnections int
	// MaxLineLength bounds one line, without its newline. A longer line is
	// skipped up to its newline and counted as line_too_long; the
	// connection and the lines after it are kept.
	MaxLineLength int
	// ReadBufferSize is the buffer of one connection (raised to
	// MaxLineLength+1 if smaller).
	ReadBufferSize int
	// IdleTimeout closes a connection that sent nothing for that long;
	// negative disables it.
	IdleTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// TCP is a bound TCP listener. Nothing is accepted before Serve.
type TCP struct {
	*acceptor
	cfg       TCPConfig
	newHandle NewHandler
	bufs      sync.Pool
	lineLog   *ratelog.Limiter
}

// ListenTCP binds the address so that errors surface before anything
// starts.
func ListenTCP(cfg TCPConfig, newHandler NewHandler, reg prometheus.Registerer) (*TCP, error) {
	if cfg.Network == "" {
		cfg.Network = "tcp"
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.MaxLineLength <= 0 {
		cfg.MaxLineLength = DefaultMaxLineLength
	}
	if cfg.ReadBufferSize <= 0 {
		cfg.ReadBufferSize = DefaultReadBufferSize
	}
	if cfg.ReadBufferSize <= cfg.MaxLineLength {
		cfg.ReadBufferSize = cfg.MaxLineLength + 1
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctr, err := newCounters(cfg.Name, reg, true)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen(cfg.Network, cfg.Addr)
	if err != nil {
		return nil, err
	}
	l := &TCP{cfg: cfg, newHandle: newHandler, lineLog: ratelog.New(10 * time.Second)}
	l.acceptor = newAcceptor(cfg.Name, cfg.Logger, cfg.MaxConnections, ln, ctr, l.serveConn)
	size := cfg.ReadBufferSize
	l.bufs.New = func() any { b := make([]byte, size); return &b }
	cfg.Logger.Info("listening", "listener", cfg.Name, "network", cfg.Network, "addr", ln.Addr().String(),
		"max_connections", cfg.MaxConnections, "max_line_length", cfg.MaxLineLength)
	return l, nil
}

// Serve accepts connections until ctx is done or Close is called.
func (l *TCP) Serve(ctx context.Context) error {
	return l.run.serve(ctx, l.acceptLoop)
}

// Close stops accepting, interrupts the reads of open connections, waits
// for their in-flight handler calls and closes them.
func (l *TCP) Close() error { return l.run.close() }

func (l *TCP) serveConn(c net.Conn) {
	defer l.forget(c)
	if l.run.isStopping() {
		return
	}
	bp := l.bufs.Get().(*[]byte)
	defer l.bufs.Put(bp)
	fr := lineFramer{buf: *bp, max: l.cfg.MaxLineLength, h: l.newHandle()}
	fl, _ := fr.h.(Flusher)
	for {
		if l.cfg.IdleTimeout > 0 {
			c.SetReadDeadline(time.Now().Add(l.cfg.IdleTimeout))
			// Close may have set its deadline just before this one
			// replaced it.
			if l.run.isStopping() {
				if fr.pending > 0 {
					l.ctr.incomplete.Inc()
				}
				if fl != nil {
					fl.Flush()
				}
				return
			}
		}
		n, err := c.Read(fr.buf[fr.pending:])
		if n > 0 {
			l.ctr.bytes.Add(float64(n))
			fr.feed(n)
			l.publish(&fr, c)
			if fl != nil {
				fl.Flush()
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(err, io.EOF) {
			// A client may end its last line with the connection
			// (echo -n ... | nc): that line is complete.
			fr.finish()
			l.publish(&fr, c)
		} else if fr.pending > 0 {
			// Cut by an error, the idle timeout or shutdown.
			l.ctr.incomplete.Inc()
		}
		if fl != nil {
			fl.Flush()
		}
		var ne net.Error
		if !errors.Is(err, io.EOF) && !(errors.As(err, &ne) && ne.Timeout()) && !l.run.isStopping() {
			l.cfg.Logger.Debug("connection read failed", "listener", l.cfg.Name, "remote", c.RemoteAddr().String(), "err", err)
		}
		return
	}
}

// publish counts and logs the over-long lines the framer skipped.
func (l *TCP) publish(fr *lineFramer, c net.Conn) {
	if fr.tooLong == 0 {
		return
	}
	l.ctr.lineTooLong.Add(float64(fr.tooLong))
	l.lineLog.Warn(l.cfg.Logger, "skipped lines longer than the limit", "listener", l.cfg.Name,
		"remote", c.RemoteAddr().String(), "count", fr.tooLong, "max_line_length", l.cfg.MaxLineLength)
	fr.tooLong = 0
}

// lineFramer turns a byte stream into blocks of complete lines. buf[:pending]
// holds the start of a line whose newline has not arrived; the next read
// appends to it. len(buf) > max, so there is always room to read.
type lineFramer struct {
	buf      []byte
	pending  int
	max      int
	skipping bool // inside a line already found too long
	h        Handler
	tooLong  int // lines skipped since the last publish
}

// feed processes n bytes just read into buf[pending:].
func (f *lineFramer) feed(n int) {
	data := f.buf[:f.pending+n]
	if f.skipping {
		// pending is empty while skipping: data is what was just read.
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			f.pending = 0
			return
		}
		data = data[i+1:]
		f.skipping = false
	}
	rest := data
	if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
		f.deliver(data[:i+1])
		rest = data[i+1:]
	}
	if len(rest) > f.max {
		f.tooLong++
		f.skipping = true
		f.pending = 0
		return
	}
	f.pending = copy(f.buf, rest)
}

// deliver hands block, a run of complete lines, to the handler, leaving out
// lines longer than max. A block no longer than max+1 cannot hold one, so
// the common case costs nothing.
func (f *lineFramer) deliver(block []byte) {
	if len(block) <= f.max+1 {
		f.h.Handle(block)
		return
	}
	start := 0 // first byte of the run of good lines not yet delivered
	for i := 0; i < len(block); {
		j := bytes.IndexByte(block[i:], '\n')
		if j > f.max {
			if start < i {
				f.h.Handle(block[start:i])
			}
			f.tooLong++
			start = i + j + 1
		}
		i += j + 1
	}
	if start < len(block) {
		f.h.Handle(block[start:])
	}
}

// finish delivers the unterminated last line at EOF, with the newline the
// handler expects.
func (f *lineFramer) finish() {
	if f.pending > 0 && !f.skipping {
		f.buf[f.pending] = '\n'
		f.h.Handle(f.buf[:f.pending+1])
	}
	f.pending = 0
	f.skipping = false
}
