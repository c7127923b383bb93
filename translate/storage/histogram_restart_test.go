package storage_test

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/prometheus/tsdb"

	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

// TestNativeHistogramsSurviveRestart: native histograms committed to the
// embedded TSDB are all there, bucket for bucket, after the storage is
// closed and opened again (replayed from the WAL and the head's chunks),
// and again after the head was compacted into a block (read from the
// block's chunks); the p90 of the timer is the same from both.
func TestNativeHistogramsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	start := time.Now().Truncate(time.Minute).Add(-40 * time.Minute)
	st := open(t, cstorage.Options{Path: dir, Registerer: prometheus.NewRegistry()})
	d := appendHistograms(t, st, start, 80) // 20 minutes
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	at := d.end().Add(time.Minute)
	sel := `histogram_quantile(0.9, rate(request_duration_seconds{instance="a"}[1m]))`

	st = open(t, cstorage.Options{Path: dir, Registerer: prometheus.NewRegistry()})
	api := serveAPI(t, st)
	compareHistograms(t, "after reopening (WAL replay)", rawHistograms(t, api, "request_duration_seconds", at), d.want)
	if got := scalarAt(t, api, sel, d.end()); !near(got, wantTimerP90) {
		t.Errorf("after reopening: p90 = %v, want %v", got, wantTimerP90)
	}
	if n := len(st.TSDB().Blocks()); n != 0 {
		t.Fatalf("%d blocks before the compaction", n)
	}
	db := st.TSDB()
	if err := db.CompactHead(tsdb.NewRangeHead(db.Head(), start.UnixMilli(), d.end().UnixMilli())); err != nil {
		t.Fatal(err)
	}
	blocks := db.Blocks()
	if len(blocks) != 1 || blocks[0].Meta().Stats.NumHistogramSamples != uint64(len(d.want)) {
		t.Fatalf("after CompactHead: %d blocks, stats %+v; want one block with %d histogram samples", len(blocks), blocks[0].Meta().Stats, len(d.want))
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	st = open(t, cstorage.Options{Path: dir, Registerer: prometheus.NewRegistry()})
	defer st.Close()
	if n := st.TSDB().Head().NumSeries(); n != 0 {
		t.Errorf("the head holds %d series after the compaction; the test would not read the block", n)
	}
	api = serveAPI(t, st)
	compareHistograms(t, "from the compacted block", rawHistograms(t, api, "request_duration_seconds", at), d.want)
	if got := scalarAt(t, api, sel, d.end()); !near(got, wantTimerP90) {
		t.Errorf("from the block: p90 = %v, want %v", got, wantTimerP90)
	}
}
