package config

// StorageConfig configures the embedded Prometheus TSDB (issue 3).
type StorageConfig struct{}

// RemoteWriteConfig is one Prometheus remote write target (issue 3).
type RemoteWriteConfig struct{}
