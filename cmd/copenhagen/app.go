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

	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
	"github.com/copenhagen-obs/copenhagen/cmd/internal/logredact"
	"github.com/copenhagen-obs/copenhagen/cmd/internal/webserve"
	"github.com/copenhagen-obs/copenhagen/translate/series"
	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
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
	// Every line goes through logredact, which keeps the configuration's
	// secrets out (app.setSecrets) and cuts overlong values.
	if c.Format == "json" {
		return slog.New(logredact.New(slog.NewJSONHandler(w, opts)))
	}
	return slog.New(logredact.New(slog.NewTextHandler(w, opts)))
}

// app is one running Copenhagen: the pieces built from a config, and what
// it takes to reload and stop them.
type app struct {
	configFile string
	logger     *slog.Logger
	reg        *prometheus.Registry

	mu  sync.Mutex // serialises reloads
	cfg *config.Config

	// What the builders returned, kept for the tests; no builder reads
	// them: each gets what it needs as an argument.
	storage  *cstorage.Storage // nil when storage is disabled
	statsd   *statsdWiring
	graphite *graphiteWiring

	httpLn    net.Listener
	httpSrv   *http.Server
	httpGuard httpGuard           // wire_http.go
	webConfig *webserve.WebConfig // nil without http.web_config_file

	ready atomic.Bool
	// readyChecks must all pass for /-/ready (the alerting cluster's
	// settle, wire_alerting.go).
	readyChecks []func() bool
	reloads     *prometheus.CounterVec
	lastOK      prometheus.Gauge

	// Hooks filled by the wire_*.go files of each capability, so that
	// adding one does not mean editing the others.
	components []component
	routeHooks []func(mux *http.ServeMux)
	reloaders  []func(cfg *config.Config) (commit func(), err error)
	// secretSources add secret values for the log handler (wire_secrets.go).
	secretSources []func() []string
}

// component is a running part of the app. run starts every serve function
// and, at shutdown, closes components in stage order, so that ingestion
// stops before the storage and shippers that it feeds flush and close.
// close gets what is left of the shutdown budget (shutdown_timeout) as
// its context's deadline: a component that cannot finish by then gives up
// and says in its error what it could not flush.
type component struct {
	name  string
	stage int                             // stageIngest, stagePipeline or stageShip
	serve func(ctx context.Context) error // may be nil
	close func(ctx context.Context) error // may be nil
}

const (
	stageIngest = iota
	stagePipeline
	stageShip
)

func (a *app) add(c component) { a.components = append(a.components, c) }

// closer adapts a Close method that takes no time budget.
func closer(f func() error) func(context.Context) error {
	return func(context.Context) error { return f() }
}

// newApp builds and binds everything, so that a wrong address or file is
// reported before anything runs. Each builder gets what the ones before
// it returned: the storage feeds StatsD, Graphite, the query API and the
// rules; the in-process Alertmanager is where the rules send.
func newApp(configFile string, cfg *config.Config, logger *slog.Logger) (_ *app, err error) {
	a := &app{configFile: configFile, cfg: cfg, logger: logger, reg: prometheus.NewRegistry()}
	a.setSecrets(cfg)
	defer func() {
		if err != nil {
			// A failed start releases everything it took, storage
			// included (its directory lock), so a retry in the same
			// process works.
			ctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
			defer cancel()
			a.closeStages(ctx, stageIngest, func(component, error) {})
			if a.httpLn != nil {
				_ = a.httpLn.Close()
			}
			a.closeWebConfig()
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

	st, err := a.buildStorage(cfg)
	if err != nil {
		return nil, err
	}
	sd, err := a.buildStatsD(cfg, st)
	if err != nil {
		return nil, err
	}
	a.buildQueryAPI(cfg, st, sd.store)
	gw, err := a.buildGraphite(cfg, st)
	if err != nil {
		return nil, err
	}
	if err := a.buildLogs(cfg); err != nil {
		return nil, err
	}
	sender, err := a.buildAlerting(cfg)
	if err != nil {
		return nil, err
	}
	rw, err := a.buildRules(cfg, st, sender)
	if err != nil {
		return nil, err
	}
	tvPage, err := a.buildTV(cfg, rw)
	if err != nil {
		return nil, err
	}
	a.setSecrets(cfg)
	if err := a.buildHTTP(cfg, sd.store, tvPage); err != nil {
		return nil, err
	}
	a.storage, a.statsd, a.graphite = st, sd, gw
	return a, nil
}

// buildHTTP binds the HTTP server of /metrics, health, reload and every
// capability's routes.
func (a *app) buildHTTP(cfg *config.Config, store *series.Store, tvPage bool) error {
	if cfg.HTTP.Listen == "" {
		return nil
	}
	if err := a.buildHTTPGuard(cfg); err != nil { // wire_http.go
		return err
	}
	var err error
	a.httpLn, err = net.Listen("tcp", cfg.HTTP.Listen)
	if err != nil {
		return fmt.Errorf("http.listen: %w", err)
	}
	a.httpSrv = &http.Server{
		Handler:           a.routes(store, tvPage),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		ErrorLog:          slog.NewLogLogger(a.logger.Handler(), slog.LevelWarn),
	}
	return nil
}

func (a *app) routes(store *series.Store, tvPage bool) http.Handler {
	mux := http.NewServeMux()
	alertsPage := a.cfg.Alerting.ConfigFile != "" // in-process routing serves /alerts
	mux.Handle("/metrics", series.Handler(a.reg, store))
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "Copenhagen is Healthy.")
	})
	mux.HandleFunc("/-/ready", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			http.Error(w, "Copenhagen is not ready.", http.StatusServiceUnavailable)
			return
		}
		for _, ok := range a.readyChecks {
			if !ok() {
				http.Error(w, "Copenhagen is not ready.", http.StatusServiceUnavailable)
				return
			}
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
		if tvPage {
			fmt.Fprint(w, `<li><a href="/tv">/tv</a>: the TV board (<code>/tv?team=NAME</code>)</li>`)
		}
		if alertsPage {
			fmt.Fprint(w, `<li><a href="/alerts">/alerts</a>: firing alerts and silences</li>`)
		}
		fmt.Fprint(w, `</ul>`)
	})
	return a.httpGuard.handler(mux)
}

// run serves until ctx is cancelled, then stops in stage order within one
// shutdown budget (shutdown_timeout): listeners first (in-flight lines
// finish), then the pipeline (relays flush their queues, the last StatsD
// flush, rules), then the outputs (storage with remote write, Loki,
// alerting), each taking what the stages before left of the budget, and
// HTTP last, so a last scrape during shutdown still sees everything
// counted.
func (a *app) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, len(a.components)+1)
	var wg sync.WaitGroup
	for _, c := range a.components {
		if c.serve == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.serve(ctx); err != nil && !errors.Is(err, context.Canceled) {
				errc <- fmt.Errorf("%s: %w", c.name, err)
			}
		}()
	}
	httpDone := make(chan error, 1)
	if a.httpSrv != nil {
		wcf := a.webConfigPath()
		go func() {
			httpDone <- web.Serve(a.httpLn, a.httpSrv, &web.FlagConfig{WebConfigFile: &wcf}, a.logger)
		}()
	}
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
	budget := a.cfg.ShutdownTimeout
	a.logger.Info("shutting down", "shutdown_timeout", budget)
	began := time.Now()
	sctx, scancel := context.WithTimeout(context.Background(), budget)
	defer scancel()
	cancel()
	a.closeStages(sctx, stageIngest, func(c component, err error) {
		a.logger.Warn("closing "+c.name, "err", err)
	})
	if a.httpSrv != nil {
		hctx, hcancel := context.WithTimeout(sctx, 5*time.Second)
		defer hcancel()
		_ = a.httpSrv.Shutdown(hctx)
	}
	served := make(chan struct{})
	go func() { wg.Wait(); close(served) }()
	select {
	case <-served:
	case <-sctx.Done():
	}
	if sctx.Err() != nil {
		a.logger.Error("shutdown_timeout reached: stopping without waiting for the rest", "shutdown_timeout", budget)
	}
	a.closeWebConfig()
	a.logger.Info("stopped", "took", time.Since(began).Round(time.Millisecond))
	return runErr
}

// closeStages closes the components of every stage from first on, stage
// after stage, so that what feeds a stage has stopped before it flushes:
// listeners, then the pipeline (relays, the last StatsD flush, rules),
// then the outputs (storage, Loki, alerting). The components of a stage
// are independent and close at the same time, each with what is left of
// ctx's budget: Loki and remote write flush side by side rather than one
// after the other. Once ctx is done, what is left still closes, given no
// time: a component that needed time says so in its error.
func (a *app) closeStages(ctx context.Context, first int, onErr func(component, error)) {
	for stage := first; stage <= stageShip; stage++ {
		var mu sync.Mutex
		open := map[string]bool{} // components still closing
		done := make(chan struct{})
		var wg sync.WaitGroup
		for _, c := range a.components {
			if c.stage == stage && c.close != nil {
				open[c.name] = true
			}
		}
		for _, c := range a.components {
			if c.stage != stage || c.close == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				err := c.close(ctx)
				mu.Lock()
				defer mu.Unlock()
				delete(open, c.name)
				if err != nil {
					onErr(c, err)
				}
			}()
		}
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			// A component that does not give up in time is left
			// behind: the budget is the promise.
			select {
			case <-done:
			case <-time.After(100 * time.Millisecond):
				mu.Lock()
				for name := range open {
					onErr(component{name: name}, errors.New("still closing when shutdown_timeout ran out; left unfinished"))
				}
				mu.Unlock()
			}
		}
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
	var commits []func()
	for _, r := range a.reloaders {
		commit, err := r(cfg)
		if err != nil {
			return err
		}
		commits = append(commits, commit)
	}
	if cfg.HTTP.Listen != a.cfg.HTTP.Listen {
		a.logger.Warn("http.listen changed in the file; it takes effect at the next restart")
	}
	for _, c := range commits {
		if c != nil {
			c()
		}
	}
	a.cfg = cfg
	a.setSecrets(cfg)
	a.logger.Info("configuration reloaded", "file", a.configFile)
	return nil
}
