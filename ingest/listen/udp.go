package listen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
)

// Defaults of UDPConfig and UnixgramConfig.
const (
	DefaultBatchSize       = 64
	DefaultMaxDatagramSize = 65535
	DefaultReceiveBuffer   = 32 << 20
)

// UDPConfig configures a UDP listener. Zero values select the defaults.
type UDPConfig struct {
	// Name is the value of the listener label, e.g. "statsd_udp".
	Name string
	// Network is "udp" (default, dual-stack for ":port"), "udp4" or "udp6".
	Network string
	// Addr is the address to bind, e.g. ":8125" or "127.0.0.1:0".
	Addr string
	// Readers is the number of reader goroutines, spread over the sockets.
	// Default GOMAXPROCS. Each holds BatchSize*MaxDatagramSize bytes of
	// buffers (4 MiB with the defaults; pages the kernel never writes to
	// are never made resident).
	Readers int
	// Sockets > 1 binds that many SO_REUSEPORT sockets to Addr so that the
	// kernel spreads senders over them; it needs ReusePort.
	Sockets int
	// ReusePort sets SO_REUSEPORT, also letting another process (a new
	// version during a rolling restart) bind the same port.
	ReusePort bool
	// BatchSize is the number of datagrams one recvmmsg call may return.
	BatchSize int
	// MaxDatagramSize is the read buffer of one datagram; a larger datagram
	// is dropped and counted as datagram_truncated.
	MaxDatagramSize int
	// ReceiveBuffer is the SO_RCVBUF size to ask for; negative keeps the
	// kernel default.
	ReceiveBuffer int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// KernelStatsInterval is how often the kernel's drop count is checked to
	// log new drops (the metric is read at scrape time regardless).
	// Default 10s; negative disables the log.
	KernelStatsInterval time.Duration
}

func (c *UDPConfig) setDefaults() {
	if c.Network == "" {
		c.Network = "udp"
	}
	if c.Sockets <= 0 {
		c.Sockets = 1
	}
	if c.Readers <= 0 {
		c.Readers = runtime.GOMAXPROCS(0)
	}
	if c.Readers < c.Sockets {
		c.Readers = c.Sockets
	}
	if c.BatchSize <= 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.MaxDatagramSize <= 0 {
		c.MaxDatagramSize = DefaultMaxDatagramSize
	}
	if c.ReceiveBuffer == 0 {
		c.ReceiveBuffer = DefaultReceiveBuffer
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.KernelStatsInterval == 0 {
		c.KernelStatsInterval = 10 * time.Second
	}
}

// UDP is a bound UDP listener. Nothing is read before Serve.
type UDP struct {
	cfg        UDPConfig
	conns      []*net.UDPConn
	readers    []batchReader
	d          *datagramReaders
	run        *runState
	collector  *kernelCollector
	reg        prometheus.Registerer
	registered bool // collector is registered on reg
}

// ListenUDP binds the socket(s) so that configuration errors ("address
// already in use") surface before anything starts, and registers the
// listener's metrics on reg (nil registers nothing).
func ListenUDP(cfg UDPConfig, newHandler NewHandler, reg prometheus.Registerer) (*UDP, error) {
	cfg.setDefaults()
	if cfg.Sockets > 1 && !cfg.ReusePort {
		return nil, fmt.Errorf("listen %s %s: %d sockets need reuse_port", cfg.Network, cfg.Addr, cfg.Sockets)
	}
	ctr, err := newCounters(cfg.Name, reg, false)
	if err != nil {
		return nil, err
	}
	l := &UDP{cfg: cfg, reg: reg}
	ok := false
	defer func() {
		if !ok {
			l.closeConns()
		}
	}()
	lc := net.ListenConfig{}
	if cfg.ReusePort {
		lc.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			if err := rc.Control(func(fd uintptr) { serr = setReusePort(fd) }); err != nil {
				return err
			}
			return serr
		}
	}
	addr := cfg.Addr
	var inodes []uint64
	granted := 0
	for i := range cfg.Sockets {
		pc, err := lc.ListenPacket(context.Background(), cfg.Network, addr)
		if err != nil {
			return nil, err
		}
		conn := pc.(*net.UDPConn)
		l.conns = append(l.conns, conn)
		if i == 0 {
			// The others must bind the port the first one got for ":0".
			addr = conn.LocalAddr().String()
		}
		rc, err := conn.SyscallConn()
		if err != nil {
			return nil, fmt.Errorf("listen %s %s: %w", cfg.Network, cfg.Addr, err)
		}
		if cfg.ReceiveBuffer > 0 {
			var serr error
			forced := false
			if err := rc.Control(func(fd uintptr) { granted, forced, serr = setReceiveBuffer(fd, cfg.ReceiveBuffer) }); err != nil {
				serr = err
			}
			if serr != nil {
				return nil, fmt.Errorf("listen %s %s: %w", cfg.Network, cfg.Addr, serr)
			}
			if i == 0 {
				logReceiveBuffer(cfg.Logger, cfg.Name, cfg.ReceiveBuffer, granted, forced)
			}
		}
		if ino, err := socketInode(rc); err == nil {
			inodes = append(inodes, ino)
		}
	}
	for i := range cfg.Readers {
		l.readers = append(l.readers, newUDPBatchReader(l.conns[i%len(l.conns)], cfg.BatchSize, cfg.MaxDatagramSize))
	}
	l.run = newRunState(l.closeConns)
	l.d = &datagramReaders{
		name: cfg.Name, logger: cfg.Logger, ctr: ctr, newHandler: newHandler,
		maxSize: cfg.MaxDatagramSize, run: l.run,
		errLog: ratelog.New(10 * time.Second), truncLog: ratelog.New(10 * time.Second),
	}
	if len(inodes) > 0 {
		l.collector = newKernelCollector(cfg.Name, inodes, granted, cfg.Logger)
		if reg != nil {
			if err := reg.Register(l.collector); err != nil {
				return nil, fmt.Errorf("registering kernel drop metrics of %s: %w", cfg.Name, err)
			}
			l.registered = true
		}
	}
	ok = true
	cfg.Logger.Info("listening", "listener", cfg.Name, "network", cfg.Network, "addr", l.Addr().String(),
		"sockets", cfg.Sockets, "readers", cfg.Readers, "batch_size", cfg.BatchSize, "max_datagram_size", cfg.MaxDatagramSize)
	return l, nil
}

// logReceiveBuffer tells the operator what the kernel granted, and what to
// change on the node when it is less than asked.
func logReceiveBuffer(logger *slog.Logger, name string, requested, granted int, forced bool) {
	if granted >= requested {
		logger.Info("socket receive buffer set", "listener", name, "bytes", granted, "forced", forced)
		return
	}
	logger.Warn("socket receive buffer is smaller than requested: datagrams will be dropped whenever the readers pause for longer than it takes to fill it",
		"listener", name, "requested", requested, "granted", granted,
		"fix", fmt.Sprintf("sysctl -w net.core.rmem_max=%d on the node, or run with CAP_NET_ADMIN", requested))
}

// Addr is the bound address, with the port the kernel chose for ":0".
func (l *UDP) Addr() net.Addr { return l.conns[0].LocalAddr() }

// Serve reads until ctx is done or Close is called, then returns after the
// readers' last handler calls have returned.
func (l *UDP) Serve(ctx context.Context) error {
	fns := make([]func(), 0, len(l.readers)+1)
	for _, r := range l.readers {
		fns = append(fns, func() { l.d.loop(r) })
	}
	if l.collector != nil && l.cfg.KernelStatsInterval > 0 {
		fns = append(fns, l.watchKernelDrops)
	}
	return l.run.serve(ctx, fns...)
}

// Close stops reading, waits for in-flight handler calls and releases the
// sockets. Datagrams still queued in the kernel are lost.
func (l *UDP) Close() error {
	return l.run.close()
}

func (l *UDP) closeConns() error {
	var errs []error
	for _, c := range l.conns {
		if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	if l.registered {
		// Only ours: Unregister removes any collector with the same
		// descriptors, such as a listener of the same name still open.
		l.reg.Unregister(l.collector)
	}
	return errors.Join(errs...)
}

// watchKernelDrops logs when the kernel drops datagrams, so that the
// problem is visible even where nobody alerts on the metric.
func (l *UDP) watchKernelDrops() {
	t := time.NewTicker(l.cfg.KernelStatsInterval)
	defer t.Stop()
	var last uint64
	first := true
	for {
		select {
		case <-l.run.stopping:
			return
		case <-t.C:
		}
		st, err := readSockStats(l.collector.files, l.collector.inodes)
		if err != nil || st.found == 0 {
			continue
		}
		if !first && st.drops > last {
			l.cfg.Logger.Warn("kernel dropped datagrams: the receive buffer overflowed",
				"listener", l.cfg.Name, "dropped", st.drops-last, "interval", l.cfg.KernelStatsInterval,
				"receive_buffer", l.collector.rcvbuf,
				"fix", "raise the receive buffer (net.core.rmem_max), add readers or CPU")
		}
		first = false
		last = st.drops
	}
}

// udpBatchReader reads with recvmmsg through golang.org/x/net.
type udpBatchReader struct {
	pc interface {
		ReadBatch([]ipv4.Message, int) (int, error)
	}
	msgs []ipv4.Message
	bufs [][]byte
}

func newUDPBatchReader(conn *net.UDPConn, batch, size int) *udpBatchReader {
	r := &udpBatchReader{msgs: make([]ipv4.Message, batch), bufs: make([][]byte, batch)}
	// ipv4 and ipv6 share the Message type; the family only matters for
	// the options neither is asked to set here.
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() == nil {
		r.pc = ipv6.NewPacketConn(conn)
	} else {
		r.pc = ipv4.NewPacketConn(conn)
	}
	slab := make([]byte, batch*size)
	for i := range r.msgs {
		r.bufs[i] = slab[i*size : (i+1)*size : (i+1)*size]
		r.msgs[i].Buffers = [][]byte{r.bufs[i]}
	}
	return r
}

func (r *udpBatchReader) readBatch() (int, error) { return r.pc.ReadBatch(r.msgs, 0) }

func (r *udpBatchReader) datagram(i int) ([]byte, bool) {
	m := &r.msgs[i]
	return r.bufs[i][:m.N], m.Flags&msgTrunc != 0
}
