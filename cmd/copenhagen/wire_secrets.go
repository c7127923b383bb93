package main

import (
	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
	"github.com/copenhagen-obs/copenhagen/cmd/internal/logredact"
)

// setSecrets tells the log handler (logredact) every secret value the
// running configuration holds in the clear: config.Secrets (query-string
// tokens, header values) and what the capabilities add through
// a.secretSources (the Alertmanager file's receivers). Called at start
// and after every reload.
func (a *app) setSecrets(cfg *config.Config) {
	h, ok := a.logger.Handler().(*logredact.Handler)
	if !ok {
		return
	}
	s := cfg.Secrets()
	for _, f := range a.secretSources {
		s = append(s, f()...)
	}
	h.SetSecrets(s)
}
