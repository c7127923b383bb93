package routing

import "github.com/prometheus/alertmanager/silence"

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
// take the defaults.
type Limits struct {
	// MaxSilences is the most silences kept, expired ones included.
	MaxSilences int
	// MaxSilenceSize is the largest encoded silence, in bytes.
	MaxSilenceSize int
}

func (l Limits) silence() silence.Limits {
	if l.MaxSilences <= 0 {
		l.MaxSilences = DefaultMaxSilences
	}
	if l.MaxSilenceSize <= 0 {
		l.MaxSilenceSize = DefaultMaxSilenceSize
	}
	return silence.Limits{
		MaxSilences:         func() int { return l.MaxSilences },
		MaxSilenceSizeBytes: func() int { return l.MaxSilenceSize },
	}
}
