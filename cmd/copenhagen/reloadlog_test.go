package main

import (
	"slices"
	"testing"
	"time"

	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
)

func TestChangedKeys(t *testing.T) {
	base := config.Default()
	tests := []struct {
		name   string
		change func(c *config.Config)
		want   []string
	}{
		{"nothing", func(*config.Config) {}, nil},
		{"a duration", func(c *config.Config) { c.Storage.Retention = time.Hour }, []string{"storage.retention"}},
		{"two keys", func(c *config.Config) { c.Storage.Mode = "agent"; c.Storage.QueryMaxSamples = 1 },
			[]string{"storage.mode", "storage.query_max_samples"}},
		{"a reloaded key", func(c *config.Config) { c.Alerting.MaxSilences = 1 }, nil},
		{"a nested section", func(c *config.Config) { c.Alerting.Cluster.Peers = []string{"a:9094"} }, []string{"alerting.cluster"}},
		{"an empty slice for none", func(c *config.Config) { c.Alerting.Cluster.Peers = []string{} }, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			next := config.Default()
			tt.change(next)
			got := append(changedKeys("storage", base.Storage, next.Storage),
				changedKeys("alerting", base.Alerting, next.Alerting, "config_file", "alertmanagers", "max_silences", "max_silence_size")...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("changedKeys = %q, want %q", got, tt.want)
			}
		})
	}
}

// Maps, inline sections and keys without a yaml name.
func TestChangedKeysShapes(t *testing.T) {
	type Inner struct {
		URL string `yaml:"url"`
	}
	type section struct {
		Inner   `yaml:",inline"`
		Headers map[string]string `yaml:"headers"`
		Plain   int
		Skipped int `yaml:"-"`
	}
	tests := []struct {
		a, b section
		want []string
	}{
		{section{}, section{Headers: map[string]string{}}, nil},
		{section{}, section{Headers: map[string]string{"X-Scope-OrgID": "a"}}, []string{"s.headers"}},
		{section{Inner: Inner{URL: "a"}}, section{Inner: Inner{URL: "b"}}, []string{"s.url"}},
		{section{Plain: 1, Skipped: 1}, section{Plain: 2, Skipped: 2}, []string{"s.plain"}},
	}
	for _, tt := range tests {
		if got := changedKeys("s", tt.a, tt.b); !slices.Equal(got, tt.want) {
			t.Errorf("changedKeys(%+v, %+v) = %q, want %q", tt.a, tt.b, got, tt.want)
		}
	}
}
