// Package backoff spaces the retries of a client whose server is down:
// exponential steps from Min to Max, each wait drawn at random in the
// upper half of its step ("equal jitter").
//
// The jitter is the point. Copenhagen runs as a DaemonSet: when Loki or a
// legacy carbon daemon restarts, hundreds of pods lose it in the same
// second, and with plain doubling they would all come back in the same
// second too, every time, a thundering herd that can keep the server
// down. Random waits spread them over half of each step, while the lower
// half keeps the wait from collapsing to nothing (as "full jitter" can),
// so a server that is down is never hammered by one pod either.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Backoff is the retry state of one client. The zero value is not
// usable; New returns one. It is not safe for concurrent use: each
// sender goroutine keeps its own.
type Backoff struct {
	min, max time.Duration
	step     time.Duration // the current step, before jitter
}

// New returns a Backoff whose steps double from lo to hi; an hi below lo
// is taken as lo.
func New(lo, hi time.Duration) *Backoff {
	if lo <= 0 {
		lo = time.Millisecond
	}
	return &Backoff{min: lo, max: max(lo, hi)}
}

// Next returns the wait before the next attempt, in [step/2, step]
// where step doubles from min at every call, capped at max.
func (b *Backoff) Next() time.Duration {
	if b.step == 0 {
		b.step = b.min
	} else {
		b.step = min(2*b.step, b.max)
	}
	half := b.step / 2
	return half + rand.N(b.step-half+1)
}

// Step is the current step without jitter: the longest the last wait
// could be.
func (b *Backoff) Step() time.Duration { return b.step }

// Reset starts the steps again from min, after a success.
func (b *Backoff) Reset() { b.step = 0 }
