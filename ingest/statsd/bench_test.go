package statsd

import (
	"bytes"
	"fmt"
	"log/slog"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

var benchLines = []struct {
	name string
	line string
}{
	{"dogstatsd", "checkout.request.duration:12.5|ms|@0.5|#env:prod,service:checkout,region:eu-west-1,host:web-12"},
	{"etsy", "stats.api.get.requests:1|c"},
	{"influx", "api.requests,env=prod,host=web-12,region=eu-west-1:1|c"},
	{"packed", "checkout.request.duration:12.5:13.1:9.8:22.0:17.3|ms|#env:prod,service:checkout"},
	{"gauge_relative", "queue.depth.jobs:-3|g"},
}

func BenchmarkParse(b *testing.B) {
	for _, bl := range benchLines {
		b.Run(bl.name, func(b *testing.B) {
			line := []byte(bl.line)
			var l Line
			if err := l.Parse(line); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(line)))
			b.ReportAllocs()
			for b.Loop() {
				if err := l.Parse(line); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkTags(b *testing.B) {
	var l Line
	if err := l.Parse([]byte(benchLines[0].line)); err != nil {
		b.Fatal(err)
	}
	dst := make([]Tag, 0, 8)
	b.ReportAllocs()
	for b.Loop() {
		dst, _ = l.Tags(dst[:0])
	}
}

// benchDatagram is a realistic 1400-byte datagram: about 40 lines of the
// mix a busy service sends (counters, timers with tags and sample rates,
// gauges, a few packed timers), over many distinct names.
func benchDatagram() []byte {
	var buf bytes.Buffer
	for i := 0; ; i++ {
		var ln string
		switch i % 5 {
		case 0:
			ln = fmt.Sprintf("app.svc%d.requests:1|c", i*37%1000)
		case 1:
			ln = fmt.Sprintf("app.svc%d.latency:%d.%d|ms|@0.5|#env:prod,dc:ams", i*37%1000, i*7%400, i%10)
		case 2:
			ln = fmt.Sprintf("app.svc%d.queue:%d|g", i*37%1000, i*13%100)
		case 3:
			ln = fmt.Sprintf("app.svc%d.errors:1|c|#code:5%02d", i*37%1000, i%12)
		case 4:
			ln = fmt.Sprintf("app.svc%d.db:1.5:2.25:%d|ms", i*37%1000, i%50)
		}
		if buf.Len()+len(ln)+1 > 1400 {
			break
		}
		buf.WriteString(ln)
		buf.WriteByte('\n')
	}
	return buf.Bytes()
}

func BenchmarkProcessorDatagram(b *testing.B) {
	d := benchDatagram()
	lines := bytes.Count(d, []byte("\n"))
	sink := &countingSink{}
	p := NewProcessor(sink, nil, ProcessorOptions{Logger: slog.New(slog.DiscardHandler)})
	p.Process(d)
	if sink.n != lines {
		b.Fatalf("%d of %d lines accepted", sink.n, lines)
	}
	b.SetBytes(int64(len(d)))
	b.ReportAllocs()
	for b.Loop() {
		p.Process(d)
		p.FlushStats()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*lines), "ns/line")
	b.ReportMetric(float64(lines), "lines/datagram")
}

// BenchmarkExporterLineToEvents is the baseline: statsd_exporter's parser
// on the same lines (its counters created once, as in the exporter).
func BenchmarkExporterLineToEvents(b *testing.B) {
	p := newExporterParser()
	errs := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "e"}, []string{"reason"})
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "c"})
	logger := slog.New(slog.DiscardHandler)
	for _, bl := range benchLines {
		b.Run(bl.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				p.LineToEvents(bl.line, *errs, c, c, c, logger)
			}
		})
	}
}
