// Package storage opens the storage that translated series are appended to
// and queried from: Prometheus's own TSDB (mode "server"), or its agent WAL
// (mode "agent", only what remote write needs), with Prometheus's remote
// write queue manager fed from that WAL.
//
// It is assembled from Prometheus's packages the way cmd/prometheus
// assembles them, so that what users know about Prometheus holds here: the
// WAL makes an acknowledged append (a returned Commit) survive a kill -9,
// remote write reads the WAL rather than an in-memory queue so a receiver
// outage is bridged from disk, and the remote write self-metrics
// (prometheus_remote_storage_*) are the ones Prometheus dashboards know.
//
// Everything else in Copenhagen reaches storage through Prometheus's
// interfaces only (storage.Appendable, storage.Queryable), so that the
// embedded TSDB and agent mode are interchangeable for ingestion and for
// alerting.
package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/scrape"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/storage/remote"
	"github.com/prometheus/prometheus/tsdb"
	"github.com/prometheus/prometheus/tsdb/agent"
	"github.com/prometheus/prometheus/util/compression"
	"go.yaml.in/yaml/v3"
)

// Storage modes.
const (
	ModeServer = "server" // embedded TSDB: query API, alerting, remote write
	ModeAgent  = "agent"  // WAL only: remote write, no queries
)

// Options configure Open. Zero values take Prometheus's defaults.
type Options struct {
	// Mode is ModeServer (default) or ModeAgent.
	Mode string
	// Path is the data directory; it is created if missing.
	Path string
	// Retention is how long the TSDB keeps samples (server mode).
	Retention time.Duration
	// OutOfOrderWindow is how far behind the newest sample of a series a
	// sample may be and still be accepted. Graphite clients send their own
	// timestamps and carbon relays reorder, so this is rarely 0.
	OutOfOrderWindow time.Duration
	// MaxWALAge bounds the remote write backlog in agent mode: WAL
	// segments older than this are dropped even if not yet sent (Prometheus
	// agent's storage.agent.retention.max-time). Server mode keeps what
	// the head block's WAL holds (two to three hours).
	MaxWALAge time.Duration
	// RemoteWrite are the remote write targets, as Prometheus configures
	// them. Each is validated by Open and ApplyRemoteWrite.
	RemoteWrite []*promconfig.RemoteWriteConfig
	// FlushDeadline is how long Close waits for remote write queues to
	// send what they hold.
	FlushDeadline time.Duration
	// LookbackDelta is the PromQL engine's staleness window (default 5m).
	LookbackDelta time.Duration
	// QueryTimeout bounds one PromQL query (default 2m).
	QueryTimeout time.Duration
	// MaxSamples bounds the samples one query may load (default 50M).
	MaxSamples int
	// MaxFuture is how far ahead of the wall clock a sample may be
	// stamped (default DefaultMaxFuture). Appends beyond are refused with
	// ErrTooFarInFuture, whatever their source, so that no client clock
	// can move the TSDB head ahead of the present.
	MaxFuture time.Duration

	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Storage is the open storage: a fanout of the local TSDB (or agent WAL)
// and remote write. It implements storage.Storage; appends commit to the
// local WAL and are shipped from there.
type Storage struct {
	storage.Storage // the fanout

	mode   string
	path   string
	logger *slog.Logger
	tsdb   *tsdb.DB
	agent  *agent.DB
	remote *remote.Storage
	engine *promql.Engine

	maxFuture time.Duration
	guard     *guardMetrics
	skips     *histogramSkips

	closeOnce sync.Once
	closeErr  error
	closing   atomic.Bool
}

// Defaults used for zero Options.
const (
	DefaultRetention     = 15 * 24 * time.Hour
	DefaultMaxWALAge     = 4 * time.Hour
	DefaultFlushDeadline = time.Minute
	DefaultLookbackDelta = 5 * time.Minute
	DefaultQueryTimeout  = 2 * time.Minute
	DefaultMaxSamples    = 50000000
)

// Open opens (creating if needed) the storage in opts.Path and starts
// remote write. The directory is locked: a second process gets an error.
func Open(opts Options) (_ *Storage, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Registerer == nil {
		opts.Registerer = prometheus.NewRegistry()
	}
	if opts.Mode == "" {
		opts.Mode = ModeServer
	}
	if opts.Mode != ModeServer && opts.Mode != ModeAgent {
		return nil, fmt.Errorf("storage mode %q: expected %q or %q", opts.Mode, ModeServer, ModeAgent)
	}
	if opts.Path == "" {
		return nil, errors.New("storage path is empty")
	}
	if opts.Retention <= 0 {
		opts.Retention = DefaultRetention
	}
	if opts.MaxWALAge <= 0 {
		opts.MaxWALAge = DefaultMaxWALAge
	}
	if opts.FlushDeadline <= 0 {
		opts.FlushDeadline = DefaultFlushDeadline
	}
	if err := os.MkdirAll(opts.Path, 0o777); err != nil {
		return nil, fmt.Errorf("storage path: %w", err)
	}
	dir, err := filepath.Abs(opts.Path)
	if err != nil {
		return nil, fmt.Errorf("storage path: %w", err)
	}
	if opts.MaxFuture <= 0 {
		opts.MaxFuture = DefaultMaxFuture
	}
	s := &Storage{mode: opts.Mode, path: dir, logger: opts.Logger, maxFuture: opts.MaxFuture,
		skips: newHistogramSkips(opts.Registerer, opts.Logger.With("component", "remote"))}

	// Remote write reads the WAL under dir, so it is created first and
	// told about every commit (SetWriteNotified), as in cmd/prometheus.
	startTime := func() (int64, error) {
		if s.tsdb != nil {
			st, err := s.tsdb.StartTime()
			if err != nil {
				return 0, err
			}
			// cmd/prometheus adds this margin: two block durations.
			return st + 2*tsdb.DefaultBlockDuration, nil
		}
		if s.agent != nil {
			return s.agent.StartTime()
		}
		return math.MaxInt64, nil
	}
	s.remote = remote.NewStorage(opts.Logger.With("component", "remote"), opts.Registerer, startTime,
		dir, opts.FlushDeadline, noScrapeManager{}, false)
	defer func() {
		if err != nil {
			_ = s.remote.Close()
		}
	}()

	ooo := opts.OutOfOrderWindow.Milliseconds()
	var local storage.Storage
	switch opts.Mode {
	case ModeServer:
		o := tsdb.DefaultOptions()
		o.RetentionDuration = opts.Retention.Milliseconds()
		o.OutOfOrderTimeWindow = ooo
		o.WALCompression = compression.Snappy // cmd/prometheus's default
		db, err := tsdb.Open(dir, opts.Logger.With("component", "tsdb"), opts.Registerer, o, tsdb.NewDBStats())
		if err != nil {
			return nil, fmt.Errorf("opening TSDB in %s: %w", dir, err)
		}
		db.SetWriteNotified(s.remote)
		s.tsdb, local = db, db
	case ModeAgent:
		o := agent.DefaultOptions()
		o.OutOfOrderTimeWindow = ooo
		o.WALCompression = compression.Snappy
		o.MaxWALTime = opts.MaxWALAge.Milliseconds()
		if o.MinWALTime > o.MaxWALTime {
			o.MinWALTime = o.MaxWALTime
		}
		db, err := agent.Open(opts.Logger.With("component", "agent"), opts.Registerer, s.remote, dir, o)
		if err != nil {
			return nil, fmt.Errorf("opening agent WAL in %s: %w", dir, err)
		}
		db.SetWriteNotified(s.remote)
		s.agent, local = db, db
	}
	if err := s.ApplyRemoteWrite(opts.RemoteWrite); err != nil {
		_ = local.Close()
		return nil, err
	}
	s.Storage = storage.NewFanout(opts.Logger, local, s.remote)
	s.guard = newGuardMetrics(opts.Registerer)
	s.engine = NewEngine(opts)
	return s, nil
}

// NewEngine returns a PromQL engine with the options Prometheus uses by
// default (@ modifier and negative offsets enabled, as in Prometheus 3).
// Its metrics (prometheus_engine_*) are registered with opts.Registerer,
// so build one per registry; Storage.Engine returns the shared one.
func NewEngine(opts Options) *promql.Engine {
	if opts.LookbackDelta <= 0 {
		opts.LookbackDelta = DefaultLookbackDelta
	}
	if opts.QueryTimeout <= 0 {
		opts.QueryTimeout = DefaultQueryTimeout
	}
	if opts.MaxSamples <= 0 {
		opts.MaxSamples = DefaultMaxSamples
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return promql.NewEngine(promql.EngineOpts{
		Logger:               logger.With("component", "query engine"),
		Reg:                  opts.Registerer,
		MaxSamples:           opts.MaxSamples,
		Timeout:              opts.QueryTimeout,
		LookbackDelta:        opts.LookbackDelta,
		EnableAtModifier:     true,
		EnableNegativeOffset: true,
		NoStepSubqueryIntervalFn: func(int64) int64 {
			return time.Minute.Milliseconds() // Prometheus's default evaluation_interval
		},
	})
}

// ApplyRemoteWrite replaces the remote write targets. Queues whose
// configuration did not change keep running (and keep their position in
// the WAL); see remote.Storage.ApplyConfig. An invalid target refuses the
// whole list and keeps the running one.
func (s *Storage) ApplyRemoteWrite(rws []*promconfig.RemoteWriteConfig) error {
	if err := ValidateRemoteWrite(rws); err != nil {
		return err
	}
	cfg := &promconfig.Config{
		GlobalConfig:       promconfig.DefaultGlobalConfig,
		RemoteWriteConfigs: rws,
	}
	if err := s.remote.ApplyConfig(cfg); err != nil {
		return fmt.Errorf("remote_write: %w", err)
	}
	// After the queues: a config the queues refused leaves the counted
	// targets as they were, like the queues.
	return s.skips.apply(rws)
}

// ValidateRemoteWrite checks remote write targets the way
// ApplyRemoteWrite will, so that a reload can refuse a bad list before
// anything changes: a URL, a valid HTTP client config, unique names and
// no two identical targets (Prometheus refuses duplicates).
func ValidateRemoteWrite(rws []*promconfig.RemoteWriteConfig) error {
	names := map[string]int{}
	same := map[string]int{}
	for i, rw := range rws {
		if rw == nil || rw.URL == nil || rw.URL.URL == nil {
			return fmt.Errorf("remote_write[%d]: url is missing", i)
		}
		if err := rw.HTTPClientConfig.Validate(); err != nil {
			return fmt.Errorf("remote_write[%d]: %w", i, err)
		}
		if rw.Name != "" {
			if j, dup := names[rw.Name]; dup {
				return fmt.Errorf("remote_write[%d]: name %q is already used by remote_write[%d]", i, rw.Name, j)
			}
			names[rw.Name] = i
		}
		b, err := yaml.Marshal(rw)
		if err != nil {
			return fmt.Errorf("remote_write[%d]: %w", i, err)
		}
		if j, dup := same[string(b)]; dup {
			return fmt.Errorf("remote_write[%d]: same target and settings as remote_write[%d]", i, j)
		}
		same[string(b)] = i
	}
	return nil
}

// Mode is ModeServer or ModeAgent.
func (s *Storage) Mode() string { return s.mode }

// Path is the absolute data directory.
func (s *Storage) Path() string { return s.path }

// Engine is the PromQL engine over this storage, shared by the query API
// and the rules manager (one engine per registry: its metrics are
// registered once).
func (s *Storage) Engine() *promql.Engine { return s.engine }

// Queryable returns what PromQL should read: the local TSDB, or nil with
// ErrAgent in agent mode (there is nothing local to query).
func (s *Storage) Queryable() (storage.SampleAndChunkQueryable, error) {
	if s.mode == ModeAgent {
		return nil, ErrAgent
	}
	return s.Storage, nil
}

// ErrAgent is returned for queries in agent mode, with the wording of
// Prometheus's agent.
var ErrAgent = errors.New("unavailable with Prometheus Agent: storage.mode is agent, which keeps only what remote write needs")

// TSDB is the embedded TSDB in server mode, nil in agent mode. It is for
// status pages and tests; append and query through Storage.
func (s *Storage) TSDB() *tsdb.DB { return s.tsdb }

// Close closes the local storage (flushing the WAL) and stops remote
// write, giving its queues FlushDeadline to send what they hold. A second
// Close returns the first one's result (Prometheus's remote storage
// panics on a second Close).
func (s *Storage) Close() error {
	s.closing.Store(true)
	s.closeOnce.Do(func() { s.closeErr = s.Storage.Close() })
	return s.closeErr
}

// noScrapeManager stands in for the scrape manager remote write asks for
// target metadata: Copenhagen has no scrape targets, and metadata sending
// is off.
type noScrapeManager struct{}

func (noScrapeManager) Get() (*scrape.Manager, error) {
	return nil, errors.New("copenhagen has no scrape manager")
}

// Appender returns an appender of the fanout (local storage and remote
// write) behind the guard: a sample stamped more than MaxFuture after
// the wall clock at this call is refused with ErrTooFarInFuture, and
// every refused sample is counted by reason in
// copenhagen_storage_samples_refused_total. Everything appends through
// here (StatsD flushes, Graphite, rule output), so nothing moves the head
// ahead of the present.
func (s *Storage) Appender(ctx context.Context) storage.Appender {
	return &guardAppender{
		Appender:       s.Storage.Appender(ctx),
		limit:          time.Now().Add(s.maxFuture).UnixMilli(),
		metrics:        s.guard,
		histogramCount: histogramCount{skips: s.skips},
	}
}

// AppenderV2 returns an appender of the fanout through Prometheus's V2
// interface (the rules manager's) behind the same guard as Appender: a
// sample stamped more than MaxFuture after the wall clock is refused and
// every refusal counted, and native histograms appended through it are
// counted for remote write targets that do not take them.
func (s *Storage) AppenderV2(ctx context.Context) storage.AppenderV2 {
	return &guardAppenderV2{
		AppenderV2:     s.Storage.AppenderV2(ctx),
		limit:          time.Now().Add(s.maxFuture).UnixMilli(),
		metrics:        s.guard,
		histogramCount: histogramCount{skips: s.skips},
	}
}

// ErrFlushIncomplete is returned by CloseContext when remote write had
// not sent everything it held when the context ended.
var ErrFlushIncomplete = errors.New("remote write had not sent everything when the shutdown budget ran out; the samples not sent are lost for the receivers, the local storage keeps them")

// CloseContext closes like Close, but returns when ctx is done even if
// remote write is still flushing (the local storage closes first, so
// what was appended is on disk): the close goes on in the background,
// bounded by FlushDeadline, and the error is ErrFlushIncomplete.
func (s *Storage) CloseContext(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Close()
	}()
	select {
	case <-done:
		return s.closeErr
	case <-ctx.Done():
		return ErrFlushIncomplete
	}
}

// Closed reports whether Close (or CloseContext) was called: the query
// API then answers "not ready".
func (s *Storage) Closed() bool { return s.closing.Load() }
