package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/prometheus/prometheus/model/labels"

	"github.com/copenhagen-obs/copenhagen/ingest/statsd"
	"github.com/copenhagen-obs/copenhagen/translate/names"
	"github.com/copenhagen-obs/copenhagen/translate/series"
)

// translateNames is `copenhagen translate name`: it runs each name through
// the same parser, mapping and series rules as ingestion, so what it prints
// is what /metrics will show.
func translateNames(mappingFile, typ string, input []string, stdout, stderr io.Writer) int {
	m, err := names.Load(mappingFile)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	store := series.New(series.Options{}, nil)
	w := series.NewTranslator(store, m, nil, nil).NewWorker()
	code := 0
	var line statsd.Line
	for _, in := range input {
		wire := wireLine(in, typ)
		if err := line.Parse([]byte(wire)); err != nil {
			fmt.Fprintf(stdout, "%s: not a valid StatsD name: %v\n", in, err)
			code = 1
			continue
		}
		if line.Kind != statsd.KindMetric {
			fmt.Fprintf(stdout, "%s: a DogStatsD event or service check: accepted and counted, no series\n", in)
			continue
		}
		ex := w.Explain(&line)
		fmt.Fprintf(stdout, "%s (%s) -> %s\n", in, typ, describe(ex))
		if ex.Err != nil {
			code = 1
		}
	}
	return code
}

// wireLine builds the StatsD line for a name given on the command line,
// keeping DogStatsD tags (name|#k:v) after the value where they belong.
func wireLine(name, typ string) string {
	value := "1"
	if typ == "s" {
		value = "member"
	}
	base, dogTags, hasTags := strings.Cut(name, "|#")
	if hasTags {
		return base + ":" + value + "|" + typ + "|#" + dogTags
	}
	return name + ":" + value + "|" + typ
}

func describe(ex series.Explanation) string {
	rule := ""
	if r := ex.Result.Rule; r != nil {
		rule = fmt.Sprintf("rule match %q", r.Match)
	}
	switch {
	case ex.Result.Drop:
		return "dropped by " + rule
	case ex.Err != nil:
		return "refused: " + ex.Err.Error()
	}
	s := ex.Series
	var b strings.Builder
	b.WriteString(s.Name())
	if !s.Labels().IsEmpty() {
		b.WriteByte('{')
		i := 0
		s.Labels().Range(func(l labels.Label) {
			if i > 0 {
				b.WriteByte(',')
			}
			i++
			fmt.Fprintf(&b, "%s=%q", l.Name, l.Value)
		})
		b.WriteByte('}')
	}
	fmt.Fprintf(&b, " %s", s.Kind())
	if schema, ok := s.NativeSchema(); ok {
		fmt.Fprintf(&b, ", native (schema %d)", schema)
		if up := s.ClassicBuckets(); len(up) > 0 {
			fmt.Fprintf(&b, " and classic buckets %v", up)
		}
	}
	if ex.Unit != 1 {
		b.WriteString(", value /1000 (ms to seconds)")
	}
	if ex.Scale != 1 {
		fmt.Fprintf(&b, ", scaled by %g", ex.Scale)
	}
	if rule != "" {
		b.WriteString(" (" + rule + ")")
	} else {
		b.WriteString(" (unmapped: name escaped)")
	}
	return b.String()
}
