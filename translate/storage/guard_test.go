package storage_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// TestFutureSamplesDoNotMoveTheHead is issue 9 item 1 at the storage seam:
// a sample hours ahead of the wall clock (a client sending local time as
// epoch) is refused and counted, the head stays at the present, and the
// samples of the present are still accepted afterwards, in both modes.
func TestFutureSamplesDoNotMoveTheHead(t *testing.T) {
	for _, mode := range []string{cstorage.ModeServer, cstorage.ModeAgent} {
		t.Run(mode, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			st := open(t, cstorage.Options{Path: t.TempDir(), Mode: mode, Registerer: reg, MaxFuture: 10 * time.Minute})
			defer st.Close()
			ls := labels.FromStrings("__name__", "clock")
			now := time.Now()
			app := st.Appender(context.Background())
			if _, err := app.Append(0, ls, now.Add(-time.Minute).UnixMilli(), 1); err != nil {
				t.Fatal(err)
			}
			for _, ahead := range []time.Duration{2 * time.Hour, 6 * time.Hour} {
				_, err := app.Append(0, ls, now.Add(ahead).UnixMilli(), 2)
				if !errors.Is(err, cstorage.ErrTooFarInFuture) || !errors.Is(err, storage.ErrOutOfBounds) {
					t.Fatalf("%v ahead: err %v, want ErrTooFarInFuture (an ErrOutOfBounds)", ahead, err)
				}
				if r, ok := cstorage.RefusalReason(err); !ok || r != cstorage.RefusedTooFarInFuture {
					t.Fatalf("reason %q %v", r, ok)
				}
			}
			// Within the bound: accepted (clocks drift a little).
			if _, err := app.Append(0, ls, now.Add(5*time.Minute).UnixMilli(), 3); err != nil {
				t.Fatal(err)
			}
			if _, err := app.AppendHistogram(0, labels.FromStrings("__name__", "h"), now.Add(3*time.Hour).UnixMilli(), nil, nil); !errors.Is(err, cstorage.ErrTooFarInFuture) {
				t.Fatalf("histogram: %v", err)
			}
			if err := app.Commit(); err != nil {
				t.Fatal(err)
			}
			if db := st.TSDB(); db != nil {
				if maxt := db.Head().MaxTime(); maxt > now.Add(10*time.Minute).UnixMilli() {
					t.Fatalf("head moved to %v", time.UnixMilli(maxt))
				}
				// The present is still accepted, in order.
				app = st.Appender(context.Background())
				if _, err := app.Append(0, ls, now.Add(6*time.Minute).UnixMilli(), 4); err != nil {
					t.Fatal(err)
				}
				if err := app.Commit(); err != nil {
					t.Fatal(err)
				}
				if n := count(t, st, "clock", 0, now.Add(time.Hour).UnixMilli()); n != 3 {
					t.Fatalf("%d samples stored, want 3", n)
				}
			}
			if got := testutil.ToFloat64(mustCounter(t, reg, "copenhagen_storage_samples_refused_total", "too_far_in_future")); got != 3 {
				t.Fatalf("refused too_far_in_future = %v, want 3", got)
			}
		})
	}
}

// TestRefusalsCountedByReason checks that the storage's own refusals are
// counted at the seam with the reason a dashboard shows.
func TestRefusalsCountedByReason(t *testing.T) {
	reg := prometheus.NewRegistry()
	st := open(t, cstorage.Options{Path: t.TempDir(), Registerer: reg})
	defer st.Close()
	ls := labels.FromStrings("__name__", "x")
	now := time.Now().UnixMilli()
	app := st.Appender(context.Background())
	app.Append(0, ls, now, 1)
	must(t, app.Commit())
	app = st.Appender(context.Background())
	if _, err := app.Append(0, ls, now, 2); !errors.Is(err, storage.ErrDuplicateSampleForTimestamp) {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := app.Append(0, ls, now-time.Hour.Milliseconds(), 2); !errors.Is(err, storage.ErrOutOfOrderSample) {
		t.Fatalf("out of order: %v", err)
	}
	must(t, app.Commit())
	for reason, want := range map[string]float64{"duplicate": 1, "out_of_order": 1, "too_old": 0, "too_far_in_future": 0} {
		if got := testutil.ToFloat64(mustCounter(t, reg, "copenhagen_storage_samples_refused_total", reason)); got != want {
			t.Errorf("%s = %v, want %v", reason, got, want)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// mustCounter finds the counter with the given reason label in reg.
func mustCounter(t *testing.T, reg *prometheus.Registry, name, reason string) prometheus.Collector {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			for _, l := range m.Label {
				if l.GetName() == "reason" && l.GetValue() == reason {
					c := prometheus.NewCounter(prometheus.CounterOpts{Name: name})
					c.Add(m.GetCounter().GetValue())
					return c
				}
			}
		}
	}
	t.Fatalf("%s{reason=%q} not registered", name, reason)
	return nil
}

// TestRuleOutputGuarded: the rules manager appends through AppenderV2;
// rule output stamped hours ahead (an evaluation at a wrong clock) is
// refused and counted like any other sample, and the present is kept.
func TestRuleOutputGuarded(t *testing.T) {
	reg := prometheus.NewRegistry()
	st := open(t, cstorage.Options{Path: t.TempDir(), Registerer: reg, MaxFuture: 10 * time.Minute})
	defer st.Close()
	ls := labels.FromStrings("__name__", "seyren_check_value")
	now := time.Now()
	app := st.AppenderV2(context.Background())
	if _, err := app.Append(0, ls, 0, now.Add(3*time.Hour).UnixMilli(), 1, nil, nil, storage.AppendV2Options{}); !errors.Is(err, cstorage.ErrTooFarInFuture) {
		t.Fatalf("3h ahead: err %v, want ErrTooFarInFuture", err)
	}
	if _, err := app.Append(0, ls, 0, now.UnixMilli(), 2, nil, nil, storage.AppendV2Options{}); err != nil {
		t.Fatal(err)
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(mustCounter(t, reg, "copenhagen_storage_samples_refused_total", cstorage.RefusedTooFarInFuture)); got != 1 {
		t.Fatalf("refused too_far_in_future = %v, want 1", got)
	}
	if maxt := st.TSDB().Head().MaxTime(); maxt != now.UnixMilli() {
		t.Fatalf("head max time %v, want the present sample's %v", maxt, now.UnixMilli())
	}
}
