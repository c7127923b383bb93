package carbon

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/copenhagen-obs/copenhagen/ingest/graphite"
)

// BenchmarkPipeline is what one TCP connection does per 64 KiB read:
// split and parse the lines, translate the (cached) paths, append to a
// real TSDB and commit. ns/point is the cost of a point end to end,
// without the network.
func BenchmarkPipeline(b *testing.B) {
	st := teststorage.New(b)
	tr := New(st, nil, Options{}, nil)
	w := tr.NewWorker()
	p := graphite.NewProcessor(w, nil, graphite.ProcessorOptions{})
	const names = 1000
	start := time.Now().Add(-time.Hour).Unix()
	var buf bytes.Buffer
	round := int64(0)
	block := func() []byte {
		buf.Reset()
		for i := range 1500 {
			fmt.Fprintf(&buf, "servers.web%03d.cpu.load %d %d\n", i%names, i, start+round)
			if i%names == names-1 {
				round++
			}
		}
		round++
		return buf.Bytes()
	}
	blocks := make([][]byte, 64)
	for i := range blocks {
		blocks[i] = bytes.Clone(block())
	}
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if n > 0 && n%len(blocks) == 0 {
			// Move every block one window later: samples must stay in order.
			b.StopTimer()
			for i := range blocks {
				blocks[i] = bytes.Clone(block())
			}
			b.StartTimer()
		}
		p.Process(blocks[n%len(blocks)])
		p.FlushStats()
		w.Flush()
		n++
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*1500), "ns/point")
}
