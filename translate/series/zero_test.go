package series

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/storage"

	"github.com/copenhagen-obs/copenhagen/translate/names"
	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// TestZeroBeforeTheFirstSampleOfCumulativeSeries checks which series get
// the start-timestamp zero: the cumulative ones (counters, histogram
// buckets/_sum/_count, summary _sum/_count), once, at the series'
// creation time, and not gauges, sets or quantiles.
func TestZeroBeforeTheFirstSampleOfCumulativeSeries(t *testing.T) {
	created := time.UnixMilli(1_800_000_000_000)
	s := New(Options{Now: func() time.Time { return created }}, nil)
	w := NewTranslator(s, mustMapper(t, "defaults:\n  observer_type: histogram\n  histogram_options:\n    buckets: [0.1, 1]\nmappings:\n- match: sum.*\n  observer_type: summary\n  name: sum_$1\n"), nil, nil).NewWorker()
	feed(t, w, "hits:1|c", "temp:20|g", "users:a|s", "lat:200|ms", "sum.x:5|ms")
	r := newRecorder()
	flush := created.Add(10 * time.Second).UnixMilli()
	if _, err := s.AppendTo(r, flush); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`{__name__="hits"}`,
		`{__name__="lat_bucket", le="+Inf"}`, `{__name__="lat_bucket", le="0.1"}`, `{__name__="lat_bucket", le="1"}`,
		`{__name__="lat_count"}`, `{__name__="lat_sum"}`,
		`{__name__="sum_x_count"}`, `{__name__="sum_x_sum"}`,
	}
	var got []string
	for ls, st := range r.zeros {
		if st != created.UnixMilli() {
			t.Errorf("%s: zero at %d, want the creation time %d", ls, st, created.UnixMilli())
		}
		got = append(got, ls)
	}
	if g, w := strings.Join(sortStrings(got), " "), strings.Join(want, " "); g != w {
		t.Fatalf("zeros for\n  %s\nwant\n  %s", g, w)
	}
	// The next flush appends no zero.
	r2 := newRecorder()
	if _, err := s.AppendTo(r2, flush+10000); err != nil {
		t.Fatal(err)
	}
	if len(r2.zeros) != 0 {
		t.Fatalf("second flush injected %v", r2.zeros)
	}
	// A series created at the flush instant gets its zero 1 ms before.
	s3 := New(Options{Now: func() time.Time { return created }}, nil)
	feed(t, NewTranslator(s3, names.Empty(), nil, nil).NewWorker(), "new:1|c")
	r3 := newRecorder()
	s3.AppendTo(r3, created.UnixMilli())
	if st := r3.zeros[`{__name__="new"}`]; st != created.UnixMilli()-1 {
		t.Fatalf("zero at %d, want %d", st, created.UnixMilli()-1)
	}
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// TestFirstIncrementIsVisibleToIncrease is the "Also" of issue 9: one
// x:1|c into a new series, flushed into the embedded TSDB, is seen by
// increase() and rate() at once. Without the zero, the first flush is the
// series' only sample and increase(x[1m]) is empty, then 0 while the
// value stays 1. With it, increase is the increment, extrapolated by
// PromQL at most half an interval past the last sample: between 1 and
// 1.5.
func TestFirstIncrementIsVisibleToIncrease(t *testing.T) {
	st, err := cstorage.Open(cstorage.Options{Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := time.Now().Add(-time.Minute).Truncate(time.Second)
	s := New(Options{Now: func() time.Time { return start }}, nil)
	w := NewTranslator(s, names.Empty(), nil, nil).NewWorker()
	feed(t, w, "checkout.failures:1|c")
	for i := 1; i <= 3; i++ { // three flushes, 10 s apart, the value stays 1
		app := st.Appender(context.Background())
		if _, err := s.AppendTo(app, start.Add(time.Duration(i)*10*time.Second).UnixMilli()); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	eval := func(q string, at time.Time) float64 {
		t.Helper()
		qry, err := st.Engine().NewInstantQuery(context.Background(), st, nil, q, at)
		if err != nil {
			t.Fatal(err)
		}
		res := qry.Exec(context.Background())
		if res.Err != nil {
			t.Fatal(res.Err)
		}
		v, err := res.Vector()
		if err != nil || len(v) != 1 {
			t.Fatalf("%s at %v: %v %v", q, at, v, err)
		}
		return v[0].F
	}
	for _, at := range []time.Duration{10 * time.Second, 30 * time.Second} {
		inc := eval("increase(checkout_failures[1m])", start.Add(at))
		if inc < 1 || inc > 1.5 {
			t.Errorf("increase(checkout_failures[1m]) %v after the first increment = %v, want 1..1.5", at, inc)
		}
		if r := eval("rate(checkout_failures[1m])", start.Add(at)); r <= 0 {
			t.Errorf("rate = %v", r)
		}
	}
}

// TestNegativeCounterCreatesNoSeries: name:-1|c is refused, counted, and
// creates nothing (it used to create the series with 0, on /metrics and
// in storage); a good line for the same name then creates it.
func TestNegativeCounterCreatesNoSeries(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(Options{}, reg)
	w := NewTranslator(s, names.Empty(), nil, nil).NewWorker()
	feed(t, w, "refunds:-1|c", "refunds:-1|c|#shop:eu", "refunds:-2|c|@0.5")
	if n := s.Len(); n != 0 {
		t.Fatalf("%d series created by negative counters:\n%s", n, exposition(t, s))
	}
	if got := testutil.ToFloat64(s.metrics.Rejected.WithLabelValues(ReasonNegativeCount)); got != 3 {
		t.Fatalf("negative_counter = %v, want 3", got)
	}
	r := newRecorder()
	if n, _ := s.AppendTo(r, time.Now().UnixMilli()); n != 0 {
		t.Fatalf("%d samples stored", n)
	}
	feed(t, w, "refunds:3|c")
	if out := exposition(t, s); !strings.Contains(out, "refunds 3\n") {
		t.Fatalf("after a good line:\n%s", out)
	}
}

func TestStatsDLabelLimits(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := New(Options{MaxLabels: 4, MaxLabelNameLength: 10, MaxLabelValueLength: 8}, reg)
	w := NewTranslator(s, names.Empty(), nil, nil).NewWorker()
	var tags []string
	for i := range 5600 {
		tags = append(tags, fmt.Sprintf("t%d:v", i))
	}
	feed(t, w,
		"ok:1|c|#a:1,b:2,c:3",
		"many:1|c|#a:1,b:2,c:3,d:4",
		"huge:1|c|#"+strings.Join(tags, ","),
		"longvalue:1|c|#a:123456789",
		"longname:1|c|#abcdefghijk:1",
		"averyveryverylongname:1|c",
	)
	if out := exposition(t, s); s.Len() != 1 || !strings.Contains(out, `ok{a="1",b="2",c="3"} 1`) {
		t.Fatalf("%d series:\n%s", s.Len(), out)
	}
	for r, n := range map[string]float64{ReasonTooManyLabels: 2, ReasonLabelTooLong: 2, ReasonNameTooLong: 1} {
		if got := testutil.ToFloat64(s.metrics.Rejected.WithLabelValues(r)); got != n {
			t.Errorf("%s = %v, want %v", r, got, n)
		}
	}
}

// TestRefusalsByReason: the flush reports the storage's refusals by
// reason, the future guard's included.
func TestRefusalsByReason(t *testing.T) {
	st, err := cstorage.Open(cstorage.Options{Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := New(Options{}, nil)
	feed(t, NewTranslator(s, names.Empty(), nil, nil).NewWorker(), "a:1|g", "b:1|c")
	app := st.Appender(context.Background())
	_, err = s.AppendTo(app, time.Now().Add(3*time.Hour).UnixMilli())
	var re *RefusedError
	if !errors.As(err, &re) || re.Count != 2 || re.ByReason[cstorage.RefusedTooFarInFuture] != 2 {
		t.Fatalf("err %v (%+v)", err, re)
	}
	if !errors.Is(err, storage.ErrOutOfBounds) {
		t.Fatalf("%v is not an ErrOutOfBounds", err)
	}
	_ = app.Rollback()
}
