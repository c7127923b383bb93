package main

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"sync"
	"time"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"

	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
	"github.com/copenhagen-obs/copenhagen/ingest/logs"
	"github.com/copenhagen-obs/copenhagen/translate/lokipush"
	"github.com/copenhagen-obs/copenhagen/translate/streams"
)

// buildLogs wires log tailing and shipping: tailers (stageIngest) read
// files and push to the Loki pusher (stageShip), whose acknowledgements
// move the positions file. Disabled when loki.url is "".
func (a *app) buildLogs(cfg *config.Config) error {
	lc, kc := cfg.Logs, cfg.Loki
	if kc.URL == "" {
		return nil
	}
	posWrites := promauto.With(a.reg).NewCounterVec(prometheus.CounterOpts{
		Name: "copenhagen_logs_positions_writes_total",
		Help: "Writes of the positions file, by result.",
	}, []string{"result"})
	positions, err := logs.OpenPositions(string(lc.PositionsFile), lc.PositionsSyncInterval, a.logger, func(err error) {
		if err != nil {
			posWrites.WithLabelValues("failure").Inc()
		} else {
			posWrites.WithLabelValues("success").Inc()
		}
	})
	if err != nil {
		return fmt.Errorf("logs.positions_file: %w", err)
	}
	pusher, err := lokipush.New(lokipush.Config{
		URL: kc.URL, TenantID: kc.TenantID,
		Username: kc.BasicAuth.Username, PasswordFile: string(kc.BasicAuth.PasswordFile),
		BearerTokenFile: string(kc.BearerTokenFile),
		BatchSize:       int(kc.BatchSize), BatchWait: kc.BatchWait, MaxBuffer: int(kc.MaxBuffer),
		Timeout: kc.Timeout, MinBackoff: kc.MinBackoff, MaxBackoff: kc.MaxBackoff,
		MaxLineSize: int(kc.MaxLineSize), DropLongLines: kc.DropLongLines,
		ShutdownTimeout: kc.ShutdownTimeout, Logger: a.logger,
	}, a.reg)
	if err != nil {
		positions.Close()
		return fmt.Errorf("loki.url: %w", err)
	}
	node := lc.Node
	if node == "" {
		node = os.Getenv("NODE_NAME")
	}
	if node == "" {
		node, _ = os.Hostname()
	}
	labeler := streams.NewLabeler(streams.Options{Node: node, MaxStreams: lc.MaxStreams, MaxLabelValueLength: lc.MaxLabelValueLength}, a.reg)

	var sources []logs.Source
	for _, p := range lc.Paths {
		sources = append(sources, logs.Source{Glob: p})
	}
	for _, f := range lc.Files {
		sources = append(sources, logs.Source{Glob: string(f.Path), Labels: f.Labels})
	}
	var ml []logs.MultilineRule
	for _, m := range lc.Multiline {
		ml = append(ml, logs.MultilineRule{Glob: m.Path, Multiline: logs.Multiline{
			FirstLine: regexp.MustCompile(m.FirstLine), MaxLines: m.MaxLines, MaxWait: m.MaxWait}})
	}
	mgr, err := logs.NewManager(logs.Config{
		Sources: sources, Multiline: ml, StartAtEnd: lc.StartAt == "end", Positions: positions,
		PollInterval: lc.PollInterval, ScanInterval: lc.ScanInterval, MaxLineSize: int(lc.MaxLineSize),
		Logger: a.logger,
		Output: func(f logs.FileInfo) logs.Sink {
			fl := labeler.ForFile(f.Path, f.Labels)
			return &lokiSink{p: pusher, file: fl, md: streams.NewWithLevel(fl.Metadata), ack: f.Cursor}
		},
	}, a.reg)
	if err != nil {
		pusher.Close()
		positions.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	a.add(component{name: "logs.tail", stage: stageIngest,
		serve: func(sctx context.Context) error {
			defer close(done)
			stop := context.AfterFunc(sctx, cancel)
			defer stop()
			return mgr.Run(ctx)
		},
		close: func() error {
			cancel()
			return nil
		}})
	a.add(component{name: "logs.loki", stage: stageShip,
		close: func() error {
			cancel()
			select { // the tailers have stopped pushing
			case <-done:
			case <-time.After(5 * time.Second):
			}
			err := pusher.Close()
			positions.Close()
			return err
		}})
	a.reloaders = append(a.reloaders, func(n *config.Config) (func(), error) {
		return func() {
			if fmt.Sprint(n.Logs) != fmt.Sprint(lc) || fmt.Sprint(n.Loki) != fmt.Sprint(kc) {
				a.logger.Warn("logs and loki settings changed in the file; they take effect at the next restart")
			}
		}, nil
	})
	a.logger.Info("shipping logs to loki", "url", config.RedactURL(kc.URL), "paths", lc.Paths, "files", len(lc.Files), "node", node)
	return nil
}

// lokiSink turns the records of one file into Loki entries, handed to
// the pusher a read at a time (PushMany) rather than line by line.
type lokiSink struct {
	p       *lokipush.Pusher
	file    *streams.File
	md      *streams.WithLevel
	ack     lokipush.Acker
	pending []lokipush.Entry
	bytes   int
	// arena holds the lines of pending entries: one allocation per read
	// instead of one per line. Its bytes are never written again once a
	// string points at them, and it is let go at every Flush, so an idle
	// file holds no memory.
	arena []byte
}

// line copies b into the arena and returns it as a string.
func (s *lokiSink) line(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	if len(b) > sinkFlushBytes/4 {
		return string(b)
	}
	if cap(s.arena)-len(s.arena) < len(b) {
		s.arena = make([]byte, 0, sinkFlushBytes)
	}
	start := len(s.arena)
	s.arena = append(s.arena, b...)
	return unsafe.String(&s.arena[start], len(b))
}

// sinkFlushBytes bounds what one file holds before handing it over.
const sinkFlushBytes = 16 << 10

func (s *lokiSink) Send(ctx context.Context, r *logs.Record) error {
	ts := r.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	if s.pending == nil {
		s.pending = (*pendingPool.Get().(*[]lokipush.Entry))[:0]
	}
	s.pending = append(s.pending, lokipush.Entry{
		Labels: s.file.Labels[r.Stream], Time: ts, Line: s.line(r.Line),
		Metadata: s.md.Get(r.Level), Ack: s.ack, Offset: r.Offset,
	})
	s.bytes += len(r.Line)
	if s.bytes >= sinkFlushBytes || len(s.pending) >= 256 {
		return s.Flush(ctx)
	}
	return nil
}

func (s *lokiSink) Flush(ctx context.Context) error {
	if len(s.pending) == 0 {
		return nil
	}
	err := s.p.PushMany(ctx, s.pending)
	clear(s.pending)
	done := s.pending[:0]
	pendingPool.Put(&done)
	s.pending, s.bytes, s.arena = nil, 0, nil
	return err
}

// pendingPool shares the entry slices of the sinks: an idle file holds
// none.
var pendingPool = sync.Pool{New: func() any { s := make([]lokipush.Entry, 0, 256); return &s }}

// Close releases the file's streams from the stream limit.
func (s *lokiSink) Close() { s.file.Release() }
