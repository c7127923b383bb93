package main

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
	commoncfg "github.com/prometheus/common/config"

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
		HTTPClient: kc.HTTPClientConfig.Prometheus(commoncfg.DefaultHTTPClientConfig),
		BatchSize:  int(kc.BatchSize), BatchWait: kc.BatchWait, MaxBuffer: int(kc.MaxBuffer),
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
			return lokipush.NewFileSink(pusher, labeler.ForFile(f.Path, f.Labels), f.Cursor)
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
		close: func(context.Context) error {
			cancel()
			return nil
		}})
	// Loki gets what is left of the shutdown budget, at most
	// loki.shutdown_timeout.
	a.add(component{name: "logs.loki", stage: stageShip,
		close: func(sctx context.Context) error {
			cancel()
			wait, wcancel := context.WithTimeout(sctx, 5*time.Second)
			defer wcancel()
			select { // the tailers have stopped pushing
			case <-done:
			case <-wait.Done():
			}
			err := pusher.Shutdown(sctx)
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
	shown := kc.URL
	if u, err := url.Parse(kc.URL); err == nil {
		shown = u.Redacted() // a password in the URL stays out of the log
	}
	a.logger.Info("shipping logs to loki", "url", shown, "paths", lc.Paths, "files", len(lc.Files), "node", node)
	return nil
}
