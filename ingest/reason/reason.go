// Package reason names why a parser rejected an input, for the reason
// label of its rejection counter, and counts a reader's rejections by
// reason. The StatsD and carbon parsers share it, so their rejections
// are declared, counted, published and logged the same way.
//
// A reason is a short, stable snake_case word: it never contains input
// bytes, so a flood of garbage cannot grow the label set, and it is part
// of the self-metrics contract (dashboards and alerts use it). Every
// Error is created once, at package initialisation, so rejecting an input
// allocates nothing and callers may compare errors with == or errors.Is.
package reason

import (
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/copenhagen-obs/copenhagen/ingest/ratelog"
)

// Error says why an input was rejected. Reason is the label value.
type Error struct {
	Reason string
	msg    string
	idx    int // position in its Set, for the Counters' arrays
}

// Error returns a human-readable description of the rejection.
func (e *Error) Error() string { return e.msg }

// Set is the list of one parser's reasons. Declare it as a package
// variable and its Errors with New, at initialisation.
type Set struct {
	errs []*Error
}

// New declares a reason and returns its Error.
func (s *Set) New(reason, msg string) *Error {
	e := &Error{Reason: reason, msg: msg, idx: len(s.errs)}
	s.errs = append(s.errs, e)
	return e
}

// All returns the Errors in declaration order.
func (s *Set) All() []*Error { return s.errs }

// Reasons returns every reason, so that counters can be created for all
// of them up front: a rate() over a series that appears only on the first
// bad input misses that input.
func (s *Set) Reasons() []string {
	out := make([]string, len(s.errs))
	for i, e := range s.errs {
		out[i] = e.Reason
	}
	return out
}

// Index is e's position in its Set.
func (e *Error) Index() int { return e.idx }

// Counter counts one reader goroutine's rejections by reason in plain
// fields and publishes them at Flush: one atomic add per reason per batch
// rather than per input. It also keeps the first rejected input since
// the last warning (ratelog.Rejections), so that the reader logs at most
// one line per interval with a real example. It is not safe for
// concurrent use.
type Counter struct {
	n    []uint64
	c    []prometheus.Counter
	rejs ratelog.Rejections
}

// NewCounter returns a Counter of s's reasons into vec (labelled by
// reason only), warning at most once per every.
func NewCounter(s *Set, vec *prometheus.CounterVec, every time.Duration) *Counter {
	c := &Counter{n: make([]uint64, len(s.errs)), c: make([]prometheus.Counter, len(s.errs))}
	c.rejs.Every = every
	for i, e := range s.errs {
		c.c[i] = vec.WithLabelValues(e.Reason)
	}
	return c
}

// Add counts one rejected input; input is copied (at most
// ratelog.MaxExample bytes, once per interval), not retained.
func (c *Counter) Add(e *Error, input []byte) {
	c.n[e.idx]++
	c.rejs.Add(e.Reason, input)
}

// Pending is how many rejections the next warning will report.
func (c *Counter) Pending() uint64 { return c.rejs.Pending() }

// Flush publishes the counts and logs msg (see ratelog.Rejections.Warn;
// noun names the input in the example's key) if a warning is due.
func (c *Counter) Flush(logger *slog.Logger, now time.Time, msg, noun string) {
	for i, n := range c.n {
		if n != 0 {
			c.c[i].Add(float64(n))
			c.n[i] = 0
		}
	}
	if c.rejs.Pending() > 0 {
		c.rejs.Warn(logger, now, msg, noun)
	}
}

// Unflushed is how many rejections Add counted since the last Flush.
func (c *Counter) Unflushed() uint64 {
	var sum uint64
	for _, n := range c.n {
		sum += n
	}
	return sum
}
