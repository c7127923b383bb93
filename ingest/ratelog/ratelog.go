// Package ratelog limits log lines about drops to one per interval and
// counts the ones it held back, so that a flood of bad input cannot flood
// the log as well. It is safe for concurrent use.
package ratelog

import (
	"log/slog"
	"strconv"
	"sync/atomic"
	"time"
	"unicode/utf8"
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

// MaxExample is how much of a rejected input a warning shows.
const MaxExample = 256

// Rejections remembers, between two warnings, how many inputs a reader's
// parser rejected and a truncated copy of the first one (the reader's
// buffer is reused), so that the reader logs at most one line per interval
// with a real example. It belongs to one reader goroutine: Add is called
// per rejected input and costs a copy of at most MaxExample bytes once per
// interval, no atomics.
type Rejections struct {
	Every time.Duration

	count   uint64
	reason  string
	example [MaxExample]byte
	n, full int
	last    time.Time
	warned  bool
}

// Add records one rejected input.
func (r *Rejections) Add(reason string, input []byte) {
	if r.count == 0 {
		r.reason = reason
		r.full = len(input)
		n := copy(r.example[:], input)
		if n < len(input) {
			// Do not cut a multi-byte character in two.
			for n > 0 && !utf8.RuneStart(input[n]) {
				n--
			}
		}
		r.n = n
	}
	r.count++
}

// Pending is how many rejections have not been reported yet.
func (r *Rejections) Pending() uint64 { return r.count }

// Warn logs msg if rejections are pending and the interval has passed
// since the last warning: the count, the first one's reason, and the
// example quoted (with "..." when cut) under example_<noun> and its full
// length under example_<noun>_bytes.
func (r *Rejections) Warn(logger *slog.Logger, now time.Time, msg, noun string) {
	if r.count == 0 || (r.warned && now.Sub(r.last) < r.Every) {
		return
	}
	r.warned = true
	r.last = now
	example := strconv.Quote(string(r.example[:r.n]))
	if r.n < r.full {
		example += "..."
	}
	logger.Warn(msg,
		"rejected", r.count,
		"example_reason", r.reason,
		"example_"+noun, example,
		"example_"+noun+"_bytes", r.full)
	r.count = 0
}
