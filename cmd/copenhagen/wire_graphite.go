package main

import (
	"fmt"
	"net"
	"regexp"
	"strconv"
	"sync"

	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
	"github.com/copenhagen-obs/copenhagen/ingest/graphite"
	"github.com/copenhagen-obs/copenhagen/ingest/listen"
	"github.com/copenhagen-obs/copenhagen/ingest/relay"
	"github.com/copenhagen-obs/copenhagen/translate/carbon"
	"github.com/copenhagen-obs/copenhagen/translate/names"
	"github.com/prometheus/prometheus/storage"
)

// graphiteWiring is what buildGraphite built, for the tests and the
// lead's later use (app.go has no field for it).
type graphiteWiring struct {
	translator *carbon.Translator
	router     *relay.Router
	tcp        *listen.TCP
	udp        *listen.UDP
	pickle     *listen.FramedTCP
}

var (
	graphiteMu    sync.Mutex
	graphiteByApp = map[*app]*graphiteWiring{}
)

func graphiteOf(a *app) *graphiteWiring {
	graphiteMu.Lock()
	defer graphiteMu.Unlock()
	return graphiteByApp[a]
}

// buildGraphite wires carbon ingestion into the app: plaintext over TCP
// and UDP and pickle over TCP, translated through the Graphite mapping
// file and appended to a.storage at the points' own timestamps; the
// optional relay to legacy carbon servers; the mapping file's reload; and
// the sweep of idle series at every flush.
func (a *app) buildGraphite(cfg *config.Config) error {
	gc := cfg.Graphite
	m, err := names.Load(string(gc.MappingFile))
	if err != nil {
		return fmt.Errorf("graphite.mapping_file: %w", err)
	}
	var app storage.Appendable
	if a.storage != nil {
		app = a.storage
	}
	w := &graphiteWiring{}
	w.translator = carbon.New(app, m, carbon.Options{
		MaxSeries:           gc.MaxSeries,
		SeriesIdle:          gc.SeriesIdleTimeout,
		Source:              "graphite",
		Logger:              a.logger,
		MaxLabels:           gc.LabelLimit,
		MaxLabelNameLength:  gc.LabelNameLengthLimit,
		MaxLabelValueLength: gc.LabelValueLengthLimit,
	}, a.reg)
	pm := graphite.NewMetrics(a.reg)

	if len(gc.Relay.Routes) > 0 {
		routes := make([]relay.Route, len(gc.Relay.Routes))
		for i, r := range gc.Relay.Routes {
			routes[i].Targets = r.Targets
			if r.Match != "" {
				// Validated by the config; compiled again here.
				if routes[i].Match, err = regexp.Compile(r.Match); err != nil {
					return fmt.Errorf("graphite.relay.routes[%d].match: %w", i, err)
				}
			}
		}
		mode := relay.MatchFirst
		if gc.Relay.Mode == "all" {
			mode = relay.MatchAll
		}
		w.router, err = relay.NewRouter(routes, mode, relay.Options{QueueSize: int(gc.Relay.QueueSize), Logger: a.logger}, a.reg)
		if err != nil {
			return fmt.Errorf("graphite.relay: %w", err)
		}
		// Closed after the listeners (stageIngest), so what they read last
		// is still relayed.
		a.add(component{name: "graphite.relay", stage: stagePipeline, close: w.router.Close})
	}

	newHandler := func(pickle bool) listen.NewHandler {
		return func() listen.Handler {
			h := &graphiteHandler{worker: w.translator.NewWorker(), pickle: pickle}
			var sink graphite.Sink = h.worker
			if w.router != nil {
				h.relay = w.router.NewSender()
				if pickle {
					sink = &lineTee{next: h.worker, h: h}
				}
			}
			h.proc = graphite.NewProcessor(sink, pm, graphite.ProcessorOptions{
				MaxLineLength: int(gc.MaxLineLength), Logger: a.logger, MaxFuture: gc.MaxFuture,
			})
			return h
		}
	}
	idle := gc.TCPIdleTimeout
	if idle == 0 {
		idle = -1 // the config's 0 means no timeout
	}
	if gc.TCP != "" {
		w.tcp, err = listen.ListenTCP(listen.TCPConfig{
			Name: "graphite_tcp", Addr: gc.TCP, MaxLineLength: int(gc.MaxLineLength),
			MaxConnections: gc.TCPMaxConnections, IdleTimeout: idle, Logger: a.logger,
		}, newHandler(false), a.reg)
		if err != nil {
			return fmt.Errorf("graphite.tcp: %w", err)
		}
		a.add(component{name: "graphite.tcp", stage: stageIngest, serve: w.tcp.Serve, close: w.tcp.Close})
	}
	if gc.UDP != "" {
		w.udp, err = listen.ListenUDP(listen.UDPConfig{
			Name: "graphite_udp", Addr: gc.UDP, Readers: gc.Readers,
			ReceiveBuffer: int(gc.ReadBuffer), Logger: a.logger,
		}, newHandler(false), a.reg)
		if err != nil {
			return fmt.Errorf("graphite.udp: %w", err)
		}
		a.add(component{name: "graphite.udp", stage: stageIngest, serve: w.udp.Serve, close: w.udp.Close})
	}
	if gc.Pickle != "" {
		w.pickle, err = listen.ListenFramed(listen.FramedConfig{
			Name: "graphite_pickle", Addr: gc.Pickle, MaxFrameSize: int(gc.MaxPickleFrame),
			MaxConnections: gc.TCPMaxConnections, IdleTimeout: idle, Logger: a.logger,
		}, newHandler(true), a.reg)
		if err != nil {
			return fmt.Errorf("graphite.pickle: %w", err)
		}
		a.add(component{name: "graphite.pickle", stage: stageIngest, serve: w.pickle.Serve, close: w.pickle.Close})
	}
	a.onFlush = append(a.onFlush, w.translator.Sweep)
	a.reloaders = append(a.reloaders, func(next *config.Config) (func(), error) {
		m, err := names.Load(string(next.Graphite.MappingFile))
		if err != nil {
			return nil, fmt.Errorf("graphite.mapping_file: %w", err)
		}
		return func() { w.translator.SetMapper(m) }, nil
	})
	graphiteMu.Lock()
	graphiteByApp[a] = w
	graphiteMu.Unlock()
	a.add(component{name: "graphite", stage: stageShip, close: func() error {
		graphiteMu.Lock()
		delete(graphiteByApp, a)
		graphiteMu.Unlock()
		return nil
	}})
	return nil
}

// graphiteHandler is one reader goroutine's or connection's pipeline:
// parse, translate and append, relay. Flush (after every read) publishes
// the counts and commits the batch to storage.
type graphiteHandler struct {
	proc   *graphite.Processor
	worker *carbon.Worker
	relay  *relay.Sender
	pickle bool
	lines  []byte // pickle points rendered as plaintext, for the relay
}

func (h *graphiteHandler) Handle(b []byte) {
	if h.pickle {
		h.proc.ProcessPickle(b)
		if h.relay != nil && len(h.lines) > 0 {
			h.relay.Send(h.lines)
			h.lines = h.lines[:0]
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

// lineTee renders the accepted pickle points as plaintext lines for the
// relay (legacy carbon servers take plaintext on :2003).
type lineTee struct {
	next graphite.Sink
	h    *graphiteHandler
}

func (t *lineTee) Point(p *graphite.Point) {
	t.next.Point(p)
	b := append(t.h.lines, p.Path...)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, p.Value, 'g', -1, 64)
	b = append(b, ' ')
	b = strconv.AppendInt(b, p.Timestamp/1000, 10)
	if ms := p.Timestamp % 1000; ms != 0 {
		b = append(b, '.')
		b = append(b, byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10))
	}
	t.h.lines = append(b, '\n')
}

// graphiteAddrs returns the bound addresses, for tests.
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
