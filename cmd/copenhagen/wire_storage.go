package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"
	"github.com/prometheus/prometheus/storage"

	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
	"github.com/copenhagen-obs/copenhagen/translate/promapi"
	"github.com/copenhagen-obs/copenhagen/translate/series"
	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// buildStorage opens the storage (embedded TSDB or agent WAL, with remote
// write) before anything that feeds it is built, and wires it into the
// app: the StatsD flush appends to it, the Prometheus API reads it, a
// reload replaces the remote write targets, and shutdown closes it after
// ingestion stopped (stageShip), giving remote write its flush deadline.
func (a *app) buildStorage(cfg *config.Config) error {
	sc := cfg.Storage
	rws, err := remoteWriteConfigs(cfg.RemoteWrite)
	if err != nil {
		return err
	}
	st, err := cstorage.Open(cstorage.Options{
		Mode:             sc.Mode,
		Path:             storagePath(a.configFile, string(sc.Path)),
		Retention:        sc.Retention,
		OutOfOrderWindow: sc.OutOfOrderWindow,
		MaxWALAge:        sc.MaxWALAge,
		RemoteWrite:      rws,
		FlushDeadline:    sc.RemoteFlushDeadline,
		LookbackDelta:    sc.LookbackDelta,
		QueryTimeout:     sc.QueryTimeout,
		MaxSamples:       sc.QueryMaxSamples,
		// The seam's bound is never tighter than Graphite's, so a point
		// graphite.max_future accepts is stored.
		MaxFuture:  max(cstorage.DefaultMaxFuture, cfg.Graphite.MaxFuture),
		Logger:     a.logger,
		Registerer: a.reg,
	})
	if err != nil {
		return fmt.Errorf("storage: %w", err)
	}
	a.storage = st
	a.logger.Info("storage open", "mode", st.Mode(), "path", st.Path(), "remote_write", len(rws))

	var closed atomic.Bool
	a.add(component{name: "storage", stage: stageShip, close: func() error {
		if closed.Swap(true) {
			return nil
		}
		return st.Close()
	}})

	api := promapi.Options{
		Agent:         st.Mode() == cstorage.ModeAgent,
		Engine:        st.Engine(),
		Version:       version,
		LookbackDelta: sc.LookbackDelta,
		Logger:        a.logger,
		Gatherer:      a.reg,
		Ready:         func() bool { return !closed.Load() },
		Metadata: func() []promapi.Metadata {
			if a.store == nil {
				return nil
			}
			fams := a.store.Families()
			out := make([]promapi.Metadata, len(fams))
			for i, f := range fams {
				out[i] = promapi.Metadata{Family: f.Name, Type: f.Type, Help: f.Help}
			}
			return out
		},
	}
	if q, err := st.Queryable(); err == nil {
		api.Queryable = q
	}
	a.routeHooks = append(a.routeHooks, func(mux *http.ServeMux) { promapi.Register(mux, api) })

	fm := newFlushMetrics(a.reg)
	a.onFlush = append(a.onFlush, func(now time.Time) {
		if a.store == nil || closed.Load() {
			return
		}
		a.appendStatsD(st, now, fm)
	})

	a.reloaders = append(a.reloaders, func(next *config.Config) (func(), error) {
		rws, err := remoteWriteConfigs(next.RemoteWrite)
		if err != nil {
			return nil, err
		}
		if err := cstorage.ValidateRemoteWrite(rws); err != nil {
			return nil, err
		}
		if next.Storage != a.cfg.Storage {
			a.logger.Warn("storage settings changed in the file; they take effect at the next restart (remote_write is reloaded now)")
		}
		return func() {
			if err := st.ApplyRemoteWrite(rws); err != nil {
				a.logger.Error("remote_write reload failed", "err", err)
			}
		}, nil
	})
	return nil
}

// storagePath resolves storage.path. A path written in the file is
// already absolute (config resolves it against the file's directory); the
// default ("data") is resolved the same way, so that a config file and its
// data stay together; without a config file it is relative to the working
// directory, as Prometheus's data/.
func storagePath(configFile, p string) string {
	if configFile == "" || filepath.IsAbs(p) {
		return p
	}
	dir, err := filepath.Abs(filepath.Dir(configFile))
	if err != nil {
		return p
	}
	return filepath.Join(dir, p)
}

// localStorage is the storage buildStorage opened, for the alerting and
// rules wiring: Queryable() for what rules read (an error in agent mode)
// and Engine() for the PromQL engine (one per registry).
func (a *app) localStorage() *cstorage.Storage {
	s, _ := a.storage.(*cstorage.Storage)
	return s
}

type flushMetrics struct {
	appended prometheus.Counter
	dropped  *prometheus.CounterVec
	lastLog  atomic.Int64
}

func newFlushMetrics(reg prometheus.Registerer) *flushMetrics {
	m := &flushMetrics{
		appended: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "copenhagen_storage_samples_appended_total", ConstLabels: prometheus.Labels{"source": "statsd"},
			Help: "Samples of StatsD flushes committed to storage.",
		}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "copenhagen_storage_samples_dropped_total", ConstLabels: prometheus.Labels{"source": "statsd"},
			Help: "Samples of StatsD flushes that storage refused, by reason.",
		}, []string{"reason"}),
	}
	for _, r := range append([]string{"append_failed", "commit_failed"}, cstorage.RefusedReasons...) {
		m.dropped.WithLabelValues(r)
	}
	reg.MustRegister(m.appended, m.dropped)
	return m
}

// appendStatsD appends every live StatsD series at the flush time and
// commits them as one transaction: once Commit returns, the flush is in
// the WAL and survives a crash.
func (a *app) appendStatsD(st storage.Appendable, now time.Time, m *flushMetrics) {
	app := st.Appender(context.Background())
	n, err := a.store.AppendTo(app, now.UnixMilli())
	var refused *series.RefusedError
	if err != nil {
		if !errors.As(err, &refused) {
			_ = app.Rollback()
			m.dropped.WithLabelValues("append_failed").Add(float64(n))
			m.logLimited(a, "StatsD flush not stored", err)
			return
		}
		m.logLimited(a, "storage refused some StatsD samples", err)
	}
	if cerr := app.Commit(); cerr != nil {
		m.dropped.WithLabelValues("commit_failed").Add(float64(n))
		m.logLimited(a, "StatsD flush not stored", cerr)
		return
	}
	m.appended.Add(float64(n))
	if refused != nil {
		for reason, k := range refused.ByReason {
			m.dropped.WithLabelValues(reason).Add(float64(k))
		}
	}
}

func (m *flushMetrics) logLimited(a *app, msg string, err error) {
	now := time.Now().Unix()
	last := m.lastLog.Load()
	if now-last < 60 || !m.lastLog.CompareAndSwap(last, now) {
		return
	}
	a.logger.Warn(msg, "err", err)
}

// remoteWriteConfigs turns the remote_write section into Prometheus's
// configs. Credentials stay in their files: Prometheus's HTTP client reads
// them for every request, so rotating a token needs no reload.
func remoteWriteConfigs(in []config.RemoteWriteConfig) ([]*promconfig.RemoteWriteConfig, error) {
	out := make([]*promconfig.RemoteWriteConfig, 0, len(in))
	for i, c := range in { // names are unique: config.Validate checks it
		u, err := url.Parse(c.URL)
		if err != nil {
			return nil, fmt.Errorf("remote_write[%d].url: %w", i, err)
		}
		rw := promconfig.DefaultRemoteWriteConfig
		rw.Name = c.Name
		rw.URL = &commoncfg.URL{URL: u}
		rw.RemoteTimeout = model.Duration(c.RemoteTimeout)
		rw.Headers = c.Headers
		rw.MetadataConfig.Send = false // no scrape targets to take metadata from
		rw.HTTPClientConfig = promconfig.DefaultRemoteWriteHTTPClientConfig
		if c.BasicAuth.Username != "" {
			rw.HTTPClientConfig.BasicAuth = &commoncfg.BasicAuth{Username: c.BasicAuth.Username, PasswordFile: string(c.BasicAuth.PasswordFile)}
		}
		if c.BearerTokenFile != "" {
			rw.HTTPClientConfig.Authorization = &commoncfg.Authorization{Type: "Bearer", CredentialsFile: string(c.BearerTokenFile)}
		}
		rw.HTTPClientConfig.TLSConfig = commoncfg.TLSConfig{
			CAFile:             string(c.TLSConfig.CAFile),
			CertFile:           string(c.TLSConfig.CertFile),
			KeyFile:            string(c.TLSConfig.KeyFile),
			ServerName:         c.TLSConfig.ServerName,
			InsecureSkipVerify: c.TLSConfig.InsecureSkipVerify,
		}
		q := c.Queue
		rw.QueueConfig = promconfig.QueueConfig{
			Capacity:          q.Capacity,
			MaxShards:         q.MaxShards,
			MinShards:         q.MinShards,
			MaxSamplesPerSend: q.MaxSamplesPerSend,
			BatchSendDeadline: model.Duration(q.BatchSendDeadline),
			MinBackoff:        model.Duration(q.MinBackoff),
			MaxBackoff:        model.Duration(q.MaxBackoff),
			RetryOnRateLimit:  q.RetryOnHTTP429,
		}
		if err := rw.HTTPClientConfig.Validate(); err != nil {
			return nil, fmt.Errorf("remote_write[%d]: %w", i, err)
		}
		out = append(out, &rw)
	}
	return out, nil
}
