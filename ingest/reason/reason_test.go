package reason

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var (
	testSet  Set
	errFirst = testSet.New("first_reason", "test: first")
	errOther = testSet.New("other_reason", "test: other")
)

// Counts reach the counter vector only at Flush, by reason, and one
// warning per interval carries the first rejected input as its example.
func TestCounterPublishesAtFlushAndWarnsOnce(t *testing.T) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rejected_total"}, []string{"reason"})
	c := NewCounter(&testSet, vec, time.Hour)
	var log bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&log, nil))
	c.Add(errFirst, []byte("bad line 1"))
	c.Add(errOther, []byte("bad line 2"))
	c.Add(errOther, []byte("bad line 3"))
	if got := testutil.ToFloat64(vec.WithLabelValues("other_reason")); got != 0 || c.Unflushed() != 3 {
		t.Fatalf("published %v before Flush, unflushed %d", got, c.Unflushed())
	}
	now := time.Now()
	c.Flush(logger, now, "rejected test input", "line")
	if a, b := testutil.ToFloat64(vec.WithLabelValues("first_reason")), testutil.ToFloat64(vec.WithLabelValues("other_reason")); a != 1 || b != 2 {
		t.Errorf("counters %v %v, want 1 2", a, b)
	}
	if !strings.Contains(log.String(), `rejected=3 example_reason=first_reason example_line="\"bad line 1\""`) {
		t.Errorf("warning: %s", log.String())
	}
	log.Reset()
	c.Add(errFirst, []byte("bad line 4"))
	c.Flush(logger, now.Add(time.Minute), "rejected test input", "line")
	if log.Len() != 0 || c.Pending() != 1 {
		t.Errorf("a second warning within the interval: %s", log.String())
	}
	if !errors.Is(error(errFirst), errFirst) || errFirst.Index() != 0 || errOther.Index() != 1 {
		t.Error("errors are not their own sentinels with their declaration index")
	}
	if got := testSet.Reasons(); len(got) != 2 || got[0] != "first_reason" {
		t.Errorf("Reasons() = %v", got)
	}
}

func TestAddDoesNotAllocate(t *testing.T) {
	vec := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "rejected_total"}, []string{"reason"})
	c := NewCounter(&testSet, vec, time.Hour)
	in := []byte("some rejected input")
	if n := testing.AllocsPerRun(1000, func() { c.Add(errOther, in) }); n != 0 {
		t.Errorf("Add allocates %v times", n)
	}
}
