package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path/filepath"

	"github.com/prometheus/client_golang/prometheus"
	commoncfg "github.com/prometheus/common/config"
	"github.com/prometheus/common/model"
	promconfig "github.com/prometheus/prometheus/config"

	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
	"github.com/copenhagen-obs/copenhagen/translate/promapi"
	"github.com/copenhagen-obs/copenhagen/translate/series"
	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// buildStorage opens the storage (embedded TSDB or agent WAL, with remote
// write) before anything that feeds it is built: StatsD, Graphite, the
// query API and the rules get it from here. A reload replaces the remote
// write targets; shutdown closes it after ingestion stopped (stageShip),
// giving remote write what is left of the shutdown budget, at most
// storage.remote_flush_deadline.
func (a *app) buildStorage(cfg *config.Config) (*cstorage.Storage, error) {
	sc := cfg.Storage
	rws, err := remoteWriteConfigs(cfg.RemoteWrite)
	if err != nil {
		return nil, err
	}
	st, err := cstorage.Open(cstorage.Options{
		Mode:             sc.Mode,
		Path:             storagePath(a.configFile, string(sc.Path)),
		Retention:        sc.Retention,
		OutOfOrderWindow: sc.OutOfOrderWindow,
		MaxWALAge:        sc.MaxWALAge,
		RemoteWrite:      rws,
		// The shutdown budget bounds it too: CloseContext.
		FlushDeadline: sc.RemoteFlushDeadline,
		LookbackDelta: sc.LookbackDelta,
		QueryTimeout:  sc.QueryTimeout,
		MaxSamples:    sc.QueryMaxSamples,
		// The seam's bound is never tighter than Graphite's, so a point
		// graphite.max_future accepts is stored.
		MaxFuture:  max(cstorage.DefaultMaxFuture, cfg.Graphite.MaxFuture),
		Logger:     a.logger,
		Registerer: a.reg,
	})
	if err != nil {
		return nil, fmt.Errorf("storage: %w", err)
	}
	a.logger.Info("storage open", "mode", st.Mode(), "path", st.Path(), "remote_write", len(rws))
	a.add(component{name: "storage", stage: stageShip, close: func(ctx context.Context) error {
		err := st.CloseContext(ctx)
		if errors.Is(err, cstorage.ErrFlushIncomplete) {
			return fmt.Errorf("%w (%v samples pending)", err, gaugeSum(a.reg, "prometheus_remote_storage_samples_pending"))
		}
		return err
	}})

	// Compared with what the storage was opened with, not with the last
	// file read: a setting changed at the last reload still waits for a
	// restart. Reported when the reload is applied, not when it is
	// prepared: a reload refused later changes nothing.
	running := cfg.Storage
	a.reloaders = append(a.reloaders, func(next *config.Config) (func(), error) {
		rws, err := remoteWriteConfigs(next.RemoteWrite)
		if err != nil {
			return nil, err
		}
		if err := cstorage.ValidateRemoteWrite(rws); err != nil {
			return nil, err
		}
		changed := changedKeys("storage", running, next.Storage)
		return func() {
			if len(changed) > 0 {
				a.logger.Warn("storage settings changed in the file; they take effect at the next restart (remote_write is reloaded now)", "keys", changed)
			}
			if err := st.ApplyRemoteWrite(rws); err != nil {
				a.logger.Error("remote_write reload failed", "err", err)
			}
		}, nil
	})
	return st, nil
}

// buildQueryAPI serves Prometheus's query API over the storage, with the
// StatsD store's families as metadata.
func (a *app) buildQueryAPI(cfg *config.Config, st *cstorage.Storage, store *series.Store) {
	api := promapi.Options{
		Agent:         st.Mode() == cstorage.ModeAgent,
		Engine:        st.Engine(),
		Version:       version,
		LookbackDelta: cfg.Storage.LookbackDelta,
		Logger:        a.logger,
		Gatherer:      a.reg,
		Ready:         func() bool { return !st.Closed() },
		Metadata: func() []promapi.Metadata {
			fams := store.Families()
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
}

// gaugeSum adds up the gauge family name in g, for shutdown messages.
func gaugeSum(g prometheus.Gatherer, name string) float64 {
	fams, _ := g.Gather()
	var sum float64
	for _, f := range fams {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetGauge().GetValue()
			}
		}
	}
	return sum
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
		// Native histograms only where the file says the receiver takes
		// them; the others are counted (storage: histograms.go).
		rw.SendNativeHistograms = c.SendNativeHistograms
		rw.HTTPClientConfig = c.HTTPClientConfig.Prometheus(promconfig.DefaultRemoteWriteHTTPClientConfig)
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
