package main

import "github.com/copenhagen-obs/copenhagen/cmd/internal/config"

// buildGraphite wires the graphite capability into the app: it adds its
// components, routes, flush and reload hooks. Nothing yet.
func (a *app) buildGraphite(cfg *config.Config) error {
	_ = cfg
	return nil
}
