// Package relay copies received lines, unchanged, to the legacy daemons
// (etsy StatsD, carbon) during a migration, so that dashboards and checks
// still fed by them keep working until the switch is complete.
//
// Forwarding must never slow the listener down: Send only copies into a
// bounded per-target queue and returns; one goroutine per target does the
// network I/O. When a target cannot keep up, whole Send calls are dropped
// and counted (copenhagen_relay_dropped_total{reason="queue_full"}) rather
// than making the readers wait and the kernel drop everything instead.
package relay

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
)

// Defaults of Options.
const (
	// DefaultMaxDatagramSize keeps a datagram inside a 1500-byte Ethernet
	// frame with IPv6 and UDP headers (1500 - 40 - 8 = 1452) and some room
	// for tunnels, as etsy StatsD clients do.
	DefaultMaxDatagramSize = 1432
	DefaultQueueSize       = 8 << 20
)

// Drop reasons of copenhagen_relay_dropped_total.
const (
	ReasonQueueFull = "queue_full" // the target's sender was too far behind
	ReasonSendError = "send_error" // the socket refused the datagram
	ReasonClosed    = "closed"     // Send after Close
)

// Options tune a Relay. Zero values select the defaults.
type Options struct {
	// QueueSize bounds the bytes waiting for one target. The sender may
	// hold as much again while it writes.
	QueueSize int
	// MaxDatagramSize bounds the UDP datagrams built from the lines; a line
	// is never split, and a longer line is sent alone.
	MaxDatagramSize int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Relay forwards lines to a fixed set of targets.
type Relay struct {
	targets   []*target
	closeOnce sync.Once
}

// New validates the targets and starts one sender per target. A target is
// "host:port" or "udp://host:port" (StatsD over UDP). Names are resolved
// by the sender, so a target that is down or not yet in DNS does not stop
// the process from starting; its lines are counted as send errors.
func New(targets []string, opts Options, reg prometheus.Registerer) (*Relay, error) {
	if opts.QueueSize <= 0 {
		opts.QueueSize = DefaultQueueSize
	}
	if opts.MaxDatagramSize <= 0 {
		opts.MaxDatagramSize = DefaultMaxDatagramSize
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	r := &Relay{}
	seen := map[string]bool{}
	for _, spec := range targets {
		network, addr, err := parseTarget(spec)
		if err != nil {
			return nil, err
		}
		if seen[spec] {
			return nil, fmt.Errorf("relay target %q: listed twice", spec)
		}
		seen[spec] = true
		var tr transport
		switch network {
		case "udp":
			tr = newUDPTransport(addr, opts.MaxDatagramSize)
		default:
			// A TCP transport (carbon plaintext) plugs in here: it writes
			// the lines as a stream and reconnects on errors.
			return nil, fmt.Errorf("relay target %q: network %q is not supported", spec, network)
		}
		r.targets = append(r.targets, newTarget(spec, tr, opts, m))
	}
	for _, t := range r.targets {
		go t.run()
	}
	return r, nil
}

// parseTarget splits "[network://]host:port".
func parseTarget(spec string) (network, addr string, err error) {
	network, addr = "udp", spec
	if i := strings.Index(spec, "://"); i >= 0 {
		network, addr = spec[:i], spec[i+3:]
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", "", fmt.Errorf("relay target %q: %w", spec, err)
	}
	if p, err := strconv.ParseUint(port, 10, 16); err != nil || p == 0 {
		return "", "", fmt.Errorf("relay target %q: invalid port %q", spec, port)
	}
	if host == "" {
		return "", "", fmt.Errorf("relay target %q: missing host", spec)
	}
	return network, addr, nil
}

// Send queues lines (one or more '\n'-separated lines, as read from one
// datagram or a TCP block) for every target. It copies lines and never
// blocks; lines is not retained.
func (r *Relay) Send(lines []byte) {
	if len(lines) == 0 {
		return
	}
	for _, t := range r.targets {
		t.enqueue(lines)
	}
}

// Close sends what the queues hold, stops the senders and closes their
// sockets. Send calls after Close are dropped and counted.
func (r *Relay) Close() error { return r.CloseContext(context.Background()) }

// CloseContext is Close that gives up waiting when ctx is done (the
// shutdown budget ran out): the error names each target with what it had
// not sent, and its sender goes on in the background until its retries
// end.
func (r *Relay) CloseContext(ctx context.Context) error {
	var err error
	r.closeOnce.Do(func() { err = closeTargets(ctx, r.targets) })
	return err
}

// closeTargets stops the targets' queues and waits for their senders to
// flush what is queued, until ctx is done.
func closeTargets(ctx context.Context, targets []*target) error {
	var errs []error
	for _, t := range targets {
		t.mu.Lock()
		t.closed = true
		t.mu.Unlock()
		close(t.stop)
	}
	for _, t := range targets {
		select {
		case <-t.done:
		case <-ctx.Done():
			t.mu.Lock()
			queued := countLines(t.pending)
			t.mu.Unlock()
			errs = append(errs, fmt.Errorf("relay target %s: still sending when the shutdown budget ran out; %d more lines queued are not relayed", t.name, queued))
			continue
		}
		if err := t.tr.close(); err != nil {
			errs = append(errs, fmt.Errorf("relay target %s: %w", t.name, err))
		}
	}
	return errors.Join(errs...)
}

// target is one destination: a bounded queue filled by Send and drained by
// its own sender goroutine.
type target struct {
	name   string
	tr     transport
	logger *slog.Logger
	max    int

	mu      sync.Mutex
	pending []byte // whole lines, each ending with '\n'
	closed  bool

	spare []byte // the sender's other buffer, swapped with pending
	wake  chan struct{}
	stop  chan struct{}
	done  chan struct{}

	sent, failures                    prometheus.Counter
	droppedFull, droppedSend, closedC prometheus.Counter
	dropLog, sendLog                  *ratelog.Limiter
}

func newTarget(name string, tr transport, opts Options, m *metrics) *target {
	return &target{
		name: name, tr: tr, logger: opts.Logger, max: opts.QueueSize,
		// Full size up front: Send never grows a buffer, and the pages of
		// a queue that never fills are never touched.
		pending: make([]byte, 0, opts.QueueSize),
		spare:   make([]byte, 0, opts.QueueSize),
		wake:    make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
		sent:        m.sent.WithLabelValues(name),
		failures:    m.failures.WithLabelValues(name),
		droppedFull: m.dropped.WithLabelValues(name, ReasonQueueFull),
		droppedSend: m.dropped.WithLabelValues(name, ReasonSendError),
		closedC:     m.dropped.WithLabelValues(name, ReasonClosed),
		dropLog:     ratelog.New(10 * time.Second),
		sendLog:     ratelog.New(10 * time.Second),
	}
}

func (t *target) enqueue(lines []byte) {
	n := len(lines)
	if lines[n-1] != '\n' {
		n++
	}
	t.mu.Lock()
	if t.closed || len(t.pending)+n > t.max {
		closed := t.closed
		t.mu.Unlock()
		dropped := countLines(lines)
		if closed {
			t.closedC.Add(float64(dropped))
			return
		}
		t.droppedFull.Add(float64(dropped))
		if ok, suppressed := t.dropLog.Allow(); ok {
			t.logger.Warn("relay queue full: dropping lines", "target", t.name,
				"lines", dropped, "queue_size", t.max, "suppressed_similar", suppressed)
		}
		return
	}
	t.pending = append(t.pending, lines...)
	if n > len(lines) {
		t.pending = append(t.pending, '\n')
	}
	t.mu.Unlock()
	select {
	case t.wake <- struct{}{}:
	default: // the sender is already due to look at the queue
	}
}

func (t *target) run() {
	defer close(t.done)
	for {
		select {
		case <-t.wake:
			t.flush()
		case <-t.stop:
			t.flush() // Close set closed first: nothing can follow this
			return
		}
	}
}

// flush takes what the queue holds, leaving the other buffer in its place,
// and sends it without holding the lock.
func (t *target) flush() {
	t.mu.Lock()
	buf := t.pending
	t.pending = t.spare[:0]
	t.mu.Unlock()
	t.spare = buf
	if len(buf) == 0 {
		return
	}
	res := t.tr.send(buf)
	t.sent.Add(float64(res.sent))
	if res.failed > 0 {
		t.failures.Add(float64(res.failures))
		t.droppedSend.Add(float64(res.failed))
		if ok, suppressed := t.sendLog.Allow(); ok {
			t.logger.Warn("relaying lines failed", "target", t.name, "lines", res.failed, "err", res.err,
				"suppressed_similar", suppressed)
		}
	}
}

// countLines counts the non-empty lines of b.
func countLines(b []byte) int {
	n := 0
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			return n + 1
		}
		if i > 0 {
			n++
		}
		b = b[i+1:]
	}
	return n
}

// sendResult is what a transport did with a buffer.
type sendResult struct {
	sent     int   // lines handed to the kernel
	failed   int   // lines lost to errors
	failures int   // failed send calls (or connection attempts)
	err      error // the last error, for the log
}

// transport delivers whole lines to one target over one protocol.
type transport interface {
	// send delivers buf, complete lines each ending with '\n'. Empty lines
	// carry nothing and are left out.
	send(buf []byte) sendResult
	close() error
}
