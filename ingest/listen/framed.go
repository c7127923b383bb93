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
	"github.com/prometheus/prometheus/util/pool"

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
	// bufs holds the connections' buffers and those of large frames,
	// in power-of-two buckets from initialFrameBuffer up to the limit.
	bufs *pool.Pool
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
		bufs:     newFramedPool(cfg.MaxFrameSize),
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

// initialFrameBuffer is a connection's own buffer, enough for the frames
// carbon senders write (carbon-relay batches 500 points, about 30 KiB). A
// larger frame is read into a buffer of its own, taken from the listener's
// pool and given back as soon as the frame is handled, so that an idle
// connection holds initialFrameBuffer whatever it sent before.
const initialFrameBuffer = 64 << 10

func (l *FramedTCP) serveConn(c net.Conn) {
	defer l.forget(c)
	h := l.newHandle()
	fl, _ := h.(Flusher)
	if fl != nil {
		defer fl.Flush()
	}
	fr := newFrameReader(l.bufs, l.cfg.MaxFrameSize)
	defer fr.release()
	for {
		if l.run.isStopping() {
			if fr.n > 0 {
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
		k, err := c.Read(fr.space())
		if k > 0 {
			l.ctr.bytes.Add(float64(k))
			frames, tooLarge := fr.feed(k, h)
			if frames > 0 && fl != nil {
				fl.Flush()
			}
			if tooLarge >= 0 {
				l.tooLarge.Inc()
				l.frameLog.Warn(l.cfg.Logger, "closing a connection that sent a frame larger than the limit",
					"listener", l.cfg.Name, "remote", c.RemoteAddr().String(), "frame_size", tooLarge, "max_frame_size", l.cfg.MaxFrameSize)
				return
			}
		}
		if err != nil {
			if fr.n > 0 {
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

// frameReader splits one connection's stream into frames. Frames that fit
// its own buffer (own) are read many at a time and handed over in place.
// A frame that does not fills own, then continues in a buffer from the
// pool that doubles as its bytes arrive, up to the frame's end (nothing
// after it is read into it): a length prefix alone costs nothing, and a
// connection never holds more than own plus twice what it sent of the
// frame. That buffer goes back to the pool once the frame is handled.
type frameReader struct {
	pool *pool.Pool
	own  []byte // the connection's buffer, len initialFrameBuffer
	buf  []byte // own, or the buffer of the large frame being completed
	n    int    // bytes buffered in buf
	max  int    // MaxFrameSize
	// end is the size, with its prefix, of the large frame that buf
	// holds the start of (from buf[0]); 0 if none.
	end int
}

func newFrameReader(p *pool.Pool, maxFrame int) *frameReader {
	own := p.Get(initialFrameBuffer).([]byte)[:initialFrameBuffer]
	return &frameReader{pool: p, own: own, buf: own, max: maxFrame}
}

// space is where the next read goes; it is never empty.
func (f *frameReader) space() []byte { return f.buf[f.n:] }

// feed takes k bytes just read into space(), hands every complete frame
// to h and returns how many it handed over. tooLarge is the length of a
// frame above the limit (the connection must be closed), -1 if none.
func (f *frameReader) feed(k int, h Handler) (frames, tooLarge int) {
	f.n += k
	if f.end > 0 {
		if f.n < f.end {
			f.makeRoom()
			return 0, -1
		}
		h.Handle(f.buf[4:f.end])
		if !f.inOwn() {
			f.pool.Put(f.buf)
		}
		f.buf, f.n, f.end = f.own, 0, 0
		return 1, -1
	}
	off := 0
	for f.n-off >= 4 {
		u := binary.BigEndian.Uint32(f.buf[off:])
		if uint64(u) > uint64(f.max) {
			return frames, int(u)
		}
		end := off + 4 + int(u)
		if end <= f.n {
			h.Handle(f.buf[off+4 : end])
			frames++
			off = end
			continue
		}
		if end-off > len(f.own) {
			// Only this frame's start is buffered. It fills own
			// first; feed moves it once own is full.
			f.n = copy(f.buf, f.buf[off:f.n])
			f.end = end - off
			f.makeRoom()
			return frames, -1
		}
		break
	}
	if off > 0 {
		f.n = copy(f.buf, f.buf[off:f.n])
	}
	return frames, -1
}

// makeRoom doubles the buffer of an incomplete large frame when it is
// full, up to the frame's end.
func (f *frameReader) makeRoom() {
	if f.n == len(f.buf) {
		f.moveTo(min(f.end, 2*len(f.buf)))
	}
}

// moveTo moves the buffered bytes to a pooled buffer of size bytes and
// gives the previous one back, unless it is the connection's own.
func (f *frameReader) moveTo(size int) {
	nb := f.pool.Get(size).([]byte)[:size]
	copy(nb, f.buf[:f.n])
	if !f.inOwn() {
		f.pool.Put(f.buf)
	}
	f.buf = nb
}

// inOwn tells whether buf is the connection's own buffer.
func (f *frameReader) inOwn() bool { return &f.buf[0] == &f.own[0] }

// release gives the buffers back when the connection ends.
func (f *frameReader) release() {
	if !f.inOwn() {
		f.pool.Put(f.buf)
	}
	f.pool.Put(f.own)
	f.own, f.buf, f.n = nil, nil, 0
}

// newFramedPool buckets buffers by powers of two from initialFrameBuffer
// to the largest frame; a frame between the last bucket and the limit
// gets a buffer of its own size, not pooled.
func newFramedPool(maxFrame int) *pool.Pool {
	return pool.New(initialFrameBuffer, max(initialFrameBuffer, maxFrame+4), 2, func(n int) any { return make([]byte, n) })
}
