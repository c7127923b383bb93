package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/copenhagen-obs/copenhagen/alerting/evaluate"
	"github.com/copenhagen-obs/copenhagen/alerting/routing"
	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
	"github.com/copenhagen-obs/copenhagen/translate/names"
)

// checkConfig is `copenhagen check config FILE`: everything `run` would
// refuse, reported without binding a port.
func checkConfig(file string, print bool, stdout, stderr io.Writer) int {
	cfg, err := config.Load(file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	var errs []error
	if cfg.StatsD.MappingFile != "" {
		m, err := names.Load(string(cfg.StatsD.MappingFile))
		if err != nil {
			errs = append(errs, fmt.Errorf("statsd.mapping_file: %w", err))
		} else {
			fmt.Fprintf(stdout, "  statsd.mapping_file %s: %d rules\n", cfg.StatsD.MappingFile, m.Rules())
		}
	}
	if cfg.Graphite.MappingFile != "" {
		if _, err := names.Load(string(cfg.Graphite.MappingFile)); err != nil {
			errs = append(errs, fmt.Errorf("graphite.mapping_file: %w", err))
		}
	}
	if len(cfg.Rules.Files) > 0 {
		patterns := make([]string, len(cfg.Rules.Files))
		for i, f := range cfg.Rules.Files {
			patterns[i] = string(f)
		}
		if n, err := evaluate.CheckFiles(patterns); err != nil {
			errs = append(errs, fmt.Errorf("rules.files: %w", err))
		} else {
			fmt.Fprintf(stdout, "  rules.files: %d files OK\n", n)
		}
	}
	if cfg.Alerting.ConfigFile != "" {
		if _, err := routing.Validate(string(cfg.Alerting.ConfigFile)); err != nil {
			errs = append(errs, err)
		} else {
			fmt.Fprintf(stdout, "  alerting.config_file %s: OK\n", cfg.Alerting.ConfigFile)
		}
	}
	if cfg.HTTP.WebConfigFile != "" {
		if err := web.Validate(string(cfg.HTTP.WebConfigFile)); err != nil {
			errs = append(errs, fmt.Errorf("http.web_config_file %s: %w", cfg.HTTP.WebConfigFile, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", file, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK\n", file)
	if print {
		fmt.Fprint(stdout, cfg.String())
	}
	return 0
}
