package routing

import (
	"fmt"

	"github.com/prometheus/alertmanager/silence"
)

// Defaults of Limits. Alertmanager has none (its flags default to 0, no
// limit): a 100 MB comment was accepted, persisted and served to every
// listing. 10 000 silences is far more than a team keeps; 64 KiB holds a
// long comment and hundreds of matchers.
const (
	DefaultMaxSilences    = 10000
	DefaultMaxSilenceSize = 64 << 10
)

// Limits bound silences, with Alertmanager's own silence.Limits: the API
// answers a silence beyond them with 400 and stores nothing. Zero fields
// take the defaults. They follow reloads (Router.Prepare): silences
// already stored stay, a lower limit refuses the next ones.
type Limits struct {
	// MaxSilences is the most silences kept, expired ones included.
	MaxSilences int
	// MaxSilenceSize is the largest encoded silence, in bytes.
	MaxSilenceSize int
}

// withDefaults checks l and fills in the defaults.
func (l Limits) withDefaults() (Limits, error) {
	if l.MaxSilences < 0 {
		return l, fmt.Errorf("routing: max_silences must not be negative, got %d", l.MaxSilences)
	}
	if l.MaxSilenceSize < 0 {
		return l, fmt.Errorf("routing: max_silence_size must not be negative, got %d", l.MaxSilenceSize)
	}
	if l.MaxSilences == 0 {
		l.MaxSilences = DefaultMaxSilences
	}
	if l.MaxSilenceSize == 0 {
		l.MaxSilenceSize = DefaultMaxSilenceSize
	}
	return l, nil
}

// silenceLimits are the limits Alertmanager's silences consult at every
// new silence: they read the Router's current ones, so a reload applies
// without rebuilding the silences.
func (r *Router) silenceLimits() silence.Limits {
	return silence.Limits{
		MaxSilences:         func() int { return r.limits.Load().MaxSilences },
		MaxSilenceSizeBytes: func() int { return r.limits.Load().MaxSilenceSize },
	}
}

// Limits are the silence limits in force.
func (r *Router) Limits() Limits { return *r.limits.Load() }
