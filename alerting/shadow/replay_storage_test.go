package shadow

import (
	"context"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/rules"
	"github.com/prometheus/prometheus/tsdb"
)

// TestReplayStorageQueriedRepeatedly: the replay reads Copenhagen's
// storage read-only while Copenhagen runs and writes it. Every step
// queries it several times; each query must see the stored samples (the
// first replay steps showed promql_error for every check: each
// DBReadOnly.Querier re-read the WAL into a new head and hard-linked the
// head chunk files again, which fails with "file exists" once the live
// head has m-mapped chunks).
func TestReplayStorageQueriedRepeatedly(t *testing.T) {
	dir := t.TempDir()
	live, err := tsdb.Open(dir, nil, nil, tsdb.DefaultOptions(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	lbls := labels.FromStrings("__name__", "queue_depth", "job", "t")
	// 600 samples: several full chunks, m-mapped to chunks_head/.
	for i := 0; i < 600; i++ {
		app := live.Appender(context.Background())
		if _, err := app.Append(0, lbls, base.Add(time.Duration(i)*time.Second).UnixMilli(), float64(i)); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	// What the live head does every minute (tsdb DB.run).
	live.ForceHeadMMap()
	if files, _ := os.ReadDir(filepath.Join(dir, "chunks_head")); len(files) == 0 {
		t.Fatal("the live head has no m-mapped chunk files: the test would not exercise them")
	}

	q, closeQ, err := openReplayStorage(dir, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer closeQ()
	engine := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	qf := rules.EngineQueryFunc(engine, q)
	for i := 0; i < 20; i++ {
		ts := base.Add(time.Duration(30*i) * time.Second)
		vec, err := qf(context.Background(), `queue_depth`, ts)
		if err != nil {
			t.Fatalf("query %d at %s: %v", i, ts, err)
		}
		if len(vec) != 1 || vec[0].F != float64(30*i) {
			t.Fatalf("query %d at %s: %v, want %d", i, ts, vec, 30*i)
		}
	}
	// Samples written after the replay opened the storage are not seen:
	// the replay reads one consistent snapshot.
	app := live.Appender(context.Background())
	if _, err := app.Append(0, lbls, base.Add(601*time.Second).UnixMilli(), math.Pi); err != nil {
		t.Fatal(err)
	}
	must(t, app.Commit())
	vec, err := qf(context.Background(), `queue_depth`, base.Add(601*time.Second))
	if err != nil || len(vec) != 1 || vec[0].F != 599 {
		t.Fatalf("after a later write: %v %v, want the snapshot's last sample 599", vec, err)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
