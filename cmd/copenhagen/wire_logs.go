package main

import "github.com/copenhagen-obs/copenhagen/cmd/internal/config"

// buildLogs wires the logs capability into the app: it adds its
// components, routes, flush and reload hooks. Nothing yet.
func (a *app) buildLogs(cfg *config.Config) error {
	_ = cfg
	return nil
}
