package seyren

import (
	"errors"
	"fmt"
	"io"
	"log/slog"

	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// ValidateRules checks a generated rule file the way Prometheus loads it,
// with legacy metric-name validation so that older Prometheus servers
// (Debian's 2.42) accept the names too.
func ValidateRules(data []byte) error {
	_, errs := rulefmt.Parse(data, false, model.LegacyValidation, parser.NewParser(parser.Options{}), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if len(errs) > 0 {
		return fmt.Errorf("invalid rule file: %w", errors.Join(errs...))
	}
	return nil
}

// ValidateAlertmanager checks alertmanager.yml the way Alertmanager loads
// it (routes, receivers, time intervals, inhibit rules).
func ValidateAlertmanager(data []byte) error {
	if _, err := amconfig.Load(string(data)); err != nil {
		return fmt.Errorf("invalid alertmanager configuration: %w", err)
	}
	return nil
}

// Validate checks every rule file and the Alertmanager configuration of
// an import.
func (o *Output) Validate() error {
	var errs []error
	for _, f := range o.Files {
		switch {
		case f.Path == "alertmanager.yml":
			if err := ValidateAlertmanager(f.Data); err != nil {
				errs = append(errs, err)
			}
		case len(f.Path) > 6 && f.Path[:6] == "rules/":
			if err := ValidateRules(f.Data); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", f.Path, err))
			}
		}
	}
	return errors.Join(errs...)
}
