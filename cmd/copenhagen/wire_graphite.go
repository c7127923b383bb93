package main

import (
	"context"
	"fmt"
	"net"
	"regexp"
	"time"

	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
	"github.com/copenhagen-obs/copenhagen/ingest/graphite"
	"github.com/copenhagen-obs/copenhagen/ingest/listen"
	"github.com/copenhagen-obs/copenhagen/ingest/relay"
	"github.com/copenhagen-obs/copenhagen/translate/carbon"
	"github.com/copenhagen-obs/copenhagen/translate/names"
	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
	"github.com/prometheus/prometheus/storage"
)

// graphiteWiring is what buildGraphite built: the bound listeners, for
// the tests.
type graphiteWiring struct {
	tcp    *listen.TCP
	udp    *listen.UDP
	pickle *listen.FramedTCP
}

// buildGraphite wires carbon ingestion into the app: plaintext over TCP
// and UDP and pickle over TCP, translated through the Graphite mapping
// file and appended to a.storage at the points' own timestamps; the
// optional relay to legacy carbon servers; the mapping file's reload; and
// the sweep of idle series at every flush.
func (a *app) buildGraphite(cfg *config.Config, st *cstorage.Storage) (*graphiteWiring, error) {
	gc := cfg.Graphite
	m, err := names.Load(string(gc.MappingFile))
	if err != nil {
		return nil, fmt.Errorf("graphite.mapping_file: %w", err)
	}
	var app storage.Appendable
	if st != nil {
		app = st
	}
	w := &graphiteWiring{}
	translator := carbon.New(app, m, carbon.Options{
		MaxSeries:           gc.MaxSeries,
		SeriesIdle:          gc.SeriesIdleTimeout,
		Source:              "graphite",
		Logger:              a.logger,
		MaxLabels:           gc.LabelLimit,
		MaxLabelNameLength:  gc.LabelNameLengthLimit,
		MaxLabelValueLength: gc.LabelValueLengthLimit,
	}, a.reg)
	pm := graphite.NewMetrics(a.reg)

	var router *relay.Router
	if len(gc.Relay.Routes) > 0 {
		routes := make([]relay.Route, len(gc.Relay.Routes))
		for i, r := range gc.Relay.Routes {
			routes[i].Targets = r.Targets
			if r.Match != "" {
				// Validated by the config; compiled again here.
				if routes[i].Match, err = regexp.Compile(r.Match); err != nil {
					return nil, fmt.Errorf("graphite.relay.routes[%d].match: %w", i, err)
				}
			}
		}
		mode := relay.MatchFirst
		if gc.Relay.Mode == "all" {
			mode = relay.MatchAll
		}
		router, err = relay.NewRouter(routes, mode, relay.Options{QueueSize: int(gc.Relay.QueueSize), Logger: a.logger}, a.reg)
		if err != nil {
			return nil, fmt.Errorf("graphite.relay: %w", err)
		}
		// Closed after the listeners (stageIngest), so what they read last
		// is still relayed.
		a.add(component{name: "graphite.relay", stage: stagePipeline, close: router.CloseContext})
	}

	newHandler := func(pickle bool) listen.NewHandler {
		return func() listen.Handler {
			h := &graphiteHandler{worker: translator.NewWorker(), pickle: pickle}
			var sink graphite.Sink = h.worker
			if router != nil {
				h.relay = router.NewSender()
				if pickle {
					h.tee = &graphite.PlaintextTee{Next: h.worker}
					sink = h.tee
				}
			}
			h.proc = graphite.NewProcessor(sink, pm, graphite.ProcessorOptions{
				MaxLineLength: int(gc.MaxLineLength), Logger: a.logger, MaxFuture: gc.MaxFuture,
			})
			return h
		}
	}
	idle := idleTimeout(gc.TCPIdleTimeout)
	if gc.TCP != "" {
		w.tcp, err = listen.ListenTCP(listen.TCPConfig{
			Name: "graphite_tcp", Addr: gc.TCP, MaxLineLength: int(gc.MaxLineLength),
			MaxConnections: gc.TCPMaxConnections, IdleTimeout: idle, Logger: a.logger,
		}, newHandler(false), a.reg)
		if err != nil {
			return nil, fmt.Errorf("graphite.tcp: %w", err)
		}
		a.add(component{name: "graphite.tcp", stage: stageIngest, serve: w.tcp.Serve, close: closer(w.tcp.Close)})
	}
	if gc.UDP != "" {
		w.udp, err = listen.ListenUDP(listen.UDPConfig{
			Name: "graphite_udp", Addr: gc.UDP, Readers: gc.Readers,
			ReceiveBuffer: int(gc.ReadBuffer), Logger: a.logger,
		}, newHandler(false), a.reg)
		if err != nil {
			return nil, fmt.Errorf("graphite.udp: %w", err)
		}
		a.add(component{name: "graphite.udp", stage: stageIngest, serve: w.udp.Serve, close: closer(w.udp.Close)})
	}
	if gc.Pickle != "" {
		w.pickle, err = listen.ListenFramed(listen.FramedConfig{
			Name: "graphite_pickle", Addr: gc.Pickle, MaxFrameSize: int(gc.MaxPickleFrame),
			MaxConnections: gc.TCPMaxConnections, IdleTimeout: idle, Logger: a.logger,
		}, newHandler(true), a.reg)
		if err != nil {
			return nil, fmt.Errorf("graphite.pickle: %w", err)
		}
		a.add(component{name: "graphite.pickle", stage: stageIngest, serve: w.pickle.Serve, close: closer(w.pickle.Close)})
	}
	// Series idle for graphite.series_idle_timeout stop counting against
	// graphite.max_series.
	a.add(component{name: "graphite.sweep", stage: stagePipeline, serve: func(ctx context.Context) error {
		t := time.NewTicker(sweepInterval(gc.SeriesIdleTimeout))
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-t.C:
				translator.Sweep(now)
			}
		}
	}})
	a.reloaders = append(a.reloaders, func(next *config.Config) (func(), error) {
		m, err := names.Load(string(next.Graphite.MappingFile))
		if err != nil {
			return nil, fmt.Errorf("graphite.mapping_file: %w", err)
		}
		return func() { translator.SetMapper(m) }, nil
	})
	return w, nil
}

// sweepInterval is how often idle Graphite series are looked for: a tenth
// of the idle timeout, between a second and a minute.
func sweepInterval(idle time.Duration) time.Duration {
	return min(max(idle/10, time.Second), time.Minute)
}

// graphiteHandler is one reader goroutine's or connection's pipeline:
// parse, translate and append, relay. Flush (after every read) publishes
// the counts and commits the batch to storage.
type graphiteHandler struct {
	proc   *graphite.Processor
	worker *carbon.Worker
	relay  *relay.Sender
	pickle bool
	tee    *graphite.PlaintextTee // pickle points rendered as plaintext, for the relay
}

func (h *graphiteHandler) Handle(b []byte) {
	if h.pickle {
		h.proc.ProcessPickle(b)
		if h.tee != nil && len(h.tee.Lines) > 0 {
			h.relay.Send(h.tee.Lines)
			h.tee.Lines = h.tee.Lines[:0]
		}
		return
	}
	h.proc.Process(b)
	if h.relay != nil {
		h.relay.Send(b) // raw, as received: legacy carbon sees what it always saw
	}
}

func (h *graphiteHandler) Flush() {
	h.proc.FlushStats()
	h.worker.Flush()
}

// addrs returns the bound addresses, for tests.
func (w *graphiteWiring) addrs() (tcp, udp, pickle net.Addr) {
	if w.tcp != nil {
		tcp = w.tcp.Addr()
	}
	if w.udp != nil {
		udp = w.udp.Addr()
	}
	if w.pickle != nil {
		pickle = w.pickle.Addr()
	}
	return
}
