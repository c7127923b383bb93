package config

// AlertingConfig configures routing and notifications (issue 6).
type AlertingConfig struct{}
