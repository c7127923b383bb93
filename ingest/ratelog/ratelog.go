// Package ratelog limits log lines about drops to one per interval and
// counts the ones it held back, so that a flood of bad input cannot flood
// the log as well. It is safe for concurrent use.
package ratelog

import (
	"log/slog"
	"sync/atomic"
	"time"
)

// Limiter lets through one line per interval.
type Limiter struct {
	every      time.Duration
	next       atomic.Int64 // unix nanoseconds before which lines are held back
	suppressed atomic.Int64
}

// New returns a Limiter that lets one line through every interval.
func New(every time.Duration) *Limiter { return &Limiter{every: every} }

// Allow reports whether a line may be logged now, and how many were held
// back since the last one that was. Hot paths call it before building the
// log arguments, which would allocate on every suppressed call.
func (l *Limiter) Allow() (bool, int64) {
	now := time.Now().UnixNano()
	next := l.next.Load()
	if now < next || !l.next.CompareAndSwap(next, now+int64(l.every)) {
		l.suppressed.Add(1)
		return false, 0
	}
	return true, l.suppressed.Swap(0)
}

// Warn logs msg at warning level if Allow lets it through, adding
// suppressed_similar when lines were held back.
func (l *Limiter) Warn(logger *slog.Logger, msg string, args ...any) {
	ok, suppressed := l.Allow()
	if !ok {
		return
	}
	if suppressed > 0 {
		args = append(args, "suppressed_similar", suppressed)
	}
	logger.Warn(msg, args...)
}
