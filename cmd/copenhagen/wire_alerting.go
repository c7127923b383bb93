package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"

	"github.com/copenhagen-obs/copenhagen/alerting/routing"
	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
)

// buildAlerting wires routing and notifications into the app: an
// in-process Alertmanager (alerting/routing) built from
// alerting.config_file, which becomes a.alertSender for buildRules, its
// API v2 at /api/v2/ (amtool) and the /alerts page. It runs before
// buildRules; with no alerting.config_file it does nothing.
func (a *app) buildAlerting(cfg *config.Config) error {
	ac := cfg.Alerting
	if ac.ConfigFile == "" {
		return nil
	}
	ext, err := alertingExternalURL(cfg)
	if err != nil {
		return err
	}
	r, err := routing.New(routing.Options{
		ConfigFile:          string(ac.ConfigFile),
		DataDir:             alertingDataDir(cfg),
		Retention:           ac.Retention,
		MaintenanceInterval: ac.SnapshotInterval,
		ExternalURL:         ext,
		QueueSize:           ac.QueueSize,
		SeyrenURL:           ac.SeyrenURL,
		Limits:              routing.Limits{MaxSilences: ac.MaxSilences, MaxSilenceSize: int(ac.MaxSilenceSize)},
		Logger:              a.logger.With("component", "alerting"),
		Registerer:          a.reg,
	})
	if err != nil {
		return err
	}
	a.alertSender = r
	a.secretSources = append(a.secretSources, func() []string { return routing.Secrets(r.Config()) })
	// stageShip: rule evaluation (stagePipeline) stops first, so its last
	// alerts are routed; Stop then writes the notification log snapshot.
	a.add(component{name: "alerting", stage: stageShip, close: r.Stop})
	a.routeHooks = append(a.routeHooks, func(mux *http.ServeMux) { r.Register(mux) })
	running := cfg.Alerting
	a.reloaders = append(a.reloaders, func(next *config.Config) (func(), error) {
		n := next.Alerting
		if n.ConfigFile == "" {
			a.logger.Warn("alerting.config_file removed: in-process routing keeps running until the next restart")
			return nil, nil
		}
		if n.DataDir != running.DataDir || n.ExternalURL != running.ExternalURL || n.Retention != running.Retention ||
			n.SeyrenURL != running.SeyrenURL || n.QueueSize != running.QueueSize || n.SnapshotInterval != running.SnapshotInterval ||
			n.MaxSilences != running.MaxSilences || n.MaxSilenceSize != running.MaxSilenceSize {
			a.logger.Warn("alerting settings other than config_file changed; they take effect at the next restart")
		}
		commit, err := r.Prepare(string(n.ConfigFile))
		if err != nil {
			return nil, err
		}
		return func() {
			if err := commit(); err != nil {
				a.logger.Error("applying the Alertmanager configuration", "err", err)
				return
			}
			a.logger.Info("Alertmanager configuration reloaded", "file", n.ConfigFile)
		}, nil
	})
	return nil
}

func alertingDataDir(cfg *config.Config) string {
	if cfg.Alerting.DataDir != "" {
		return string(cfg.Alerting.DataDir)
	}
	if cfg.Storage.Path != "" {
		return filepath.Join(string(cfg.Storage.Path), "alerting")
	}
	return filepath.Join("data", "alerting")
}

// alertingExternalURL is alerting.external_url, or this host at the HTTP
// listen port.
func alertingExternalURL(cfg *config.Config) (*url.URL, error) {
	if s := cfg.Alerting.ExternalURL; s != "" {
		u, err := url.Parse(s)
		if err != nil {
			return nil, fmt.Errorf("alerting.external_url: %w", err)
		}
		return u, nil
	}
	host, port, err := net.SplitHostPort(cfg.HTTP.Listen)
	if err != nil {
		if cfg.HTTP.Listen != "" {
			return nil, errors.New("alerting.external_url: cannot derive it from http.listen; set it")
		}
		host, port = "", "9095"
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		if h, err := os.Hostname(); err == nil {
			host = h
		} else {
			host = "localhost"
		}
	}
	return &url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}, nil
}
