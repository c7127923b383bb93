package main

import (
	"net/http"
	"os"
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
		Cluster:             clusterOptions(ac.Cluster),
		Limits:              silenceLimits(ac),
		Logger:              a.logger.With("component", "alerting"),
		Registerer:          a.reg,
	})
	if err != nil {
		return nil, err
	}
	if r.Peer() != nil {
		// A replica is ready once its gossip settled: a rolling restart
		// then waits for each one to learn the notification log and
		// silences before taking the next one down.
		a.readyChecks = append(a.readyChecks, r.Ready)
		a.logger.Info("alerting cluster", "peer_name", r.Peer().Name(), "listen", ac.Cluster.Listen, "peers", len(ac.Cluster.Peers))
	}
	a.secretSources = append(a.secretSources, func() []string { return routing.Secrets(r.Config()) })
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
		// alertmanagers belong to rule evaluation (wire_rules.go).
		changed := changedKeys("alerting", running, n, "config_file", "max_silences", "max_silence_size", "alertmanagers")
		limits := silenceLimits(n)
		commit, err := r.Prepare(string(n.ConfigFile), limits)
		if err != nil {
			return nil, err
		}
		return func() {
			if len(changed) > 0 {
				a.logger.Warn("alerting settings changed in the file; they take effect at the next restart", "keys", changed)
			}
			if err := commit(); err != nil {
				a.logger.Error("applying the Alertmanager configuration", "err", err)
				return
			}
			a.logger.Info("Alertmanager configuration reloaded", "file", n.ConfigFile,
				"max_silences", limits.MaxSilences, "max_silence_size", limits.MaxSilenceSize)
		}, nil
	})
	return r, nil
}

// silenceLimits are alerting.max_silences and max_silence_size, which
// follow reloads.
func silenceLimits(ac config.AlertingConfig) routing.Limits {
	return routing.Limits{MaxSilences: ac.MaxSilences, MaxSilenceSize: int(ac.MaxSilenceSize)}
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

// clusterOptions maps alerting.cluster to the router's; nil when
// clustering is off. peer_name defaults to $POD_NAME (the StatefulSet
// pod, so replica -0 sends first), then the host name.
func clusterOptions(c config.ClusterConfig) *routing.ClusterOptions {
	if !c.Enabled() {
		return nil
	}
	name := c.PeerName
	if name == "" {
		name = os.Getenv("POD_NAME")
	}
	if name == "" {
		name, _ = os.Hostname()
	}
	return &routing.ClusterOptions{
		Listen:            c.Listen,
		Advertise:         c.Advertise,
		Peers:             c.Peers,
		PeerName:          name,
		PeerTimeout:       c.PeerTimeout,
		SettleTimeout:     c.SettleTimeout,
		GossipInterval:    c.GossipInterval,
		PushPullInterval:  c.PushPullInterval,
		ReconnectInterval: c.ReconnectInterval,
		ReconnectTimeout:  c.ReconnectTimeout,
		Label:             c.Label,
		TLSConfigFile:     string(c.TLSConfigFile),
	}
}
