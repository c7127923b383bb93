package series

import (
	"bufio"
	"bytes"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/statsd_exporter/pkg/event"
	"github.com/prometheus/statsd_exporter/pkg/exporter"
	"github.com/prometheus/statsd_exporter/pkg/line"
	"github.com/prometheus/statsd_exporter/pkg/mapper"

	"github.com/copenhagen-obs/copenhagen/ingest/statsd"
	"github.com/copenhagen-obs/copenhagen/translate/names"
)

func readTraffic(t *testing.T, file string) []string {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		out = append(out, l)
	}
	return out
}

// statsdExporterSeries runs lines through statsd_exporter's own parser and
// exporter, as its main.go wires them, and returns what its registry shows.
func statsdExporterSeries(t *testing.T, mapping []byte, lines []string) map[string]*dto.MetricFamily {
	t.Helper()
	reg := prometheus.NewRegistry()
	m := &mapper.MetricMapper{}
	if err := m.InitFromYAMLString(string(mapping)); err != nil {
		t.Fatal(err)
	}
	counter := func(n string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: n, Help: n})
	}
	vec := func(n string, l ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: n, Help: n}, l)
	}
	logger := slog.New(slog.DiscardHandler)
	ex := exporter.NewExporter(reg, m, logger, vec("actions", "action"), counter("unmapped"), vec("errors", "reason"),
		vec("events", "type"), vec("conflicts", "type", "name"), prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "n", Help: "n"}, []string{"type"}))
	p := line.NewParser()
	p.EnableDogstatsdParsing()
	p.EnableInfluxdbParsing()
	p.EnableLibratoParsing()
	p.EnableSignalFXParsing()
	ch := make(chan event.Events, len(lines))
	for _, l := range lines {
		ch <- p.LineToEvents(l, *vec("sample_errors", "reason"), counter("s"), counter("te"), counter("tr"), logger)
	}
	close(ch)
	ex.Listen(ch)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("statsd_exporter gather: %v", err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		out[mf.GetName()] = mf
	}
	return out
}

func copenhagenSeries(t *testing.T, mapping []byte, lines []string) map[string]*dto.MetricFamily {
	t.Helper()
	m, err := names.Parse(mapping, "compat_mapping.yml")
	if err != nil {
		t.Fatal(err)
	}
	s := New(Options{}, nil)
	w := NewTranslator(s, m, nil, nil).NewWorker()
	var l statsd.Line
	for _, text := range lines {
		if err := l.Parse([]byte(text)); err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		w.Metric(&l)
	}
	w.Flush()
	var buf bytes.Buffer
	if err := s.WriteTo(&buf, FormatText); err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("our exposition does not parse: %v\n%s", err, buf.String())
	}
	return mfs
}

// flatten renders a family as sorted "series value" lines so that two
// families compare regardless of order.
func flatten(mf *dto.MetricFamily) []string {
	var out []string
	for _, m := range mf.Metric {
		var ls []string
		for _, lp := range m.Label {
			ls = append(ls, lp.GetName()+"="+lp.GetValue())
		}
		sort.Strings(ls)
		id := mf.GetName() + "{" + strings.Join(ls, ",") + "}"
		f := func(v float64) string {
			if math.Abs(v) < 1e-9 {
				v = 0
			}
			return fmt.Sprintf("%.9g", v)
		}
		switch mf.GetType() {
		case dto.MetricType_COUNTER:
			out = append(out, id+" "+f(m.Counter.GetValue()))
		case dto.MetricType_GAUGE:
			out = append(out, id+" "+f(m.Gauge.GetValue()))
		case dto.MetricType_HISTOGRAM:
			h := m.Histogram
			out = append(out, fmt.Sprintf("%s count=%d sum=%s", id, h.GetSampleCount(), f(h.GetSampleSum())))
			for _, b := range h.Bucket {
				if math.IsInf(b.GetUpperBound(), 1) {
					continue // the text format spells out +Inf; it equals count
				}
				out = append(out, fmt.Sprintf("%s le=%g %d", id, b.GetUpperBound(), b.GetCumulativeCount()))
			}
		case dto.MetricType_SUMMARY:
			s := m.Summary
			out = append(out, fmt.Sprintf("%s count=%d sum=%s", id, s.GetSampleCount(), f(s.GetSampleSum())))
			for _, q := range s.Quantile {
				out = append(out, fmt.Sprintf("%s q=%g %s", id, q.GetQuantile(), f(q.GetValue())))
			}
		}
	}
	sort.Strings(out)
	return out
}

// TestSameSeriesAsStatsdExporter is the compatibility promise: a mapping
// file and traffic that work with statsd_exporter v0.31.0 give the same
// series names, label sets and values here.
func TestSameSeriesAsStatsdExporter(t *testing.T) {
	mapping, err := os.ReadFile(filepath.Join("testdata", "compat_mapping.yml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := readTraffic(t, filepath.Join("testdata", "compat_traffic.txt"))
	theirs := statsdExporterSeries(t, mapping, lines)
	ours := copenhagenSeries(t, mapping, lines)
	if len(theirs) < 15 {
		t.Fatalf("statsd_exporter produced only %d families; the fixture is not exercising it", len(theirs))
	}
	for name, tf := range theirs {
		of, ok := ours[name]
		if !ok {
			t.Errorf("family %s missing here", name)
			continue
		}
		if of.GetType() != tf.GetType() {
			t.Errorf("%s: type %s here, %s in statsd_exporter", name, of.GetType(), tf.GetType())
			continue
		}
		want, got := flatten(tf), flatten(of)
		if strings.Join(want, "\n") != strings.Join(got, "\n") {
			t.Errorf("%s differs\n--- here\n%s\n--- statsd_exporter\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	for name := range ours {
		if _, ok := theirs[name]; !ok {
			t.Errorf("family %s only here", name)
		}
	}
}
