package main

import (
	"net/http"
	"path/filepath"

	"github.com/copenhagen-obs/copenhagen/alerting"
	"github.com/copenhagen-obs/copenhagen/alerting/routing"
	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
)

// buildAlerting wires routing and notifications into the app: an
// in-process Alertmanager (alerting/routing) built from
// alerting.config_file, returned for buildRules to send to, its API v2 at
// /api/v2/ (amtool) and the /alerts page. With no alerting.config_file it
// returns nil.
func (a *app) buildAlerting(cfg *config.Config) (alerting.Sender, error) {
	ac := cfg.Alerting
	if ac.ConfigFile == "" {
		return nil, nil
	}
	r, err := routing.New(routing.Options{
		ConfigFile:          string(ac.ConfigFile),
		DataDir:             alertingDataDir(cfg),
		Retention:           ac.Retention,
		MaintenanceInterval: ac.SnapshotInterval,
		ExternalURL:         cfg.ExternalURL(), // nil: routing's default
		QueueSize:           ac.QueueSize,
		SeyrenURL:           ac.SeyrenURL,
		Logger:              a.logger.With("component", "alerting"),
		Registerer:          a.reg,
	})
	if err != nil {
		return nil, err
	}
	// stageShip: rule evaluation (stagePipeline) stops first, so its last
	// alerts are routed; Stop then writes the notification log snapshot.
	a.add(component{name: "alerting", stage: stageShip, close: closer(r.Stop)})
	a.routeHooks = append(a.routeHooks, func(mux *http.ServeMux) { r.Register(mux) })
	running := cfg.Alerting
	a.reloaders = append(a.reloaders, func(next *config.Config) (func(), error) {
		n := next.Alerting
		if n.ConfigFile == "" {
			a.logger.Warn("alerting.config_file removed: in-process routing keeps running until the next restart")
			return nil, nil
		}
		if n.DataDir != running.DataDir || n.ExternalURL != running.ExternalURL || n.Retention != running.Retention ||
			n.SeyrenURL != running.SeyrenURL || n.QueueSize != running.QueueSize || n.SnapshotInterval != running.SnapshotInterval {
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
	return r, nil
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
