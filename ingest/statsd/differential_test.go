package statsd

import (
	"fmt"
	"log/slog"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/statsd_exporter/pkg/event"
	exline "github.com/prometheus/statsd_exporter/pkg/line"
	"github.com/prometheus/statsd_exporter/pkg/mapper"
)

// The differential tests hold Parse to its promise: wherever
// statsd_exporter v0.31.0 accepts a line, a user moving to Copenhagen gets
// the same name, samples and labels, and every difference is one of the
// deviations documented on Parse and annotated in testdata/lines.txt.

func newExporterParser() *exline.Parser {
	p := exline.NewParser()
	p.EnableDogstatsdParsing()
	p.EnableInfluxdbParsing()
	p.EnableLibratoParsing()
	p.EnableSignalFXParsing()
	return p
}

// exporterEvents runs statsd_exporter's parser; it reports a panic
// instead of dying, because the exporter does panic on some lines.
func exporterEvents(p *exline.Parser, s string) (events event.Events, panicked bool) {
	sampleErrors := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sample_errors"}, []string{"reason"})
	counter := func() prometheus.Counter { return prometheus.NewCounter(prometheus.CounterOpts{Name: "c"}) }
	defer func() {
		if recover() != nil {
			panicked = true
		}
	}()
	events = p.LineToEvents(s, *sampleErrors, counter(), counter(), counter(), slog.New(slog.DiscardHandler))
	return events, false
}

// expectedExporterEvents turns an accepted Line into what statsd_exporter
// emits for it: counters divided by the sample rate, int(1/rate) copies of
// each timer, histogram and distribution value, timers in seconds, label
// keys escaped and later duplicates winning.
func expectedExporterEvents(t *testing.T, l *Line) event.Events {
	t.Helper()
	tags, err := l.Tags(nil)
	if err != nil {
		t.Fatalf("Tags: %v", err)
	}
	labels := map[string]string{}
	for _, tg := range tags {
		labels[mapper.EscapeMetricName(string(tg.Key))] = string(tg.Value)
	}
	name := string(l.Name)
	var out event.Events
	switch l.Type {
	case TypeCounter:
		out = append(out, &event.CounterEvent{CMetricName: name, CValue: l.Values[0] / l.SampleRate, CLabels: labels})
	case TypeGauge:
		out = append(out, &event.GaugeEvent{GMetricName: name, GValue: l.Values[0], GRelative: l.Relative, GLabels: labels})
	case TypeTimer, TypeHistogram, TypeDistribution:
		for _, v := range l.Values {
			if l.Type == TypeTimer {
				v /= 1000
			}
			for range int(1 / l.SampleRate) {
				out = append(out, &event.ObserverEvent{OMetricName: name, OValue: v, OLabels: labels})
			}
		}
	}
	return out
}

func dumpEvents(evs event.Events) string {
	var sb strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&sb, "%T%+v ", e, e)
	}
	return sb.String()
}

func TestExporterDifferentialTable(t *testing.T) {
	p := newExporterParser()
	var l Line
	for _, c := range loadCases(t) {
		err := l.Parse(c.line)
		got, panicked := exporterEvents(p, string(c.line))
		outcome := "accept"
		switch {
		case panicked:
			outcome = "panic"
		case len(got) == 0:
			outcome = "reject"
		}
		if err != nil {
			want := c.Exporter
			if want == "" {
				want = "reject"
			}
			if outcome != want {
				t.Errorf("%s: %q: we reject (%v), the exporter outcome is %s (%s), the table says %s",
					c.pos, c.line, err, outcome, dumpEvents(got), want)
			}
			continue
		}
		if l.Kind != KindMetric || l.Type == TypeSet {
			if c.Exporter != "reject" || outcome != "reject" {
				t.Errorf("%s: %q: table says %q, exporter outcome %s", c.pos, c.line, c.Exporter, outcome)
			}
			continue
		}
		want := expectedExporterEvents(t, &l)
		same := reflect.DeepEqual(got, want)
		switch c.Exporter {
		case "":
			if !same {
				t.Errorf("%s: %q:\n exporter %s\n ours     %s", c.pos, c.line, dumpEvents(got), dumpEvents(want))
			}
		case "reject":
			if outcome != "reject" {
				t.Errorf("%s: %q: table says the exporter rejects it, it emits %s", c.pos, c.line, dumpEvents(got))
			}
		case "differs":
			if same || outcome != "accept" {
				t.Errorf("%s: %q: table says the exporter differs, outcome %s: %s", c.pos, c.line, outcome, dumpEvents(got))
			}
		default:
			t.Errorf("%s: %q: exporter=%s makes no sense for an accepted line", c.pos, c.line, c.Exporter)
		}
	}
}

// corpus generates a broad set of valid lines: every tag dialect, type,
// packing, sample rate and trailing section combined with a range of names,
// values and tag lists.
func corpus() []string {
	names := []string{"foo", "api.requests.count", "a-b_c.d", "x", "with space", "ünï.códe", "foo/bar", "09.start", "_private"}
	tagSets := [][][2]string{
		nil,
		{{"a", "b"}},
		{{"host", "web-1"}, {"env", "prod"}},
		{{"k", "v=x"}},
		{{"path", "/a/b#c"}},
		{{"a", "1"}, {"a", "2"}},
		{{"a-b", "1"}, {"a_b", "2"}},
		{{"a.b", "1"}, {"c", "é"}},
	}
	type valType struct{ value, typ string }
	vals := []valType{
		{"1", "c"}, {"-2.5", "c"}, {"0", "c"}, {"1e3", "c"}, {"+4", "c"}, {"0.1", "c"},
		{"3", "g"}, {"+3", "g"}, {"-3", "g"}, {"0.125", "g"}, {"-0", "g"},
		{"200", "ms"}, {"0.5:120:3000", "ms"}, {"1", "h"}, {"1:2", "h"}, {"0.01", "d"}, {"7:8:9", "d"},
	}
	rates := []string{"", "|@1", "|@0.5", "|@0.1", "|@0.25", "|@0.3", "|@0.01"}
	var out []string
	for _, name := range names {
		for _, tags := range tagSets {
			kv := func(sep string, hash bool) string {
				parts := make([]string, len(tags))
				for i, tg := range tags {
					parts[i] = tg[0] + sep + tg[1]
					if hash && i > 0 {
						parts[i] = "#" + parts[i]
					}
				}
				return strings.Join(parts, ",")
			}
			type form struct {
				ns, dog string
			}
			forms := []form{{ns: name}}
			if len(tags) > 0 {
				forms = append(forms,
					form{ns: name + "," + kv("=", false)},
					form{ns: name + "#" + kv("=", false)},
					form{ns: name + "[" + kv("=", false) + "]"},
					form{ns: "[" + kv("=", false) + "]" + name},
					form{ns: name + ".[" + kv("=", false) + "]suffix"},
					form{ns: name, dog: "|#" + kv(":", false)},
					form{ns: name, dog: "|#" + kv(":", true)},
				)
			}
			for _, f := range forms {
				for _, v := range vals {
					for _, rate := range rates {
						base := f.ns + ":" + v.value + "|" + v.typ
						out = append(out, base+rate+f.dog, base+f.dog+rate)
						if f.dog != "" {
							out = append(out, base+rate+f.dog+"|c:3a88c225dbeb|T1656581400")
						} else {
							out = append(out, base+rate+"|T1656581400")
						}
					}
				}
			}
		}
	}
	return out
}

func TestExporterDifferentialCorpus(t *testing.T) {
	p := newExporterParser()
	var l Line
	lines := corpus()
	if len(lines) < 10000 {
		t.Fatalf("corpus has only %d lines", len(lines))
	}
	failures := 0
	for _, s := range lines {
		if err := l.Parse([]byte(s)); err != nil {
			t.Errorf("Parse(%q) = %v", s, err)
			failures++
		} else {
			got, panicked := exporterEvents(p, s)
			if panicked {
				t.Fatalf("exporter panics on %q", s)
			}
			if strings.Contains(s, "|c:") {
				// Documented: the container ID is ignored, not a label.
				for _, e := range got {
					delete(e.Labels(), "container_id")
				}
			}
			want := expectedExporterEvents(t, &l)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("%q:\n exporter %s\n ours     %s", s, dumpEvents(got), dumpEvents(want))
				failures++
			}
		}
		if failures > 20 {
			t.Fatal("too many failures")
		}
	}
	t.Logf("%d generated lines agree with statsd_exporter", len(lines))
}
