package main

import "github.com/copenhagen-obs/copenhagen/cmd/internal/config"

// buildAlerting wires routing and notifications into the app. It runs
// before buildRules, which sends the alerts it evaluates to what this sets
// up. Nothing yet.
func (a *app) buildAlerting(cfg *config.Config) error {
	_ = cfg
	return nil
}
