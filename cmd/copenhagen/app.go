package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/storage"

	"github.com/copenhagen-obs/copenhagen/alerting"
	"github.com/copenhagen-obs/copenhagen/alerting/evaluate"
	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
	"github.com/copenhagen-obs/copenhagen/ingest/listen"
	"github.com/copenhagen-obs/copenhagen/ingest/relay"
	"github.com/copenhagen-obs/copenhagen/ingest/statsd"
	"github.com/copenhagen-obs/copenhagen/translate/names"
	"github.com/copenhagen-obs/copenhagen/translate/series"
)

// runServer is `copenhagen run`.
func runServer(configFile string, stderr io.Writer) int {
	cfg, err := loadConfig(configFile)
	if err != nil {
		fmt.Fprintf(stderr, "copenhagen: %v\n", err)
		return 1
	}
	logger := newLogger(cfg.Log, stderr)
	a, err := newApp(configFile, cfg, logger)
	if err != nil {
		logger.Error("cannot start", "err", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			_ = a.reload()
		}
	}()
	if err := a.run(ctx); err != nil {
		logger.Error("stopped with an error", "err", err)
		return 1
	}
	return 0
}

func loadConfig(file string) (*config.Config, error) {
	if file == "" {
		return config.Default(), nil
	}
	return config.Load(file)
}

func newLogger(c config.LogConfig, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(c.Level))
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// app is one running Copenhagen: the pieces built from a config, and what
// it takes to reload and stop them.
type app struct {
	configFile string
	logger     *slog.Logger
	reg        *prometheus.Registry

	mu  sync.Mutex // serialises reloads
	cfg *config.Config

	// alertSender receives what rule evaluation fires: the in-process
	// Alertmanager and/or external ones. Set by buildAlerting, used by
	// buildRules.
	alertSender alerting.Sender

	// storage is where StatsD flushes and Graphite points go and what the
	// query API and alerting read: the embedded TSDB, the agent WAL, or
	// nil when storage is disabled. Set by buildStorage.
	storage storage.Storage

	// evaluator and ruleQuery are rule evaluation and what it queries,
	// set by buildRules when rules run; read by buildTV.
	evaluator *evaluate.Evaluator
	ruleQuery rules.QueryFunc

	store      *series.Store
	translator *series.Translator
	relay      *relay.Relay

	udp      *listen.UDP
	tcp      *listen.TCP
	unixgram *listen.Unixgram

	httpLn  net.Listener
	httpSrv *http.Server

	ready   atomic.Bool
	reloads *prometheus.CounterVec
	lastOK  prometheus.Gauge

	// Hooks filled by the wire_*.go files of each capability, so that
	// adding one does not mean editing the others.
	components []component
	routeHooks []func(mux *http.ServeMux)
	onFlush    []func(now time.Time)
	reloaders  []func(cfg *config.Config) (commit func(), err error)
}

// component is a running part of the app. run starts every serve function
// and, at shutdown, closes components in stage order, so that ingestion
// stops before the storage and shippers that it feeds flush and close.
type component struct {
	name  string
	stage int                             // stageIngest, stagePipeline or stageShip
	serve func(ctx context.Context) error // may be nil
	close func() error                    // may be nil
}

const (
	stageIngest = iota
	stagePipeline
	stageShip
)

func (a *app) add(c component) { a.components = append(a.components, c) }

// newApp builds and binds everything, so that a wrong address or file is
// reported before anything runs.
func newApp(configFile string, cfg *config.Config, logger *slog.Logger) (_ *app, err error) {
	a := &app{configFile: configFile, cfg: cfg, logger: logger, reg: prometheus.NewRegistry()}
	defer func() {
		if err != nil {
			// A failed start releases everything it took, storage
			// included (its directory lock), so a retry in the same
			// process works.
			a.closeListeners()
			a.closeStages(stagePipeline, func(component, error) {})
		}
	}()
	a.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewBuildInfoCollector(),
	)
	a.reloads = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "copenhagen_config_reloads_total",
		Help: "Configuration reloads, by result.",
	}, []string{"result"})
	a.lastOK = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "copenhagen_config_last_reload_successful",
		Help: "Whether the last configuration reload succeeded.",
	})
	a.lastOK.Set(1)
	a.reg.MustRegister(a.reloads, a.lastOK)

	if err := a.buildStorage(cfg); err != nil {
		return nil, err
	}
	sc := cfg.StatsD
	m, err := names.Load(string(sc.MappingFile))
	if err != nil {
		return nil, fmt.Errorf("statsd.mapping_file: %w", err)
	}
	a.store = series.New(series.Options{
		MaxSeries:           sc.MaxSeries,
		MaxSetSize:          sc.MaxSetSize,
		MaxLabels:           sc.LabelLimit,
		MaxLabelNameLength:  sc.LabelNameLengthLimit,
		MaxLabelValueLength: sc.LabelValueLengthLimit,
		Source:              "statsd",
	}, a.reg)
	a.translator = series.NewTranslator(a.store, m, a.reg, logger)
	pm := statsd.NewMetrics(a.reg)

	if len(sc.Relay) > 0 {
		a.relay, err = relay.New(sc.Relay, relay.Options{
			QueueSize:       sc.RelayQueueSize * int(sc.RelayPacketSize),
			MaxDatagramSize: int(sc.RelayPacketSize),
			Logger:          logger,
		}, a.reg)
		if err != nil {
			return nil, fmt.Errorf("statsd.relay: %w", err)
		}
	}
	newHandler := func(cacheSize int) listen.NewHandler {
		return func() listen.Handler {
			w := a.translator.NewWorkerCache(cacheSize)
			return &statsdHandler{
				proc:   statsd.NewProcessor(w, pm, statsd.ProcessorOptions{MaxLineLength: int(sc.MaxLineLength), Logger: logger}),
				worker: w,
				relay:  a.relay,
			}
		}
	}
	if sc.UDP != "" {
		a.udp, err = listen.ListenUDP(listen.UDPConfig{
			Name: "statsd_udp", Addr: sc.UDP, Readers: sc.Readers,
			MaxDatagramSize: int(sc.MaxDatagramSize), ReceiveBuffer: int(sc.ReadBuffer), Logger: logger,
		}, newHandler(0), a.reg)
		if err != nil {
			return nil, fmt.Errorf("statsd.udp: %w", err)
		}
	}
	if sc.TCP != "" {
		idle := sc.TCPIdleTimeout
		if idle == 0 {
			idle = -1 // the config's 0 means no timeout
		}
		a.tcp, err = listen.ListenTCP(listen.TCPConfig{
			Name: "statsd_tcp", Addr: sc.TCP, MaxLineLength: int(sc.MaxLineLength),
			MaxConnections: sc.TCPMaxConnections, IdleTimeout: idle, Logger: logger,
		}, newHandler(16384), a.reg)
		if err != nil {
			return nil, fmt.Errorf("statsd.tcp: %w", err)
		}
	}
	if sc.Unixgram != "" {
		a.unixgram, err = listen.ListenUnixgram(listen.UnixgramConfig{
			Name: "statsd_unixgram", Path: string(sc.Unixgram),
			MaxDatagramSize: int(sc.MaxDatagramSize), Readers: sc.Readers, Logger: logger,
		}, newHandler(0), a.reg)
		if err != nil {
			return nil, fmt.Errorf("statsd.unixgram: %w", err)
		}
	}
	if err := a.buildGraphite(cfg); err != nil {
		return nil, err
	}
	if err := a.buildLogs(cfg); err != nil {
		return nil, err
	}
	if err := a.buildAlerting(cfg); err != nil {
		return nil, err
	}
	if err := a.buildRules(cfg); err != nil {
		return nil, err
	}
	if err := a.buildTV(cfg); err != nil {
		return nil, err
	}
	if cfg.HTTP.Listen != "" {
		if cfg.HTTP.WebConfigFile != "" {
			if err := web.Validate(string(cfg.HTTP.WebConfigFile)); err != nil {
				return nil, fmt.Errorf("http.web_config_file: %w", err)
			}
		}
		a.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			return nil, fmt.Errorf("http.listen: %w", err)
		}
		a.httpSrv = &http.Server{
			Handler:           a.routes(),
			ReadHeaderTimeout: 10 * time.Second,
			ReadTimeout:       cfg.HTTP.ReadTimeout,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		}
	}
	return a, nil
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

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	alertsPage := a.cfg.Alerting.ConfigFile != "" // in-process routing serves /alerts
	mux.Handle("/metrics", series.Handler(a.reg, a.store))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Copenhagen is Healthy.")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "Copenhagen is not ready.", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "Copenhagen is Ready.")
	})
	mux.HandleFunc("/-/reload", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost && r.Method != http.MethodPut {
			w.Header().Set("Allow", "POST, PUT")
			http.Error(w, "use POST to reload the configuration", http.StatusMethodNotAllowed)
			return
		}
		if err := a.reload(); err != nil {
			http.Error(w, "reload failed, the previous configuration keeps running: "+err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintln(w, "configuration reloaded")
	})
	for _, f := range a.routeHooks {
		f(mux)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>Copenhagen</title><h1>Copenhagen</h1><ul>`+
			`<li><a href="/metrics">/metrics</a></li><li><a href="/-/healthy">/-/healthy</a></li>`+
			`<li><a href="/-/ready">/-/ready</a></li>`+
			`<li><a href="/api/v1/rules">/api/v1/rules</a>, <a href="/api/v1/alerts">/api/v1/alerts</a></li>`)
		if a.evaluator != nil {
			fmt.Fprint(w, `<li><a href="/tv">/tv</a>: the TV board (<code>/tv?team=NAME</code>)</li>`)
		}
		if alertsPage {
			fmt.Fprint(w, `<li><a href="/alerts">/alerts</a>: firing alerts and silences</li>`)
		}
		fmt.Fprint(w, `</ul>`)
	})
	return mux
}

// run serves until ctx is cancelled, then stops in order: listeners first
// (in-flight lines finish), then the relay (flushes its queue), then HTTP,
// so a last scrape during shutdown still sees everything counted.
func (a *app) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 8)
	var wg sync.WaitGroup
	serve := func(name string, f func(context.Context) error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("%s: %w", name, err)
			}
		}()
	}
	if a.udp != nil {
		serve("statsd.udp", a.udp.Serve)
	}
	if a.tcp != nil {
		serve("statsd.tcp", a.tcp.Serve)
	}
	if a.unixgram != nil {
		serve("statsd.unixgram", a.unixgram.Serve)
	}
	for _, c := range a.components {
		if c.serve != nil {
			serve(c.name, c.serve)
		}
	}
	httpDone := make(chan error, 1)
	if a.httpSrv != nil {
		wcf := string(a.cfg.HTTP.WebConfigFile)
		go func() {
			httpDone <- web.Serve(a.httpLn, a.httpSrv, &web.FlagConfig{WebConfigFile: &wcf}, a.logger)
		}()
	}
	flushEvery := a.cfg.StatsD.FlushInterval
	wg.Add(1)
	go func() {
		defer wg.Done()
		flush := time.NewTicker(flushEvery)
		tick := time.NewTicker(250 * time.Millisecond)
		defer flush.Stop()
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case now := <-tick.C:
				a.store.Tick(now)
			case now := <-flush.C:
				a.store.Flush(now)
				for _, f := range a.onFlush {
					f(now)
				}
			}
		}
	}()
	a.ready.Store(true)
	a.logger.Info("copenhagen started", "version", version, "http", a.httpAddr())

	var runErr error
	select {
	case <-ctx.Done():
	case runErr = <-errc:
	case err := <-httpDone:
		if !errors.Is(err, http.ErrServerClosed) {
			runErr = fmt.Errorf("http: %w", err)
		}
	}
	a.ready.Store(false)
	a.logger.Info("shutting down")
	cancel()
	a.closeListeners()
	wg.Wait()
	if a.relay != nil {
		if err := a.relay.Close(); err != nil {
			a.logger.Warn("relay did not flush everything", "err", err)
		}
	}
	now := time.Now()
	a.store.Flush(now)
	for _, f := range a.onFlush {
		f(now)
	}
	a.closeStages(stagePipeline, func(c component, err error) {
		a.logger.Warn("closing "+c.name, "err", err)
	})
	if a.httpSrv != nil {
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = a.httpSrv.Shutdown(sctx)
	}
	a.logger.Info("stopped")
	return runErr
}

// closeStages closes the components of every stage from first on, stage
// after stage; within a stage in the reverse order of registration, like
// defers, so that what was built first (storage) closes last, after the
// components that write into it flushed.
func (a *app) closeStages(first int, onErr func(component, error)) {
	for stage := first; stage <= stageShip; stage++ {
		for i := len(a.components) - 1; i >= 0; i-- {
			c := a.components[i]
			if c.stage == stage && c.close != nil {
				if err := c.close(); err != nil {
					onErr(c, err)
				}
			}
		}
	}
}

func (a *app) closeListeners() {
	for _, c := range a.components {
		if c.stage == stageIngest && c.close != nil {
			_ = c.close()
		}
	}
	if a.udp != nil {
		_ = a.udp.Close()
	}
	if a.tcp != nil {
		_ = a.tcp.Close()
	}
	if a.unixgram != nil {
		_ = a.unixgram.Close()
	}
	if a.httpLn != nil && a.httpSrv == nil {
		_ = a.httpLn.Close()
	}
}

func (a *app) httpAddr() string {
	if a.httpLn == nil {
		return ""
	}
	return a.httpLn.Addr().String()
}

// reload re-reads the configuration file. A configuration that does not
// load, or a mapping file that does not parse, is refused as a whole and
// the running one stays. Listener addresses need a restart; a change to
// them is reported, not applied.
func (a *app) reload() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	err := a.reloadLocked()
	if err != nil {
		a.reloads.WithLabelValues("failure").Inc()
		a.lastOK.Set(0)
		a.logger.Error("configuration reload refused; the previous configuration keeps running", "err", err)
		return err
	}
	a.reloads.WithLabelValues("success").Inc()
	a.lastOK.Set(1)
	return nil
}

func (a *app) reloadLocked() error {
	cfg, err := loadConfig(a.configFile)
	if err != nil {
		return err
	}
	m, err := names.Load(string(cfg.StatsD.MappingFile))
	if err != nil {
		return fmt.Errorf("statsd.mapping_file: %w", err)
	}
	old := a.cfg
	if cfg.StatsD.UDP != old.StatsD.UDP || cfg.StatsD.TCP != old.StatsD.TCP || cfg.StatsD.Unixgram != old.StatsD.Unixgram ||
		cfg.HTTP.Listen != old.HTTP.Listen || fmt.Sprint(cfg.StatsD.Relay) != fmt.Sprint(old.StatsD.Relay) {
		a.logger.Warn("listener addresses and relay targets changed in the file; they take effect at the next restart")
	}
	var commits []func()
	for _, r := range a.reloaders {
		commit, err := r(cfg)
		if err != nil {
			return err
		}
		commits = append(commits, commit)
	}
	a.translator.SetMapper(m)
	for _, c := range commits {
		if c != nil {
			c()
		}
	}
	a.cfg = cfg
	a.logger.Info("configuration reloaded", "file", a.configFile, "mapping_rules", m.Rules())
	return nil
}
