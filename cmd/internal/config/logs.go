package config

// LogsConfig configures log tailing (issue 4).
type LogsConfig struct{}

// LokiConfig configures the Loki push client (issue 4).
type LokiConfig struct{}
