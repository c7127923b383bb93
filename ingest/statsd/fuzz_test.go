package statsd

import (
	"bytes"
	"log/slog"
	"math"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkLineInvariants asserts what every consumer of an accepted line
// relies on.
func checkLineInvariants(t *testing.T, in []byte, l *Line) {
	t.Helper()
	if l.Kind != KindMetric {
		return
	}
	switch {
	case len(l.Name) == 0:
		t.Fatalf("%q: accepted with an empty name", in)
	case !utf8.Valid(l.Name):
		t.Fatalf("%q: name %q is not UTF-8", in, l.Name)
	case len(l.NameSection) == 0 || !bytes.HasPrefix(in, l.NameSection) || in[len(l.NameSection)] != ':':
		t.Fatalf("%q: name section %q is not what precedes the first ':'", in, l.NameSection)
	case l.Type == TypeUnknown || l.Type > TypeSet:
		t.Fatalf("%q: accepted with type %d", in, l.Type)
	case !(l.SampleRate > 0 && l.SampleRate <= 1):
		t.Fatalf("%q: sample rate %v", in, l.SampleRate)
	case l.Relative && l.Type != TypeGauge:
		t.Fatalf("%q: relative %v", in, l.Type)
	case l.DroppedTags < 0:
		t.Fatalf("%q: dropped %d", in, l.DroppedTags)
	}
	if l.Type == TypeSet {
		if len(l.Members) != 1 || len(l.Members[0]) == 0 || len(l.Values) != 0 {
			t.Fatalf("%q: set with members %q values %v", in, l.Members, l.Values)
		}
	} else {
		if len(l.Values) == 0 || len(l.Members) != 0 {
			t.Fatalf("%q: values %v members %q", in, l.Values, l.Members)
		}
		if len(l.Values) > 1 && l.Type != TypeTimer && l.Type != TypeHistogram && l.Type != TypeDistribution {
			t.Fatalf("%q: packed %s", in, l.Type)
		}
		for _, v := range l.Values {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				t.Fatalf("%q: non-finite value %v", in, v)
			}
		}
	}
	tags, err := l.Tags(nil)
	if err != nil {
		t.Fatalf("%q: Tags after a successful Parse: %v", in, err)
	}
	keys := map[string]bool{}
	for _, tg := range tags {
		if len(tg.Key) == 0 || len(tg.Value) == 0 || bytes.IndexByte(tg.Key, ',') >= 0 || bytes.IndexByte(tg.Value, ',') >= 0 {
			t.Fatalf("%q: bad tag %q=%q", in, tg.Key, tg.Value)
		}
		if keys[string(tg.Key)] {
			t.Fatalf("%q: duplicate tag key %q in %q", in, tg.Key, tags)
		}
		keys[string(tg.Key)] = true
	}
}

func addSeeds(f *testing.F, datagrams bool) {
	cases := loadCases(f)
	var all [][]byte
	for _, c := range cases {
		f.Add(c.line)
		all = append(all, c.line)
	}
	if datagrams {
		f.Add(bytes.Join(all, []byte("\n")))
		f.Add(benchDatagram())
	}
}

// FuzzParse: no input panics, an accepted line satisfies the invariants,
// parsing is independent of what the Line held before, and an accepted
// metric line means what statsd_exporter makes of it, unless it is one of
// the documented deviations.
func FuzzParse(f *testing.F) {
	addSeeds(f, false)
	exp := newExporterParser()
	var reused Line
	_ = reused.Parse([]byte("fill.[x=]er:1:2:3:4:5:6:7:8|ms|@0.5|#a:b,flag|c:id|T1"))
	f.Fuzz(func(t *testing.T, in []byte) {
		var l Line
		err := l.Parse(in)
		if err != nil {
			pe, ok := err.(*ParseError)
			if !ok || pe != reasons.All()[pe.Index()] {
				t.Fatalf("%q: error %#v is not one of the package's ParseErrors", in, err)
			}
			if err2 := reused.Parse(in); err2 != err {
				t.Fatalf("%q: fresh Line says %v, reused Line %v", in, err, err2)
			}
			return
		}
		checkLineInvariants(t, in, &l)
		if err := reused.Parse(in); err != nil {
			t.Fatalf("%q: fresh Line accepts, reused Line says %v", in, err)
		}
		if a, b := snapshot(&l), snapshot(&reused); a != b || l.Kind != reused.Kind || l.DroppedTags != reused.DroppedTags {
			t.Fatalf("%q: fresh %+v, reused %+v", in, a, b)
		}
		if l.Kind != KindMetric || l.Type == TypeSet ||
			bytes.HasSuffix(in, []byte("\r")) || bytes.Contains(in, []byte("|c:")) {
			return // documented: the exporter has no sets or events, keeps '\r', labels container IDs
		}
		if l.SampleRate < 1e-3 && l.Type != TypeCounter && l.Type != TypeGauge {
			return // the exporter would emit int(1/rate) events per value: @1e-9 is a billion
		}
		got, panicked := exporterEvents(exp, string(in))
		if want := expectedExporterEvents(t, &l); panicked || !reflect.DeepEqual(got, want) {
			t.Fatalf("%q: exporter (panicked %v) %s\nours %s", in, panicked, dumpEvents(got), dumpEvents(want))
		}
	})
}

// FuzzProcessor: no datagram panics, and a datagram's lines are handled as
// if each were parsed alone: bad lines cost nothing but themselves.
func FuzzProcessor(f *testing.F) {
	addSeeds(f, true)
	f.Fuzz(func(t *testing.T, d []byte) {
		sink := &recordingSink{}
		p := NewProcessor(sink, nil, ProcessorOptions{Logger: slog.New(slog.DiscardHandler), MaxLineLength: 1000})
		p.Process(d)
		var want []seen
		var l Line
		nonEmpty, rejected := 0, 0
		for _, ln := range bytes.Split(d, []byte("\n")) {
			ln = bytes.TrimSuffix(ln, []byte("\r"))
			if len(ln) == 0 {
				continue
			}
			nonEmpty++
			if len(ln) > 1000 || l.Parse(ln) != nil {
				rejected++
				continue
			}
			if l.Kind == KindMetric {
				checkLineInvariants(t, ln, &l)
				want = append(want, snapshot(&l))
			}
		}
		if len(sink.got) != len(want) {
			t.Fatalf("sink got %d lines, want %d", len(sink.got), len(want))
		}
		for i := range want {
			if sink.got[i] != want[i] {
				t.Fatalf("line %d: got %+v, want %+v", i, sink.got[i], want[i])
			}
		}
		var counted, rej uint64
		for _, n := range p.received {
			counted += n
		}
		rej = p.rejections.Unflushed()
		if int(counted+rej) != nonEmpty || int(rej) != rejected {
			t.Fatalf("counted %d accepted + %d rejected, want %d lines of which %d rejected", counted, rej, nonEmpty, rejected)
		}
		p.FlushStats()
		if strings.Count(string(d), "\n") > 0 && p.rejections.Pending() != 0 && rejected == 0 {
			t.Fatal("warning pending without a rejected line")
		}
	})
}
