package listen

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
)

// UnixgramConfig configures a unix datagram listener (DogStatsD clients use
// one to skip the network stack inside a node). Zero values select the
// defaults of UDPConfig.
//
// Unlike UDP, a full unix datagram queue makes the sender wait (or fail
// with EAGAIN) instead of dropping silently in the kernel. The queue length
// is net.unix.max_dgram_qlen datagrams, 10 on many kernels: raise it on
// nodes that use this listener.
type UnixgramConfig struct {
	// Name is the value of the listener label, e.g. "statsd_unixgram".
	Name string
	// Path of the socket file. A stale socket file left by a previous run
	// is removed; a socket some process still receives on is not.
	Path string
	// Mode, if not zero, is applied to the socket file so that clients
	// running as other users can write to it.
	Mode fs.FileMode
	// Readers is the number of reader goroutines, default GOMAXPROCS.
	Readers int
	// BatchSize is the number of datagrams one recvmmsg call may return.
	BatchSize int
	// MaxDatagramSize is the read buffer of one datagram; a larger datagram
	// is dropped and counted as datagram_truncated.
	MaxDatagramSize int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Unixgram is a bound unix datagram listener. Nothing is read before Serve.
type Unixgram struct {
	cfg     UnixgramConfig
	conn    *net.UnixConn
	readers []batchReader
	d       *datagramReaders
	run     *runState
}

// ListenUnixgram creates the socket file and binds it.
func ListenUnixgram(cfg UnixgramConfig, newHandler NewHandler, reg prometheus.Registerer) (*Unixgram, error) {
	if cfg.Readers <= 0 {
		cfg.Readers = runtime.GOMAXPROCS(0)
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultBatchSize
	}
	if cfg.MaxDatagramSize <= 0 {
		cfg.MaxDatagramSize = DefaultMaxDatagramSize
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := removeStaleSocket(cfg.Path); err != nil {
		return nil, err
	}
	ctr, err := newCounters(cfg.Name, reg, false)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: cfg.Path, Net: "unixgram"})
	if err != nil {
		return nil, err
	}
	l := &Unixgram{cfg: cfg, conn: conn}
	if cfg.Mode != 0 {
		if err := os.Chmod(cfg.Path, cfg.Mode); err != nil {
			l.closeConn()
			return nil, fmt.Errorf("listen unixgram %s: %w", cfg.Path, err)
		}
	}
	for range cfg.Readers {
		r, err := newUnixBatchReader(conn, cfg.BatchSize, cfg.MaxDatagramSize)
		if err != nil {
			l.closeConn()
			return nil, fmt.Errorf("listen unixgram %s: %w", cfg.Path, err)
		}
		l.readers = append(l.readers, r)
	}
	l.run = newRunState(l.closeConn)
	l.d = &datagramReaders{
		name: cfg.Name, logger: cfg.Logger, ctr: ctr, newHandler: newHandler,
		maxSize: cfg.MaxDatagramSize, run: l.run,
		errLog: ratelog.New(10 * time.Second), truncLog: ratelog.New(10 * time.Second),
	}
	cfg.Logger.Info("listening", "listener", cfg.Name, "network", "unixgram", "addr", cfg.Path, "readers", cfg.Readers)
	if b, err := os.ReadFile("/proc/sys/net/unix/max_dgram_qlen"); err == nil {
		if q, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && q < 512 {
			cfg.Logger.Warn("the unix datagram queue is short: senders block or drop whenever the readers pause",
				"listener", cfg.Name, "max_dgram_qlen", q, "fix", "sysctl -w net.unix.max_dgram_qlen=1024 (before the listener starts)")
		}
	}
	return l, nil
}

// removeStaleSocket removes a socket file nobody receives on any more. It
// refuses to remove anything that is not a socket, or a live one.
func removeStaleSocket(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listen unixgram %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("listen unixgram %s: file exists and is not a socket", path)
	}
	if c, err := net.Dial("unixgram", path); err == nil {
		c.Close()
		return fmt.Errorf("listen unixgram %s: address already in use", path)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("listen unixgram %s: removing stale socket: %w", path, err)
	}
	return nil
}

// Addr is the socket's address.
func (l *Unixgram) Addr() net.Addr { return l.conn.LocalAddr() }

// Serve reads until ctx is done or Close is called.
func (l *Unixgram) Serve(ctx context.Context) error {
	fns := make([]func(), 0, len(l.readers))
	for _, r := range l.readers {
		fns = append(fns, func() { l.d.loop(r) })
	}
	return l.run.serve(ctx, fns...)
}

// Close stops reading, waits for in-flight handler calls and removes the
// socket file.
func (l *Unixgram) Close() error { return l.run.close() }

func (l *Unixgram) closeConn() error {
	err := l.conn.Close()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	if rerr := os.Remove(l.cfg.Path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	return err
}
