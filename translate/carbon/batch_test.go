package carbon

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/util/teststorage"

	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// TestRefusalsInsideOneBatchAreCounted is issue 9 item 6: a duplicate
// timestamp or an out-of-order point in the same read as the first point
// of its series used to pass Append (the TSDB checks those only at
// Commit), be dropped at Commit without a word, and be counted as
// appended.
func TestRefusalsInsideOneBatchAreCounted(t *testing.T) {
	st := teststorage.New(t) // no out-of-order window
	tr := New(st, nil, Options{}, nil)
	w := tr.NewWorker()
	now := time.Now().Unix()
	feed(t, w, strings.Join([]string{
		"z 1 " + formatInt(now),
		"z 2 " + formatInt(now), // duplicate, other value
		"z 1 " + formatInt(now), // same value again: stored once, not an error
		"z 3 " + formatInt(now-60),
		"z 4 " + formatInt(now+1),
		// The same series under two spellings of its tags.
		"t;a=1;b=2 1 " + formatInt(now),
		"t;b=2;a=1 2 " + formatInt(now),
	}, "\n")+"\n")
	got := query(t, st)
	want := []sample{
		{`{__name__="t", a="1", b="2"}`, now * 1000, 1},
		{`{__name__="z"}`, now * 1000, 1},
		{`{__name__="z"}`, (now + 1) * 1000, 4},
	}
	if len(got) != len(want) {
		t.Fatalf("stored %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("stored %v, want %v", got, want)
		}
	}
	for r, n := range map[string]float64{ReasonDuplicate: 2, ReasonOutOfOrder: 1} {
		if got := dropped(tr, r); got != n {
			t.Errorf("dropped{%s} = %v, want %v", r, got, n)
		}
	}
	// Appended counts what was stored (the idempotent same-value
	// duplicate included, as the TSDB accepts it).
	if got := testutil.ToFloat64(tr.appended); got != 4 {
		t.Errorf("appended = %v, want 4", got)
	}
}

func TestLabelLimits(t *testing.T) {
	st := teststorage.New(t)
	tr := New(st, nil, Options{MaxLabels: 3, MaxLabelNameLength: 8, MaxLabelValueLength: 5}, prometheus.NewRegistry())
	w := tr.NewWorker()
	now := formatInt(time.Now().Unix())
	feed(t, w, strings.Join([]string{
		"ok;a=1;b=2 1 " + now,
		"many;a=1;b=2;c=3 1 " + now,
		"longvalue;a=123456 1 " + now,
		"longname;abcdefghi=1 1 " + now,
		"ok5;a=12345 1 " + now,
		"dup;a=1;a=2;b=3 1 " + now, // a repeated tag is one label
	}, "\n")+"\n")
	var names []string
	for _, s := range query(t, st) {
		names = append(names, s.series)
	}
	if got := strings.Join(names, " "); got != `{__name__="dup", a="2", b="3"} {__name__="ok", a="1", b="2"} {__name__="ok5", a="12345"}` {
		t.Fatalf("stored %s", got)
	}
	for r, n := range map[string]float64{ReasonTooManyLabels: 1, ReasonLabelValueTooLong: 1, ReasonLabelNameTooLong: 1} {
		if got := dropped(tr, r); got != n {
			t.Errorf("dropped{%s} = %v, want %v", r, got, n)
		}
	}
	// A huge tagged path is refused before its labels are built.
	var sb strings.Builder
	sb.WriteString("huge")
	for i := range 50000 {
		sb.WriteString(";t" + formatInt(int64(i)) + "=v")
	}
	feed(t, w, sb.String()+" 1 "+now+"\n")
	if got := dropped(tr, ReasonTooManyLabels); got != 2 {
		t.Errorf("too_many_labels = %v after the huge path", got)
	}
}

// TestStorageGuardRefusalIsCounted feeds a point hours ahead past the
// ingestion bound (none is set here): the storage seam refuses it and
// the worker counts it under its own reason; the next point is stored.
func TestStorageGuardRefusalIsCounted(t *testing.T) {
	st, err := cstorage.Open(cstorage.Options{Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tr := New(st, nil, Options{}, nil)
	w := tr.NewWorker()
	now := time.Now().Unix()
	feed(t, w, "f 1 "+formatInt(now+2*3600)+"\nf 2 "+formatInt(now)+"\n")
	if got := query(t, st); len(got) != 1 || got[0].v != 2 {
		t.Fatalf("stored %v", got)
	}
	if got := dropped(tr, ReasonTooFarInFuture); got != 1 {
		t.Fatalf("too_far_in_future = %v", got)
	}
}
