package main

import "github.com/copenhagen-obs/copenhagen/cmd/internal/config"

// buildStorage wires the storage capability into the app: it adds its
// components, routes, flush and reload hooks. Nothing yet.
func (a *app) buildStorage(cfg *config.Config) error {
	_ = cfg
	return nil
}
