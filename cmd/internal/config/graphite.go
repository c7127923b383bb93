package config

// GraphiteConfig configures carbon ingestion and relaying (issue 3).
type GraphiteConfig struct{}
