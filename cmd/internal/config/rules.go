package config

// RulesConfig configures rule evaluation (issue 6).
type RulesConfig struct{}
