package main

import (
	"fmt"
	"io"

	"github.com/copenhagen-obs/copenhagen/alerting/evaluate"
	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
	"github.com/copenhagen-obs/copenhagen/translate/names"
)

// checkConfig is `copenhagen check config FILE`: everything `run` would
// refuse, reported without binding a port. The checks are config.Load's
// (the root Validate included), the same that `run` and a reload pass
// through; this only adds a summary of what was found.
func checkConfig(file string, print bool, stdout, stderr io.Writer) int {
	cfg, err := config.Load(file)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if p := cfg.StatsD.MappingFile; p != "" {
		if m, err := names.Load(string(p)); err == nil {
			fmt.Fprintf(stdout, "  statsd.mapping_file %s: %d rules\n", p, m.Rules())
		}
	}
	if p := cfg.Graphite.MappingFile; p != "" {
		if m, err := names.Load(string(p)); err == nil {
			fmt.Fprintf(stdout, "  graphite.mapping_file %s: %d rules\n", p, m.Rules())
		}
	}
	if len(cfg.Rules.Files) > 0 {
		if n, err := evaluate.CheckFiles(config.RulePatterns(cfg.Rules.Files)); err == nil {
			fmt.Fprintf(stdout, "  rules.files: %d files OK\n", n)
		}
	}
	if cfg.Alerting.ConfigFile != "" {
		fmt.Fprintf(stdout, "  alerting.config_file %s: OK\n", cfg.Alerting.ConfigFile)
	}
	fmt.Fprintf(stdout, "%s: OK\n", file)
	if print {
		fmt.Fprint(stdout, cfg.String())
	}
	return 0
}
