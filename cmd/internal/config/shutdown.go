package config

import "time"

// DefaultShutdownTimeout is below the 30 s after which systemd
// (TimeoutStopSec's default, and the shipped unit's) and Kubernetes
// (terminationGracePeriodSeconds) kill the process: the flushes get the
// time, not the kill.
const DefaultShutdownTimeout = 25 * time.Second

// SetDefaults sets the top-level values used for keys absent from the
// file; the sections set their own.
func (c *Config) SetDefaults() {
	c.ShutdownTimeout = DefaultShutdownTimeout
}

// validateShutdown checks shutdown_timeout: the one budget a graceful
// shutdown shares between every component that flushes (relays, the last
// StatsD flush, rule evaluation, remote write, Loki, the alerting
// snapshot), each taking what the ones before left. The per-component
// caps (storage.remote_flush_deadline, loki.shutdown_timeout) still
// apply within it.
func (c *Config) validateShutdown() error {
	if c.ShutdownTimeout <= 0 {
		return Fieldf("shutdown_timeout", "must be greater than 0 (keep it below the service manager's stop timeout, e.g. systemd's TimeoutStopSec)")
	}
	return nil
}
