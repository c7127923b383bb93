package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/prometheus/rules"

	"github.com/copenhagen-obs/copenhagen/alerting/shadow"
	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb"
	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

// shadowHolder is the running switchover shadow, swapped on reload; the
// evaluator's hook and the HTTP handlers always reach the current one.
type shadowHolder struct {
	cur atomic.Pointer[shadow.Shadow]
}

func (h *shadowHolder) observe(ctx context.Context, g *rules.Group, ts time.Time) {
	if s := h.cur.Load(); s != nil {
		s.Observe(ctx, g, ts)
	}
}

func (h *shadowHolder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s := h.cur.Load()
	if s == nil {
		http.Error(w, "the switchover shadow is off (config section shadow)", http.StatusNotFound)
		return
	}
	s.Handler().ServeHTTP(w, r)
}

// buildShadow wires the switchover shadow (config section shadow) next to
// rule evaluation: it returns the evaluator's AfterIteration hook. The
// shadow reads seyren_check_value with the evaluator's own QueryFunc.
func (a *app) buildShadow(cfg *config.Config, qf rules.QueryFunc) (func(context.Context, *rules.Group, time.Time), error) {
	h := &shadowHolder{}
	if cfg.Shadow.Enabled() {
		s, err := newShadow(cfg, qf, a)
		if err != nil {
			return nil, err
		}
		h.cur.Store(s)
	}
	var once sync.Once
	a.add(component{name: "shadow", stage: stagePipeline, serve: func(ctx context.Context) error {
		<-ctx.Done()
		return nil
	}, close: closer(func() error {
		once.Do(func() {
			if s := h.cur.Swap(nil); s != nil {
				s.Stop()
			}
		})
		return nil
	})})
	a.routeHooks = append(a.routeHooks, func(mux *http.ServeMux) {
		mux.Handle(shadow.APIPath, h)
		mux.Handle(shadow.APIPath+"/", h)
		mux.Handle(shadow.PagePath, h)
	})
	a.reloaders = append(a.reloaders, func(next *config.Config) (func(), error) {
		if !next.Shadow.Enabled() {
			return func() {
				if old := h.cur.Swap(nil); old != nil {
					old.Stop()
				}
			}, nil
		}
		// Build first; the old shadow saves its state on Stop, and the new
		// one loads it, so the counts carry over.
		return func() {
			old := h.cur.Swap(nil)
			if old != nil {
				old.Stop()
			}
			s, err := newShadow(next, qf, a)
			if err != nil {
				a.logger.Error("shadow reload failed; the shadow is off until the next reload", "err", err)
				return
			}
			h.cur.Store(s)
		}, checkShadow(next)
	})
	return h.observe, nil
}

// checkShadow is the first phase of a reload: the checks file must parse.
func checkShadow(cfg *config.Config) error {
	_, err := loadShadowChecks(string(cfg.Shadow.ChecksFile))
	return err
}

func loadShadowChecks(file string) ([]seyren.Check, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("shadow.checks_file: %w", err)
	}
	checks, err := seyren.ParseChecks(data)
	if err != nil {
		return nil, fmt.Errorf("shadow.checks_file: %s: %w", file, err)
	}
	return checks, nil
}

// ShadowHTTPClient is shadow's HTTP client section as prometheus/common's
// HTTPClientConfig.
func shadowHTTPClient(c config.ShadowConfig) commoncfg.HTTPClientConfig {
	h := c.HTTPClientConfig.Prometheus(commoncfg.DefaultHTTPClientConfig)
	if len(c.Headers)+len(c.HeaderFiles) > 0 {
		h.HTTPHeaders = &commoncfg.Headers{Headers: map[string]commoncfg.Header{}}
		for k, v := range c.Headers {
			h.HTTPHeaders.Headers[k] = commoncfg.Header{Values: []string{v}}
		}
		for k, p := range c.HeaderFiles {
			h.HTTPHeaders.Headers[k] = commoncfg.Header{Files: []string{string(p)}}
		}
	}
	return h
}

func newShadow(cfg *config.Config, qf rules.QueryFunc, a *app) (*shadow.Shadow, error) {
	sc := cfg.Shadow
	checks, err := loadShadowChecks(string(sc.ChecksFile))
	if err != nil {
		return nil, err
	}
	client, err := graphiteweb.NewClientFromConfig(sc.GraphiteURL, shadowHTTPClient(sc))
	if err != nil {
		return nil, fmt.Errorf("shadow: %w", err)
	}
	sey, err := newSeyrenClient(sc)
	if err != nil {
		return nil, err
	}
	timers, err := timerHistograms(string(cfg.StatsD.MappingFile))
	if err != nil {
		return nil, fmt.Errorf("shadow: %w", err)
	}
	dir := string(sc.Dir)
	if dir == "" {
		dir = filepath.Join(string(cfg.Storage.Path), "shadow")
	}
	s, err := shadow.New(shadow.Options{
		Graphite: client, Checks: checks, QueryFunc: qf, Dir: dir,
		Timeout: sc.Timeout, Concurrency: sc.Concurrency,
		MinEvaluations: sc.MinEvaluations, MinEpisodes: sc.MinEpisodes,
		TrafficShare: sc.TrafficShare, TimerBuckets: sc.TimerBuckets, TimerHistograms: timers, Evidence: sc.EvidencePerCheck,
		Seyren: sey, SeyrenInterval: cfg.Rules.EvaluationInterval,
		SettleDelay: sc.SettleDelay,
		Logger:      a.logger.With("component", "shadow"), Registerer: a.reg,
	})
	if err != nil {
		return nil, fmt.Errorf("shadow: %w", err)
	}
	seyrenURL := ""
	if sey != nil {
		seyrenURL = sey.URL()
	}
	a.logger.Info("switchover shadow on", "graphite_url", client.URL(graphiteweb.Request{}), "seyren_url", seyrenURL, "checks", len(checks), "dir", dir)
	return s, nil
}

// newSeyrenClient is the client of shadow.seyren_url, with the section's
// HTTP client options (nil without seyren_url).
func newSeyrenClient(sc config.ShadowConfig) (shadow.SeyrenAPI, error) {
	if sc.SeyrenURL == "" {
		return nil, nil
	}
	c, err := shadow.NewSeyrenClientFromConfig(sc.SeyrenURL, shadowHTTPClient(sc))
	if err != nil {
		return nil, fmt.Errorf("shadow: %w", err)
	}
	return c, nil
}

// replaySource is where `shadow replay` reads from: flags first, then
// --config's shadow section and storage.path.
type replaySource struct {
	checks, data string
	graphite     shadow.Renderer
	seyren       shadow.SeyrenAPI
	// timers, timerBuckets and trafficShare explain timer and ramp
	// disagreements as the live shadow does (statsd.mapping_file,
	// shadow.timer_buckets, shadow.traffic_share of --config).
	timers       seyren.TimerHistogramFunc
	timerBuckets []float64
	trafficShare float64
}

func replaySources(f *shadowReplayFlags) (replaySource, error) {
	var src replaySource
	var sc config.ShadowConfig
	var data, mapping string
	if *f.config != "" {
		cfg, err := config.Load(*f.config)
		if err != nil {
			return src, err
		}
		sc, data, mapping = cfg.Shadow, string(cfg.Storage.Path), string(cfg.StatsD.MappingFile)
	}
	if *f.statsdMapping != "" {
		mapping = *f.statsdMapping
	}
	timers, err := timerHistograms(mapping)
	if err != nil {
		return src, err
	}
	src.timers, src.timerBuckets, src.trafficShare = timers, sc.TimerBuckets, sc.TrafficShare
	src.checks, src.data = string(sc.ChecksFile), data
	if *f.checks != "" {
		src.checks = *f.checks
	}
	if *f.data != "" {
		src.data = *f.data
	}
	if *f.graphite != "" {
		sc.GraphiteURL = *f.graphite
	}
	if *f.seyren != "" {
		sc.SeyrenURL = *f.seyren
	}
	switch {
	case src.checks == "":
		return src, fmt.Errorf("--checks (or shadow.checks_file in --config) is required")
	case src.data == "":
		return src, fmt.Errorf("--data (or storage.path in --config) is required")
	case sc.GraphiteURL == "":
		return src, fmt.Errorf("--graphite (or shadow.graphite_url in --config) is required")
	}
	g, err := graphiteweb.NewClientFromConfig(sc.GraphiteURL, shadowHTTPClient(sc))
	if err != nil {
		return src, err
	}
	src.graphite = g
	if src.seyren, err = newSeyrenClient(sc); err != nil {
		return src, err
	}
	return src, nil
}
