package graphite

import (
	"fmt"
	"strings"
	"testing"
)

// BenchmarkParsePathManyTags is a hostile tagged path (one pickle element
// can carry a path of megabytes): the cost per path must grow linearly
// with the number of tags, not with its square.
func BenchmarkParsePathManyTags(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		b.Run(fmt.Sprintf("tags=%d", n), func(b *testing.B) {
			var sb strings.Builder
			sb.WriteString("cpu.load")
			for i := range n {
				fmt.Fprintf(&sb, ";t%d=v%d", i, i)
			}
			path := []byte(sb.String())
			var p Point
			if err := p.ParsePath(path); err != nil {
				b.Fatal(err)
			}
			if len(p.Tags) != n {
				b.Fatalf("%d tags, want %d", len(p.Tags), n)
			}
			b.SetBytes(int64(len(path)))
			b.ReportAllocs()
			for b.Loop() {
				if err := p.ParsePath(path); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/tag")
		})
	}
}
