// Package sharedmetric registers self-metric vectors that several
// instances of a component share (every listener, every relay target
// reports into the same copenhagen_* families, told apart by a label).
package sharedmetric

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c, or returns the collector of the same type that
// another instance already registered under the same description.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, fmt.Errorf("registering self-metrics: %w", err)
}
