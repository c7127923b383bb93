package storage_test

import (
	"context"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/storage"

	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

func benchLabels(n int) []labels.Labels {
	ls := make([]labels.Labels, n)
	for i := range ls {
		ls[i] = labels.FromStrings("__name__", "carbon_"+strconv.Itoa(i%100)+"_points", "host", "host-"+strconv.Itoa(i/100), "dc", "dc1")
	}
	return ls
}

// BenchmarkAppend measures appending into the embedded TSDB (WAL on, as
// in production): 10 000 series, one commit per 10 000 samples. "refs"
// keeps the series reference from the previous append, as a long-lived
// ingestion worker does; "labels" looks each series up by its labels.
func BenchmarkAppend(b *testing.B) {
	for _, useRefs := range []bool{true, false} {
		name := "labels"
		if useRefs {
			name = "refs"
		}
		b.Run(name, func(b *testing.B) {
			st, err := cstorage.Open(cstorage.Options{Path: b.TempDir()})
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			ls := benchLabels(10000)
			refs := make([]storage.SeriesRef, len(ls))
			ts := time.Now().Add(-time.Hour).UnixMilli()
			b.ReportAllocs()
			b.ResetTimer()
			samples := 0
			for i := 0; i < b.N; i++ {
				app := st.Appender(context.Background())
				ts += 1000
				for j, l := range ls {
					ref := storage.SeriesRef(0)
					if useRefs {
						ref = refs[j]
					}
					r, err := app.Append(ref, l, ts, float64(i))
					if err != nil {
						b.Fatal(err)
					}
					refs[j] = r
				}
				if err := app.Commit(); err != nil {
					b.Fatal(err)
				}
				samples += len(ls)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(samples), "ns/sample")
			b.ReportMetric(float64(samples)/b.Elapsed().Seconds(), "samples/s")
		})
	}
}

// BenchmarkMemoryPerSeries reports the heap the TSDB head holds per
// active series (labels like Graphite's translated ones), measured after
// GC, with one sample per series and with 120 (a full head chunk, 30 min
// at 15 s).
func BenchmarkMemoryPerSeries(b *testing.B) {
	const n = 20000
	for _, perSeries := range []int{1, 120} {
		b.Run(strconv.Itoa(perSeries)+"_samples", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				st, err := cstorage.Open(cstorage.Options{Path: b.TempDir()})
				if err != nil {
					b.Fatal(err)
				}
				// The empty TSDB's fixed cost is not counted; a new
				// series' labels are.
				runtime.GC()
				var before runtime.MemStats
				runtime.ReadMemStats(&before)
				ls := benchLabels(n)
				b.StartTimer()
				refs := make([]storage.SeriesRef, n)
				ts := time.Now().Add(-time.Hour).UnixMilli()
				for k := range perSeries {
					app := st.Appender(context.Background())
					for j, l := range ls {
						r, err := app.Append(refs[j], l, ts+int64(k)*15000, float64(k*j))
						if err != nil {
							b.Fatal(err)
						}
						refs[j] = r
					}
					if err := app.Commit(); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				refs, ls = nil, nil
				runtime.GC()
				var after runtime.MemStats
				runtime.ReadMemStats(&after)
				b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/n, "bytes/series")
				runtime.KeepAlive(st)
				_ = st.Close()
			}
		})
	}
}
