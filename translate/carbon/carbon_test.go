package carbon

import (
	"context"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/copenhagen-obs/copenhagen/ingest/graphite"
	"github.com/copenhagen-obs/copenhagen/translate/names"
)

// feed parses plaintext lines through a real Processor into w, then
// flushes (commits), as one read of the listener does.
func feed(t *testing.T, w *Worker, lines string) {
	t.Helper()
	p := graphite.NewProcessor(w, nil, graphite.ProcessorOptions{})
	p.Process([]byte(lines))
	p.FlushStats()
	w.Flush()
}

type sample struct {
	series string
	t      int64
	v      float64
}

// query returns every stored sample of the series matching ms.
func query(t *testing.T, st storage.Queryable, ms ...*labels.Matcher) []sample {
	t.Helper()
	q, err := st.Querier(math.MinInt64/2, math.MaxInt64/2)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	if len(ms) == 0 {
		ms = []*labels.Matcher{labels.MustNewMatcher(labels.MatchRegexp, labels.MetricName, ".+")}
	}
	ss := q.Select(context.Background(), true, nil, ms...)
	var out []sample
	for ss.Next() {
		s := ss.At()
		it := s.Iterator(nil)
		for it.Next() != 0 {
			ts, v := it.At()
			out = append(out, sample{s.Labels().String(), ts, v})
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].series != out[j].series {
			return out[i].series < out[j].series
		}
		return out[i].t < out[j].t
	})
	return out
}

func dropped(tr *Translator, reason string) float64 { return testutil.ToFloat64(tr.dropped[reason]) }

func TestPointsStoredAtTheirTimestamps(t *testing.T) {
	st := teststorage.New(t)
	m, err := names.Load(filepath.Join("testdata", "mapping.yml"))
	if err != nil {
		t.Fatal(err)
	}
	tr := New(st, m, Options{}, prometheus.NewRegistry())
	w := tr.NewWorker()
	base := time.Now().Add(-time.Hour).Unix() / 10 * 10
	ts := func(d int64) string { return " " + formatInt(base+d) + "\n" }
	feed(t, w, "a.b-c 1"+ts(0)+
		"a.b-c 2"+ts(10)+
		"job:req:rate5m 0.5"+ts(0)+
		"cpu.load;host=web01;data-center=par 0.25"+ts(0)+
		"cpu.load;host=web02;__name__=x 0.75"+ts(0)+
		"servers.web01.cpu.user 42"+ts(0)+
		"servers.web01.cpu.user;host=spoofed 43"+ts(10)+
		"debug.noise 1"+ts(0)+
		"counters.hits 5"+ts(0))
	ms := base * 1000
	want := []sample{
		{`{__name__="a_b_c"}`, ms, 1},
		{`{__name__="a_b_c"}`, ms + 10000, 2},
		{`{__name__="counters_hits"}`, ms, 5}, // counter-only rule: escaped instead
		{`{__name__="cpu_load", data_center="par", host="web01"}`, ms, 0.25},
		{`{__name__="cpu_load", host="web02", tag__name__="x"}`, ms, 0.75},
		{`{__name__="job:req:rate5m"}`, ms, 0.5},
		{`{__name__="server_cpu", host="web01", mode="user"}`, ms, 42},
		{`{__name__="server_cpu", host="web01", mode="user"}`, ms + 10000, 43}, // the rule's label wins
	}
	got := query(t, st)
	if !equalSamples(got, want) {
		t.Fatalf("stored:\n%v\nwant:\n%v", got, want)
	}
	if dropped(tr, ReasonMappingDrop) != 1 {
		t.Errorf("mapping_drop = %v", dropped(tr, ReasonMappingDrop))
	}
	if n := testutil.ToFloat64(tr.appended); n != 8 {
		t.Errorf("appended = %v, want 8", n)
	}
}

func formatInt(n int64) string { return strconv.FormatInt(n, 10) }

func equalSamples(a, b []sample) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestStorageRefusalsAreCountedNotFatal(t *testing.T) {
	st := teststorage.New(t)
	tr := New(st, nil, Options{}, nil)
	w := tr.NewWorker()
	now := time.Now().Unix()
	feed(t, w, "x 1 "+formatInt(now)+"\n")
	// Out of order within the series, a duplicate timestamp with another
	// value, a point older than the head accepts, and good points around.
	feed(t, w, "x 2 "+formatInt(now-60)+"\n"+
		"x 3 "+formatInt(now)+"\n"+
		"y 1 "+formatInt(now-48*3600)+"\n"+
		"x 4 "+formatInt(now+10)+"\n")
	if got := query(t, st); len(got) != 2 || got[1].v != 4 {
		t.Fatalf("stored %v", got)
	}
	for r, n := range map[string]float64{ReasonOutOfOrder: 1, ReasonDuplicate: 1, ReasonTooOld: 1} {
		if got := dropped(tr, r); got != n {
			t.Errorf("dropped{%s} = %v, want %v", r, got, n)
		}
	}
}

func TestSeriesLimit(t *testing.T) {
	st := teststorage.New(t)
	clock := time.Now()
	tr := New(st, nil, Options{MaxSeries: 2, SeriesIdle: time.Minute, Now: func() time.Time { return clock }}, nil)
	w1, w2 := tr.NewWorker(), tr.NewWorker()
	now := clock.Unix()
	feed(t, w1, "a 1 "+formatInt(now)+"\nb 1 "+formatInt(now)+"\n")
	feed(t, w2, "c 1 "+formatInt(now)+"\nc 2 "+formatInt(now+1)+"\na 2 "+formatInt(now+1)+"\n")
	if dropped(tr, ReasonSeriesLimit) != 2 || tr.Series() != 2 {
		t.Fatalf("series_limit = %v, series = %d", dropped(tr, ReasonSeriesLimit), tr.Series())
	}
	// Within the same second, a refused path does not ask again.
	feed(t, w2, "c 3 "+formatInt(now+2)+"\n")
	if dropped(tr, ReasonSeriesLimit) != 3 {
		t.Fatalf("series_limit = %v", dropped(tr, ReasonSeriesLimit))
	}
	// Once a and b are idle, c gets their place.
	clock = clock.Add(2 * time.Minute)
	tr.Sweep(clock)
	if tr.Series() != 0 {
		t.Fatalf("%d series after the sweep", tr.Series())
	}
	feed(t, w2, "c 4 "+formatInt(now+3)+"\n")
	if got := query(t, st, labels.MustNewMatcher(labels.MatchEqual, labels.MetricName, "c")); len(got) != 1 || got[0].v != 4 {
		t.Fatalf("c: %v", got)
	}
}

func TestNoStorage(t *testing.T) {
	tr := New(nil, nil, Options{}, nil)
	w := tr.NewWorker()
	feed(t, w, "a 1 1700000000\nb 2 1700000000\n")
	if dropped(tr, ReasonNoStorage) != 2 {
		t.Fatalf("no_storage = %v", dropped(tr, ReasonNoStorage))
	}
}

func TestSetMapperRetranslates(t *testing.T) {
	st := teststorage.New(t)
	tr := New(st, nil, Options{}, nil)
	w := tr.NewWorker()
	now := time.Now().Unix()
	feed(t, w, "app.requests 1 "+formatInt(now)+"\n")
	m, err := names.Parse([]byte("mappings:\n- match: app.*\n  name: app_total\n  labels: {kind: $1}\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	tr.SetMapper(m)
	feed(t, w, "app.requests 2 "+formatInt(now+1)+"\n")
	got := query(t, st)
	if len(got) != 2 || got[0].series != `{__name__="app_requests"}` || got[1].series != `{__name__="app_total", kind="requests"}` {
		t.Fatalf("got %v", got)
	}
}

func TestWorkerCachedPathAllocatesNothing(t *testing.T) {
	st := teststorage.New(t)
	tr := New(st, nil, Options{}, nil)
	w := tr.NewWorker()
	var p graphite.Point
	line := []byte("servers.web01.cpu.load;dc=par 1 1700000000")
	ts := time.Now().UnixMilli()
	if err := p.ParseLine(line, ts); err != nil {
		t.Fatal(err)
	}
	w.Point(&p)
	n := testing.AllocsPerRun(100, func() {
		p.Timestamp++
		w.Point(&p)
	})
	w.Flush()
	// The TSDB appender itself appends to its batch slices (amortised);
	// the translation must add nothing per point.
	if n > 0.1 {
		t.Fatalf("allocs per point = %v", n)
	}
}
