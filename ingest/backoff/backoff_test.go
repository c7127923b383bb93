package backoff

import (
	"slices"
	"testing"
	"time"
)

// Each wait stays in the upper half of its doubling step, capped at max.
func TestStepsDoubleWithinBounds(t *testing.T) {
	b := New(100*time.Millisecond, time.Second)
	steps := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, s := range steps {
		step := s * time.Millisecond
		d := b.Next()
		if d < step/2 || d > step {
			t.Errorf("wait %d = %v, want within [%v, %v]", i, d, step/2, step)
		}
		if b.Step() != step {
			t.Errorf("step %d = %v, want %v", i, b.Step(), step)
		}
	}
	b.Reset()
	if d := b.Next(); d > 100*time.Millisecond {
		t.Errorf("after Reset the wait is %v, want at most min", d)
	}
}

// A fleet of pods that lost the same server at the same moment must not
// come back in lockstep: the waits of independent clients differ.
func TestClientsDoNotRetryInLockstep(t *testing.T) {
	const pods = 50
	first := make([]time.Duration, pods)
	for i := range first {
		b := New(500*time.Millisecond, 30*time.Second)
		var total time.Duration
		for range 5 { // the fifth retry: 8 s steps
			total += b.Next()
		}
		first[i] = total
	}
	slices.Sort(first)
	distinct := slices.Compact(slices.Clone(first))
	if len(distinct) < pods*9/10 {
		t.Fatalf("%d pods retried at only %d distinct moments: %v", pods, len(distinct), first)
	}
	// Spread over seconds, not nanoseconds.
	if spread := first[pods-1] - first[0]; spread < time.Second {
		t.Errorf("the fifth retries of %d pods span %v, want at least 1s", pods, spread)
	}
}

func TestMaxBelowMin(t *testing.T) {
	b := New(time.Second, time.Millisecond)
	for range 3 {
		if d := b.Next(); d < 500*time.Millisecond || d > time.Second {
			t.Fatalf("wait %v with max below min", d)
		}
	}
}
