package listen

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
)

// Drop reasons of the framed listener, in copenhagen_listener_dropped_total.
const (
	ReasonFrameTooLarge   = "frame_too_large"  // length prefix above MaxFrameSize; the connection is closed
	ReasonIncompleteFrame = "incomplete_frame" // the connection ended inside a frame
)

// DefaultMaxFrameSize bounds one frame of a FramedTCP listener.
const DefaultMaxFrameSize = 16 << 20

// FramedConfig configures a TCP listener for length-prefixed frames: a
// 4-byte big-endian length, then that many bytes, as carbon's pickle
// protocol (:2004) sends them. Zero values select the defaults.
type FramedConfig struct {
	// Name is the value of the listener label, e.g. "graphite_pickle".
	Name string
	// Network is "tcp" (default), "tcp4" or "tcp6".
	Network string
	// Addr is the address to bind, e.g. ":2004".
	Addr string
	// MaxConnections bounds the connections served at once.
	MaxConnections int
	// MaxFrameSize bounds one frame, without its prefix. A larger length
	// closes the connection (frame_too_large): the stream cannot be
	// resynchronised, and reading the frame would mean holding it.
	MaxFrameSize int
	// IdleTimeout closes a connection that sent nothing for that long;
	// negative disables it.
	IdleTimeout time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// FramedTCP is a bound listener for length-prefixed frames. Each Handle
// call gets exactly one frame's payload, without the prefix; Flush follows
// every read that completed at least one frame.
type FramedTCP struct {
	*acceptor
	cfg       FramedConfig
	tooLarge  prometheus.Counter
	partial   prometheus.Counter
	newHandle NewHandler
	frameLog  *ratelog.Limiter
}

// ListenFramed binds the address so that errors surface before anything
// starts.
func ListenFramed(cfg FramedConfig, newHandler NewHandler, reg prometheus.Registerer) (*FramedTCP, error) {
	if cfg.Network == "" {
		cfg.Network = "tcp"
	}
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = DefaultMaxConnections
	}
	if cfg.MaxFrameSize <= 0 {
		cfg.MaxFrameSize = DefaultMaxFrameSize
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
	v, err := newVecs(reg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen(cfg.Network, cfg.Addr)
	if err != nil {
		return nil, err
	}
	l := &FramedTCP{
		cfg: cfg, newHandle: newHandler,
		tooLarge: v.dropped.WithLabelValues(cfg.Name, ReasonFrameTooLarge),
		partial:  v.dropped.WithLabelValues(cfg.Name, ReasonIncompleteFrame),
		frameLog: ratelog.New(10 * time.Second),
	}
	l.acceptor = newAcceptor(cfg.Name, cfg.Logger, cfg.MaxConnections, ln, ctr, l.serveConn)
	cfg.Logger.Info("listening", "listener", cfg.Name, "network", cfg.Network, "addr", ln.Addr().String(),
		"max_connections", cfg.MaxConnections, "max_frame_size", cfg.MaxFrameSize)
	return l, nil
}

// Serve accepts connections until ctx is done or Close is called.
func (l *FramedTCP) Serve(ctx context.Context) error { return l.run.serve(ctx, l.acceptLoop) }

// Close stops accepting, interrupts the reads of open connections and
// waits for their in-flight handler calls.
func (l *FramedTCP) Close() error { return l.run.close() }

// initialFrameBuffer is a connection's first buffer; it grows, up to
// MaxFrameSize plus the prefix, only for a frame that needs it.
const initialFrameBuffer = 64 << 10

func (l *FramedTCP) serveConn(c net.Conn) {
	defer l.forget(c)
	h := l.newHandle()
	fl, _ := h.(Flusher)
	if fl != nil {
		defer fl.Flush()
	}
	buf := make([]byte, initialFrameBuffer)
	n := 0 // bytes buffered
	for {
		if l.run.isStopping() {
			if n > 0 {
				l.partial.Inc()
			}
			return
		}
		if l.cfg.IdleTimeout > 0 {
			c.SetReadDeadline(time.Now().Add(l.cfg.IdleTimeout))
			if l.run.isStopping() {
				continue
			}
		}
		k, err := c.Read(buf[n:])
		if k > 0 {
			l.ctr.bytes.Add(float64(k))
			n += k
			// Hand over every complete frame.
			off, frames := 0, 0
			for n-off >= 4 {
				size := int(binary.BigEndian.Uint32(buf[off:]))
				if size > l.cfg.MaxFrameSize {
					l.tooLarge.Inc()
					l.frameLog.Warn(l.cfg.Logger, "closing a connection that sent a frame larger than the limit",
						"listener", l.cfg.Name, "remote", c.RemoteAddr().String(), "frame_size", size, "max_frame_size", l.cfg.MaxFrameSize)
					if frames > 0 && fl != nil {
						fl.Flush()
					}
					return
				}
				if n-off-4 < size {
					if need := 4 + size; need > len(buf) {
						nb := make([]byte, min(max(need, 2*len(buf)), l.cfg.MaxFrameSize+4))
						n = copy(nb, buf[off:n])
						off = 0
						buf = nb
					}
					break
				}
				h.Handle(buf[off+4 : off+4+size])
				frames++
				off += 4 + size
			}
			if off > 0 {
				n = copy(buf, buf[off:n])
			}
			if frames > 0 && fl != nil {
				fl.Flush()
			}
		}
		if err != nil {
			if n > 0 {
				l.partial.Inc()
			}
			var ne net.Error
			if !errors.Is(err, io.EOF) && !(errors.As(err, &ne) && ne.Timeout()) && !l.run.isStopping() {
				l.cfg.Logger.Debug("connection read failed", "listener", l.cfg.Name, "remote", c.RemoteAddr().String(), "err", err)
			}
			return
		}
	}
}
