package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
	"github.com/copenhagen-obs/copenhagen/ingest/listen"
	"github.com/copenhagen-obs/copenhagen/ingest/relay"
	"github.com/copenhagen-obs/copenhagen/ingest/statsd"
	"github.com/copenhagen-obs/copenhagen/translate/names"
	"github.com/copenhagen-obs/copenhagen/translate/series"
	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// statsdWiring is what buildStatsD built: the store that /metrics and the
// query API's metadata read, and the bound listeners (for tests).
type statsdWiring struct {
	store    *series.Store
	udp      *listen.UDP
	tcp      *listen.TCP
	unixgram *listen.Unixgram
}

// buildStatsD wires StatsD ingestion: the listeners (stageIngest) parse
// and translate through the mapping file into the series store and relay
// every line unchanged to statsd.relay (stagePipeline, so that what the
// listeners read last is still relayed); every flush interval the store
// closes its windows and, when st is not nil, commits its series to the
// storage. A reload replaces the mapping.
func (a *app) buildStatsD(cfg *config.Config, st *cstorage.Storage) (*statsdWiring, error) {
	sc := cfg.StatsD
	m, err := names.Load(string(sc.MappingFile))
	if err != nil {
		return nil, fmt.Errorf("statsd.mapping_file: %w", err)
	}
	w := &statsdWiring{store: series.New(series.Options{
		MaxSeries:           sc.MaxSeries,
		MaxSetSize:          sc.MaxSetSize,
		MaxLabels:           sc.LabelLimit,
		MaxLabelNameLength:  sc.LabelNameLengthLimit,
		MaxLabelValueLength: sc.LabelValueLengthLimit,
		Source:              "statsd",
	}, a.reg)}
	translator := series.NewTranslator(w.store, m, a.reg, a.logger)
	pm := statsd.NewMetrics(a.reg)

	var rl *relay.Relay
	if len(sc.Relay) > 0 {
		rl, err = relay.New(sc.Relay, relay.Options{
			QueueSize:       sc.RelayQueueSize * int(sc.RelayPacketSize),
			MaxDatagramSize: int(sc.RelayPacketSize),
			Logger:          a.logger,
		}, a.reg)
		if err != nil {
			return nil, fmt.Errorf("statsd.relay: %w", err)
		}
		a.add(component{name: "statsd.relay", stage: stagePipeline, close: rl.CloseContext})
	}
	newHandler := func(cacheSize int) listen.NewHandler {
		return func() listen.Handler {
			wc := translator.NewWorkerCache(cacheSize)
			return &statsdHandler{
				proc:   statsd.NewProcessor(wc, pm, statsd.ProcessorOptions{MaxLineLength: int(sc.MaxLineLength), Logger: a.logger}),
				worker: wc,
				relay:  rl,
			}
		}
	}
	if sc.UDP != "" {
		w.udp, err = listen.ListenUDP(listen.UDPConfig{
			Name: "statsd_udp", Addr: sc.UDP, Readers: sc.Readers,
			MaxDatagramSize: int(sc.MaxDatagramSize), ReceiveBuffer: int(sc.ReadBuffer), Logger: a.logger,
		}, newHandler(0), a.reg)
		if err != nil {
			return nil, fmt.Errorf("statsd.udp: %w", err)
		}
		a.add(component{name: "statsd.udp", stage: stageIngest, serve: w.udp.Serve, close: closer(w.udp.Close)})
	}
	if sc.TCP != "" {
		w.tcp, err = listen.ListenTCP(listen.TCPConfig{
			Name: "statsd_tcp", Addr: sc.TCP, MaxLineLength: int(sc.MaxLineLength),
			MaxConnections: sc.TCPMaxConnections, IdleTimeout: idleTimeout(sc.TCPIdleTimeout), Logger: a.logger,
		}, newHandler(16384), a.reg)
		if err != nil {
			return nil, fmt.Errorf("statsd.tcp: %w", err)
		}
		a.add(component{name: "statsd.tcp", stage: stageIngest, serve: w.tcp.Serve, close: closer(w.tcp.Close)})
	}
	if sc.Unixgram != "" {
		mode, _ := sc.SocketMode() // validated with the config
		w.unixgram, err = listen.ListenUnixgram(listen.UnixgramConfig{
			Name: "statsd_unixgram", Path: string(sc.Unixgram), Mode: mode,
			MaxDatagramSize: int(sc.MaxDatagramSize), Readers: sc.Readers, Logger: a.logger,
		}, newHandler(0), a.reg)
		if err != nil {
			return nil, fmt.Errorf("statsd.unixgram: %w", err)
		}
		a.add(component{name: "statsd.unixgram", stage: stageIngest, serve: w.unixgram.Serve, close: closer(w.unixgram.Close)})
	}

	var commit *series.Committer
	if st != nil {
		commit = series.NewCommitter(w.store, st, "statsd", a.reg, a.logger)
	}
	flush := func(now time.Time) {
		w.store.Flush(now)
		if commit != nil {
			commit.Commit(now)
		}
	}
	// The flush loop runs with the pipeline: after the listeners stopped,
	// its close runs the last flush, before the storage closes (stageShip).
	a.add(component{name: "statsd.flush", stage: stagePipeline,
		serve: func(ctx context.Context) error {
			ft := time.NewTicker(sc.FlushInterval)
			tick := time.NewTicker(250 * time.Millisecond)
			defer ft.Stop()
			defer tick.Stop()
			for {
				select {
				case <-ctx.Done():
					return nil
				case now := <-tick.C:
					w.store.Tick(now)
				case now := <-ft.C:
					flush(now)
				}
			}
		},
		close: func(context.Context) error {
			flush(time.Now())
			return nil
		}})

	a.reloaders = append(a.reloaders, func(next *config.Config) (func(), error) {
		n := next.StatsD
		m, err := names.Load(string(n.MappingFile))
		if err != nil {
			return nil, fmt.Errorf("statsd.mapping_file: %w", err)
		}
		restart := n.UDP != sc.UDP || n.TCP != sc.TCP || n.Unixgram != sc.Unixgram || fmt.Sprint(n.Relay) != fmt.Sprint(sc.Relay)
		return func() {
			if restart { // said when applied: a reload refused later changes nothing
				a.logger.Warn("statsd listener addresses and relay targets changed in the file; they take effect at the next restart")
			}
			translator.SetMapper(m)
			a.logger.Info("StatsD mapping reloaded", "file", n.MappingFile, "mapping_rules", m.Rules())
		}, nil
	})
	return w, nil
}

// idleTimeout turns a tcp_idle_timeout into the listener's: the config's
// 0 means no timeout, the listener's -1.
func idleTimeout(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}

// statsdHandler is what one reader goroutine or TCP connection does with
// the bytes it read: parse, translate, and relay them unchanged.
type statsdHandler struct {
	proc   *statsd.Processor
	worker *series.Worker
	relay  *relay.Relay
}

func (h *statsdHandler) Handle(b []byte) {
	h.proc.Process(b)
	if h.relay != nil {
		h.relay.Send(b)
	}
}

func (h *statsdHandler) Flush() {
	h.proc.FlushStats()
	h.worker.Flush()
}

// addrs returns the bound addresses, for tests.
func (w *statsdWiring) addrs() (udp, tcp net.Addr) {
	if w.udp != nil {
		udp = w.udp.Addr()
	}
	if w.tcp != nil {
		tcp = w.tcp.Addr()
	}
	return
}
