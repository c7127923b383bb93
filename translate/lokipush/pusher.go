// Package lokipush ships log entries to a Loki push endpoint
// (POST /loki/api/v1/push, snappy-compressed protobuf) in batches, and tells
// each entry's source when the server has acknowledged it.
//
// The acknowledgement is the point of the package: log tailers commit a
// file position only once every entry before it was stored, so a crash or an
// outage loses nothing (at-least-once). Batches are sent one at a time, in
// the order entries were pushed, so an acknowledgement of batch N means
// every earlier entry was acknowledged (or deliberately given up: a 400, a
// line over the size limit) too.
//
// Memory is bounded: Push blocks while MaxBuffer bytes are queued or in
// flight, which pauses the readers while Loki is down instead of growing
// without bound.
package lokipush

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strings"
	"sync"
	"time"

	"github.com/grafana/loki/pkg/push"
	"github.com/klauspost/compress/s2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	commoncfg "github.com/prometheus/common/config"

	"github.com/copenhagen-obs/copenhagen/ingest/backoff"
)

// Acker learns which of its entries the server has acknowledged. Pushers
// call Acked with the largest Offset of the entries of one source in an
// acknowledged batch, in push order, from one goroutine.
type Acker interface {
	Acked(offset int64)
}

// Entry is one log line on its way to Loki.
type Entry struct {
	// Labels is the stream selector, rendered: {app="x",namespace="y"}.
	// Entries with the same Labels string go to the same stream.
	Labels   string
	Time     time.Time
	Line     string
	Metadata push.LabelsAdapter // structured metadata; shared, not modified
	// Ack and Offset tell the source what was stored; Ack may be nil.
	Ack    Acker
	Offset int64
}

// entryOverhead approximates the memory of an Entry besides its line
// (the struct in the queue and its copy in the request), so that
// MaxBuffer bounds real memory even for short lines.
const entryOverhead = 160

func (e *Entry) size() int {
	n := len(e.Line) + entryOverhead
	for _, l := range e.Metadata {
		n += len(l.Name) + len(l.Value)
	}
	return n
}

// TruncatedMarker ends a line that was cut to MaxLineSize.
const TruncatedMarker = "…[truncated]"

// Config is what a Pusher needs. Zero values get the defaults documented on
// each field.
type Config struct {
	URL      string // full push URL
	TenantID string // X-Scope-OrgID; "" sends none
	// HTTPClient is Prometheus's HTTP client configuration: basic auth,
	// bearer token, OAuth2 (credentials from files, re-read on each
	// request so rotated ones apply without a restart), TLS and proxy.
	// The zero value is prometheus/common's DefaultHTTPClientConfig.
	HTTPClient commoncfg.HTTPClientConfig

	BatchSize  int           // bytes of lines per request; default 1 MiB
	BatchWait  time.Duration // longest an entry waits for its batch to fill; default 1s
	MaxBuffer  int           // bytes queued plus in flight before Push blocks; default 16 MiB
	Timeout    time.Duration // per request; default 10s
	MinBackoff time.Duration // default 500ms
	MaxBackoff time.Duration // default 30s
	// MaxLineSize is the server's line limit (Loki: 256KB). Longer lines
	// are cut and end with TruncatedMarker, or dropped when DropLongLines.
	// 0 means no limit.
	MaxLineSize   int
	DropLongLines bool
	// ShutdownTimeout bounds how long Close tries to deliver what is
	// queued (Shutdown: at most this, within its context); what is left
	// is not acknowledged, so it is read again at the next start. Default
	// 10s.
	ShutdownTimeout time.Duration

	Client *http.Client // default: built from HTTPClient, with Timeout
	Logger *slog.Logger
}

func (c *Config) setDefaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 1 << 20
	}
	if c.MaxBuffer <= 0 {
		c.MaxBuffer = 16 << 20
	}
	if c.MaxBuffer < c.BatchSize {
		c.MaxBuffer = c.BatchSize
	}
	def(&c.BatchWait, time.Second)
	def(&c.Timeout, 10*time.Second)
	def(&c.MinBackoff, 500*time.Millisecond)
	def(&c.MaxBackoff, 30*time.Second)
	def(&c.ShutdownTimeout, 10*time.Second)
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = c.MinBackoff
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
}

// newClient builds the HTTP client of c.HTTPClient.
func (c *Config) newClient() (*http.Client, error) {
	hc := c.HTTPClient
	if reflect.ValueOf(hc).IsZero() {
		hc = commoncfg.DefaultHTTPClientConfig
	}
	if err := hc.Validate(); err != nil {
		return nil, err
	}
	client, err := commoncfg.NewClientFromConfig(hc, "loki")
	if err != nil {
		return nil, err
	}
	client.Timeout = c.Timeout
	return client, nil
}

// Metrics are the pusher's self-metrics.
type Metrics struct {
	entriesSent  prometheus.Counter
	bytesSent    prometheus.Counter
	requests     *prometheus.CounterVec
	dropped      *prometheus.CounterVec
	truncated    prometheus.Counter
	buffered     prometheus.Gauge
	lastAckTime  prometheus.Gauge
	retriesTotal prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) *Metrics {
	f := promauto.With(reg)
	m := &Metrics{
		entriesSent: f.NewCounter(prometheus.CounterOpts{
			Name: "copenhagen_loki_entries_sent_total",
			Help: "Log entries acknowledged by Loki (2xx).",
		}),
		bytesSent: f.NewCounter(prometheus.CounterOpts{
			Name: "copenhagen_loki_sent_bytes_total",
			Help: "Compressed request bytes acknowledged by Loki.",
		}),
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_loki_requests_total",
			Help: "Push requests by HTTP status code (\"error\" for network errors).",
		}, []string{"code"}),
		dropped: f.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_loki_entries_dropped_total",
			Help: "Log entries not stored, by reason: rejected (in a batch Loki answered 400 to; some of its entries may have been stored), line_too_long (dropped before sending).",
		}, []string{"reason"}),
		truncated: f.NewCounter(prometheus.CounterOpts{
			Name: "copenhagen_loki_lines_truncated_total",
			Help: "Lines cut to loki.max_line_size before sending.",
		}),
		buffered: f.NewGauge(prometheus.GaugeOpts{
			Name: "copenhagen_loki_buffered_bytes",
			Help: "Bytes of entries queued or in flight; readers pause when it reaches loki.max_buffer.",
		}),
		lastAckTime: f.NewGauge(prometheus.GaugeOpts{
			Name: "copenhagen_loki_last_acknowledged_timestamp_seconds",
			Help: "When Loki last acknowledged a push.",
		}),
		retriesTotal: f.NewCounter(prometheus.CounterOpts{
			Name: "copenhagen_loki_retries_total",
			Help: "Push attempts repeated after a 429, 5xx, other non-400 error or network error.",
		}),
	}
	m.dropped.WithLabelValues("rejected")
	m.dropped.WithLabelValues("line_too_long")
	return m
}

// Pusher batches entries and sends them to Loki, one request at a time.
type Pusher struct {
	cfg Config
	m   *Metrics
	log *slog.Logger

	gate     sync.Mutex // producers waiting for room queue here
	mu       sync.Mutex
	notFull  *sync.Cond // signalled when buffered bytes go down
	queue    []Entry
	buffered int  // bytes queued + in flight
	closed   bool // no more pushes
	wake     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
	// abort is closed when Close gives up waiting: retries stop, and
	// abortCtx (cancelled with it) ends the request in flight.
	abort       chan struct{}
	abortCtx    context.Context
	cancelAbort context.CancelFunc

	// sender state, only used by the run goroutine
	req     push.PushRequest
	streams map[string]int
	body    []byte
	comp    []byte
	acks    map[Acker]int64
}

// New starts a Pusher. Close it to flush.
func New(cfg Config, reg prometheus.Registerer) (*Pusher, error) {
	if cfg.URL == "" {
		return nil, errors.New("lokipush: no URL")
	}
	if !strings.HasPrefix(cfg.URL, "http://") && !strings.HasPrefix(cfg.URL, "https://") {
		return nil, errors.New("lokipush: URL is not http(s)")
	}
	cfg.setDefaults()
	if cfg.Client == nil {
		c, err := cfg.newClient()
		if err != nil {
			return nil, fmt.Errorf("lokipush: HTTP client: %w", err)
		}
		cfg.Client = c
	}
	p := &Pusher{
		cfg:     cfg,
		m:       newMetrics(reg),
		log:     cfg.Logger,
		wake:    make(chan struct{}, 1),
		done:    make(chan struct{}),
		abort:   make(chan struct{}),
		streams: map[string]int{},
		acks:    map[Acker]int64{},
	}
	p.notFull = sync.NewCond(&p.mu)
	p.abortCtx, p.cancelAbort = context.WithCancel(context.Background())
	go p.run()
	return p, nil
}

// ErrClosed is returned by Push after Close.
var ErrClosed = errors.New("lokipush: closed")

// Push queues e. It blocks while the buffer is full (Loki slow or down)
// until there is room, ctx is done or the Pusher is closed.
func (p *Pusher) Push(ctx context.Context, e Entry) error {
	one := [1]Entry{e}
	return p.PushMany(ctx, one[:])
}

// PushMany queues entries (in order) under one lock: a tailer hands over
// what one read produced at once, which keeps hundreds of tailers from
// contending on the queue. It blocks like Push; entries is not retained.
func (p *Pusher) PushMany(ctx context.Context, entries []Entry) error {
	n := 0
	for i := range entries {
		p.limitLine(&entries[i])
		n += entries[i].size()
	}
	p.mu.Lock()
	if !p.closed && p.buffered > 0 && p.buffered+n > p.cfg.MaxBuffer {
		// Full: wait in line. Only the holder of the gate waits on the
		// condition, so a sent batch wakes one producer, not all of
		// them (with a thousand tailers the herd cost more than the
		// work).
		p.mu.Unlock()
		p.gate.Lock()
		defer p.gate.Unlock()
		p.mu.Lock()
	}
	// A set larger than the whole buffer goes in when the buffer is empty.
	for !p.closed && p.buffered > 0 && p.buffered+n > p.cfg.MaxBuffer {
		if ctx.Err() != nil {
			p.mu.Unlock()
			return ctx.Err()
		}
		p.waitLocked(ctx)
	}
	if p.closed {
		p.mu.Unlock()
		return ErrClosed
	}
	p.queue = append(p.queue, entries...)
	p.buffered += n
	p.m.buffered.Set(float64(p.buffered))
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

// limitLine applies MaxLineSize.
func (p *Pusher) limitLine(e *Entry) {
	if p.cfg.MaxLineSize <= 0 || len(e.Line) <= p.cfg.MaxLineSize {
		return
	}
	if p.cfg.DropLongLines {
		p.m.dropped.WithLabelValues("line_too_long").Inc()
		// Still queued, without content, so that its acknowledgement
		// moves the position past it.
		e.Line, e.Metadata, e.Labels = "", nil, ""
		return
	}
	e.Line = truncate(e.Line, p.cfg.MaxLineSize)
	p.m.truncated.Inc()
}

// waitLocked waits on notFull, waking up when ctx is done.
func (p *Pusher) waitLocked(ctx context.Context) {
	stop := context.AfterFunc(ctx, func() {
		p.mu.Lock()
		p.notFull.Broadcast()
		p.mu.Unlock()
	})
	p.notFull.Wait()
	stop()
}

// truncate cuts s to at most max bytes including the marker, on a UTF-8
// boundary.
func truncate(s string, max int) string {
	cut := max - len(TruncatedMarker)
	if cut <= 0 {
		return s[:max]
	}
	for cut > 0 && s[cut]&0xC0 == 0x80 {
		cut--
	}
	return s[:cut] + TruncatedMarker
}

// Close stops accepting entries, sends what is queued (giving up after
// ShutdownTimeout) and returns once every acknowledgement was delivered.
func (p *Pusher) Close() error { return p.Shutdown(context.Background()) }

// Shutdown is Close within ctx: it gives up when ctx is done or after
// ShutdownTimeout, whichever comes first. The error says how much was
// not delivered; it is not acknowledged, so its sources read it again at
// the next start.
func (p *Pusher) Shutdown(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.ShutdownTimeout)
	defer cancel()
	began := time.Now()
	p.mu.Lock()
	p.closed = true
	p.notFull.Broadcast()
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		p.mu.Lock()
		buffered, queued := p.buffered, len(p.queue)
		p.mu.Unlock()
		p.stopOnce.Do(func() { close(p.abort); p.cancelAbort() })
		<-p.done
		return fmt.Errorf("lokipush: gave up after %v with %d bytes of entries unsent (%d not yet batched); they will be read again at the next start",
			time.Since(began).Round(time.Millisecond), buffered, queued)
	}
}

// run is the sender loop: it gathers a batch (until BatchSize bytes or
// BatchWait after its first entry), sends it until it is acknowledged or
// given up, then acknowledges its entries to their sources.
func (p *Pusher) run() {
	defer close(p.done)
	var batch, pending []Entry // pending: taken from the queue, not yet batched
	pi := 0
	var batchBytes int
	var first time.Time
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		closed, drained := false, true
		if pi == len(pending) {
			// Swap the queue for the drained slice: no copying, and the
			// two slices are reused for good.
			clear(pending)
			p.mu.Lock()
			pending, p.queue = p.queue, pending[:0]
			closed = p.closed
			p.mu.Unlock()
			pi = 0
		}
		for ; pi < len(pending) && batchBytes < p.cfg.BatchSize; pi++ {
			if len(batch) == 0 {
				first = time.Now()
			}
			batchBytes += pending[pi].size()
			batch = append(batch, pending[pi])
		}
		if pi < len(pending) {
			drained = false
		} else {
			p.mu.Lock()
			closed = p.closed
			drained = len(p.queue) == 0
			p.mu.Unlock()
		}

		full := batchBytes >= p.cfg.BatchSize
		due := len(batch) > 0 && time.Since(first) >= p.cfg.BatchWait
		if len(batch) > 0 && (full || due || closed) {
			p.send(batch)
			p.mu.Lock()
			p.buffered -= batchBytes
			p.m.buffered.Set(float64(p.buffered))
			p.notFull.Broadcast()
			p.mu.Unlock()
			clear(batch)
			batch, batchBytes = batch[:0], 0
			continue
		}
		if !drained {
			continue
		}
		if closed && len(batch) == 0 {
			return
		}
		if len(batch) > 0 {
			timer.Reset(p.cfg.BatchWait - time.Since(first))
		}
		select {
		case <-p.wake:
		case <-timer.C:
		case <-p.abort:
			return
		}
		timer.Stop()
	}
}

// send delivers one batch, retrying until it is acknowledged, given up
// (400) or the pusher is aborted, then acknowledges the entries.
func (p *Pusher) send(batch []Entry) {
	if p.abortCtx.Err() != nil {
		return // given up: not acknowledged, read again after the restart
	}
	if countReal(batch) == 0 {
		p.ack(batch)
		return
	}
	body := p.encode(batch)
	// Jittered: the pods of a DaemonSet that lost Loki together must not
	// come back together.
	bo := backoff.New(p.cfg.MinBackoff, p.cfg.MaxBackoff)
	var wait time.Duration
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			p.m.retriesTotal.Inc()
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-p.abort:
				t.Stop()
				return // not acknowledged: read again after the restart
			}
		}
		wait = bo.Next()
		status, msg, err := p.post(body)
		switch {
		case err != nil:
			p.m.requests.WithLabelValues("error").Inc()
			p.log.Warn("loki push failed, retrying", "err", err, "backoff", wait.Round(time.Millisecond))
			continue
		case status/100 == 2:
			p.m.requests.WithLabelValues(statusLabel(status)).Inc()
			p.m.bytesSent.Add(float64(len(body)))
			p.m.entriesSent.Add(float64(countReal(batch)))
			p.m.lastAckTime.SetToCurrentTime()
		case status == http.StatusBadRequest:
			// Loki stored the entries it could and rejected the rest
			// (too old, too long, too many labels): resending would
			// duplicate the stored ones.
			p.m.requests.WithLabelValues("400").Inc()
			p.m.dropped.WithLabelValues("rejected").Add(float64(countReal(batch)))
			p.log.Error("loki rejected some entries of a batch (400); not resending", "entries", len(batch), "response", msg)
		default:
			// 429 and 5xx are transient; other codes (401, 403, 404, 413)
			// are configuration problems that an operator fixes: retrying
			// keeps the lines instead of dropping them.
			p.m.requests.WithLabelValues(statusLabel(status)).Inc()
			p.log.Warn("loki push refused, retrying", "status", status, "response", msg, "backoff", wait.Round(time.Millisecond))
			continue
		}
		p.ack(batch)
		return
	}
}

func countReal(batch []Entry) int {
	n := 0
	for i := range batch {
		if batch[i].Labels != "" {
			n++
		}
	}
	return n
}

func statusLabel(code int) string {
	switch code {
	case 200:
		return "200"
	case 204:
		return "204"
	case 429:
		return "429"
	}
	return fmt.Sprint(code)
}

// ack tells every source the largest offset of its entries in the batch.
func (p *Pusher) ack(batch []Entry) {
	clear(p.acks)
	order := make([]Acker, 0, 8)
	for i := range batch {
		a := batch[i].Ack
		if a == nil {
			continue
		}
		if _, ok := p.acks[a]; !ok {
			order = append(order, a)
		}
		p.acks[a] = max(p.acks[a], batch[i].Offset)
	}
	for _, a := range order {
		a.Acked(p.acks[a])
	}
}

// encode builds the snappy-compressed PushRequest of a batch, reusing the
// sender's buffers.
func (p *Pusher) encode(batch []Entry) []byte {
	clear(p.streams)
	for i := range p.req.Streams {
		p.req.Streams[i].Entries = p.req.Streams[i].Entries[:0]
	}
	ns := 0
	for i := range batch {
		e := &batch[i]
		if e.Labels == "" { // dropped line, only here for its ack
			continue
		}
		idx, ok := p.streams[e.Labels]
		if !ok {
			idx = ns
			ns++
			p.streams[e.Labels] = idx
			if idx == len(p.req.Streams) {
				p.req.Streams = append(p.req.Streams, push.Stream{})
			}
			p.req.Streams[idx].Labels = e.Labels
		}
		s := &p.req.Streams[idx]
		s.Entries = append(s.Entries, push.Entry{Timestamp: e.Time, Line: e.Line, StructuredMetadata: e.Metadata})
	}
	for i := ns; i < len(p.req.Streams); i++ {
		p.req.Streams[i] = push.Stream{}
	}
	p.req.Streams = p.req.Streams[:ns]
	var raw []byte
	p.body, raw = marshalStreams(p.body, p.req.Streams)
	// s2's Snappy-compatible encoder: the same block format Loki decodes,
	// with assembly that makes it several times cheaper than
	// golang/snappy's.
	if need := s2.MaxEncodedLen(len(raw)); cap(p.comp) < need {
		p.comp = make([]byte, need)
	}
	p.comp = s2.EncodeSnappy(p.comp[:cap(p.comp)], raw)
	// Drop references to the lines so the garbage collector can have them.
	for i := range p.req.Streams {
		clear(p.req.Streams[i].Entries)
	}
	return p.comp
}

// post sends one request; it returns the status and (a short piece of) the
// response body.
func (p *Pusher) post(body []byte) (int, string, error) {
	ctx, cancel := context.WithTimeout(p.abortCtx, p.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	req.Header.Set("User-Agent", "copenhagen")
	if p.cfg.TenantID != "" {
		req.Header.Set("X-Scope-OrgID", p.cfg.TenantID)
	}
	resp, err := p.cfg.Client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, strings.TrimSpace(string(msg)), nil
}
