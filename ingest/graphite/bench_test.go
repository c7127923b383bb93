package graphite

import (
	"bytes"
	"fmt"
	"os"
	"testing"
)

var benchLines = []struct{ name, line string }{
	{"plain", "servers.web01.cpu.load.shortterm 0.05 1700000000"},
	{"integer", "stats.counts.api.requests 1234 1700000000"},
	{"tagged", "cpu.load;host=web01;dc=par;env=prod 0.5 1700000000"},
	{"exponent", "disk.bytes.free 1.5e+12 1700000000.25"},
}

// BenchmarkParseLine is the plaintext parser alone: ns per line, and it
// must report 0 allocs/op.
func BenchmarkParseLine(b *testing.B) {
	for _, bl := range benchLines {
		b.Run(bl.name, func(b *testing.B) {
			line := []byte(bl.line)
			var p Point
			if err := p.ParseLine(line, 0); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				if err := p.ParseLine(line, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkProcess is a 64 KiB block as the TCP listener hands it over:
// splitting, parsing and counting, with a sink that does nothing.
func BenchmarkProcess(b *testing.B) {
	var buf bytes.Buffer
	lines := 0
	for buf.Len() < 64<<10-100 {
		fmt.Fprintf(&buf, "servers.web%02d.cpu.load.shortterm %d.5 %d\n", lines%50, lines, 1700000000+lines)
		lines++
	}
	block := buf.Bytes()
	p := NewProcessor(sinkFunc(func(*Point) {}), nil, ProcessorOptions{})
	b.SetBytes(int64(len(block)))
	b.ReportAllocs()
	for b.Loop() {
		p.Process(block)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
}

func BenchmarkPickleDecode(b *testing.B) {
	payload, err := os.ReadFile("testdata/pickle/many.p2.pickle")
	if err != nil {
		b.Fatal(err)
	}
	var d PickleDecoder
	items, _ := d.Decode(payload)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		_, _ = d.Decode(payload)
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(items)), "ns/point")
}
