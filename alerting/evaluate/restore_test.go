package evaluate

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/storage"
	"github.com/prometheus/prometheus/tsdb/chunkenc"
	"github.com/prometheus/prometheus/util/teststorage"
)

type sample struct {
	t int64
	f float64
}

func selectAll(t *testing.T, q storage.Querier, ms ...*labels.Matcher) map[string][]sample {
	t.Helper()
	out := map[string][]sample{}
	ss := q.Select(context.Background(), false, nil, ms...)
	for ss.Next() {
		s := ss.At()
		it := s.Iterator(nil)
		for it.Next() == chunkenc.ValFloat {
			ts, f := it.At()
			out[s.Labels().String()] = append(out[s.Labels().String()], sample{ts, f})
		}
	}
	if err := ss.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// The remote restore querier returns what the local querier returns for
// the selector the rules manager restores `for` state with, over the
// querier's range, through a Prometheus API (Prometheus's own handlers).
func TestRemoteQueryableMatchesLocal(t *testing.T) {
	st := teststorage.New(t)
	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	now := time.Now().Truncate(time.Second)
	app := st.Appender(context.Background())
	for _, s := range []string{`ALERTS_FOR_STATE{alertname="A",x="1"}`, `ALERTS_FOR_STATE{alertname="A",x="2"}`, `ALERTS_FOR_STATE{alertname="B"}`} {
		m, _ := labelsOf(s)
		for k := range 30 {
			ts := now.Add(-time.Duration(30-k) * time.Second)
			if _, err := app.Append(0, m, ts.UnixMilli(), float64(now.Add(-time.Hour).Unix())); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := app.Commit(); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promAPI(t, st, eng))
	defer srv.Close()
	remote, err := RemoteQueryable(srv.URL, nil, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	mint, maxt := now.Add(-10*time.Second).UnixMilli(), now.UnixMilli()
	ms := []*labels.Matcher{labels.MustNewMatcher(labels.MatchEqual, "__name__", "ALERTS_FOR_STATE"), labels.MustNewMatcher(labels.MatchEqual, "alertname", "A")}
	lq, _ := st.Querier(mint, maxt)
	rq, _ := remote.Querier(mint, maxt)
	want, got := selectAll(t, lq, ms...), selectAll(t, rq, ms...)
	if len(want) != 2 || len(got) != len(want) {
		t.Fatalf("series: local %d, remote %d", len(want), len(got))
	}
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) || g[len(g)-1] != w[len(w)-1] {
			t.Errorf("%s: local %v, remote %v", k, w, g)
		}
	}
	// Merged with an empty local storage (a fresh pod): the remote data.
	empty := teststorage.New(t)
	mq, err := MergeQueryables(empty, remote).Querier(mint, maxt)
	if err != nil {
		t.Fatal(err)
	}
	if got := selectAll(t, mq, ms...); len(got) != 2 {
		t.Errorf("merged: %d series, want 2", len(got))
	}
	// An unreachable API is an error, not "nothing to restore".
	bad, _ := RemoteQueryable("http://127.0.0.1:1", nil, time.Second)
	bq, _ := bad.Querier(mint, maxt)
	if ss := bq.Select(context.Background(), false, nil, ms...); ss.Err() == nil {
		t.Error("no error from an unreachable query API")
	}
}

// A dns+ URL sends to every address its name resolves to ("localhost":
// 127.0.0.1 here), and keeps the scheme and path.
func TestAlertmanagersDNS(t *testing.T) {
	var mu sync.Mutex
	var paths []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var alerts []json.RawMessage
		json.NewDecoder(r.Body).Decode(&alerts)
		mu.Lock()
		paths = append(paths, r.URL.Path)
		mu.Unlock()
	}))
	defer srv.Close()
	port := srv.Listener.Addr().(*net.TCPAddr).Port
	ams := NewAlertmanagers(0, nil, nil)
	apply, err := ams.Prepare([]AlertmanagerTarget{{URLs: []string{"dns+http://localhost:" + strconv.Itoa(port) + "/prefix"}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := apply(); err != nil {
		t.Fatal(err)
	}
	go ams.Run()
	defer ams.Stop()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ams.Send(&notifier.Alert{Labels: labels.FromStrings("alertname", "X")})
		mu.Lock()
		n := len(paths)
		mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no alert reached the DNS-resolved Alertmanager; active: %v", ams.Alertmanagers())
		}
		time.Sleep(200 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if paths[0] != "/prefix/api/v2/alerts" {
		t.Errorf("path %s", paths[0])
	}
	if _, err := ams.Prepare([]AlertmanagerTarget{{URLs: []string{"dns+http://localhost/x"}}}); err == nil {
		t.Error("a dns+ URL without a port was accepted")
	}
}
