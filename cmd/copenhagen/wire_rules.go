package main

import "github.com/copenhagen-obs/copenhagen/cmd/internal/config"

// buildRules wires rule evaluation into the app. Nothing yet.
func (a *app) buildRules(cfg *config.Config) error {
	_ = cfg
	return nil
}
