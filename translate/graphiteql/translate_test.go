package graphiteql

import (
	"bufio"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/copenhagen-obs/copenhagen/translate/names"
)

var update = flag.Bool("update", false, "rewrite testdata/translate.txt with the current results")

func loadMapper(t testing.TB, file string) *names.Mapper {
	t.Helper()
	m, err := names.Load(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func resolvers(t testing.TB) map[string]*Resolver {
	graphite := loadMapper(t, "graphite_mapping.yml")
	return map[string]*Resolver{
		"":      NewResolver(loadMapper(t, "statsd_mapping.yml"), graphite, DefaultOptions()),
		"extra": NewResolver(loadMapper(t, "extra_mapping.yml"), graphite, DefaultOptions()),
		// Timers as native histograms.
		"native": NewResolver(loadMapper(t, "native_mapping.yml"), graphite, DefaultOptions()),
		// Every timer kept both ways (classic buckets and native).
		"both": NewResolver(loadMapper(t, "timers_both.yml"), graphite, DefaultOptions()),
	}
}

type tableCase struct {
	target, mapping, window string
}

// render runs one case and prints the expected-result lines.
func (c tableCase) render(t *testing.T, rs map[string]*Resolver) string {
	r := rs[c.mapping]
	if r == nil {
		t.Fatalf("%s: unknown mapping %q", c.target, c.mapping)
	}
	var res Result
	if c.window != "" {
		f := strings.Fields(c.window)
		if len(f) != 2 {
			t.Fatalf("%s: window wants FROM UNTIL", c.target)
		}
		from, err1 := ParseOffset(f[0])
		until, err2 := ParseOffset(f[1])
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: window %q: %v %v", c.target, c.window, err1, err2)
		}
		res = TranslateLast(c.target, r, TranslateOptions{From: from, Until: until})
	} else {
		res = Translate(c.target, r, TranslateOptions{})
	}
	if res.PromQL != "" {
		if err := CheckPromQL(res.PromQL); err != nil {
			t.Errorf("%s: PromQL does not parse: %v\n%s", c.target, err, res.PromQL)
		}
	}
	if (res.Status == Untranslated) != (res.PromQL == "") || (res.Status == Untranslated) != (res.Reason != "") {
		t.Errorf("%s: inconsistent result %+v", c.target, res)
	}
	if strings.Contains(res.Reason, "internal error") {
		t.Errorf("%s: %s", c.target, res.Reason)
	}
	if res.Status == Untranslated && !strings.HasPrefix(res.Reason, "untranslated: ") {
		t.Errorf("%s: reason %q lacks the untranslated: prefix", c.target, res.Reason)
	}
	var b strings.Builder
	b.WriteString("status: " + string(res.Status) + "\n")
	if res.PromQL != "" {
		b.WriteString("promql: " + res.PromQL + "\n")
	}
	if res.Reason != "" {
		b.WriteString("reason: " + res.Reason + "\n")
	}
	for _, n := range res.Notes {
		b.WriteString("note: " + n + "\n")
	}
	return b.String()
}

func TestTranslateTable(t *testing.T) {
	path := filepath.Join("testdata", "translate.txt")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	rs := resolvers(t)
	var out strings.Builder
	var cur *tableCase
	var expected strings.Builder
	flush := func() {
		if cur == nil {
			return
		}
		got := cur.render(t, rs)
		if !*update && got != expected.String() {
			t.Errorf("target %s:\n--- want\n%s--- got\n%s", cur.target, expected.String(), got)
		}
		out.WriteString(got)
		cur = nil
		expected.Reset()
	}
	sc := bufio.NewScanner(strings.NewReader(string(data)))
	sc.Buffer(nil, 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "target: "):
			flush()
			cur = &tableCase{target: strings.TrimPrefix(line, "target: ")}
			n++
			out.WriteString(line + "\n")
		case strings.HasPrefix(line, "mapping: ") && cur != nil:
			cur.mapping = strings.TrimPrefix(line, "mapping: ")
			out.WriteString(line + "\n")
		case strings.HasPrefix(line, "window: ") && cur != nil:
			cur.window = strings.TrimPrefix(line, "window: ")
			out.WriteString(line + "\n")
		case cur != nil && (strings.HasPrefix(line, "status: ") || strings.HasPrefix(line, "promql: ") || strings.HasPrefix(line, "reason: ") || strings.HasPrefix(line, "note: ")):
			expected.WriteString(line + "\n")
		default:
			flush()
			out.WriteString(line + "\n")
		}
	}
	flush()
	if n < 50 {
		t.Fatalf("only %d cases read", n)
	}
	if *update {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestParseOffset(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"-11minutes": 11 * time.Minute, "-1min": time.Minute, "now": 0, "": 0, "-1days": 24 * time.Hour,
		"now-2h": 2 * time.Hour, "-1h30min": 90 * time.Minute, "-30s": 30 * time.Second,
	} {
		got, err := ParseOffset(in)
		if err != nil || got != want {
			t.Errorf("ParseOffset(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"20231101", "+1h", "-5", "-1fortnight", "yesterday"} {
		if _, err := ParseOffset(in); err == nil {
			t.Errorf("ParseOffset(%q) accepted", in)
		}
	}
}

// Targets come from files and APIs: deep nesting, long globs and functions
// that repeat their argument must neither hang nor exhaust memory.
func TestPathologicalTargets(t *testing.T) {
	r := resolvers(t)[""]
	cases := []struct {
		target string
		status Status
		reason string
	}{
		{strings.Repeat("movingAverage(", 150) + "stats.a.*" + strings.Repeat(", '5min')", 150), Partial, ""},
		{strings.Repeat("sumSeries(", 199) + "a" + strings.Repeat(")", 199), Translated, ""},
		{strings.Repeat("sumSeries(", 201) + "a" + strings.Repeat(")", 201), Untranslated, "nested more than"},
		{"stats." + strings.Repeat("{a,b,c,d}.", 20) + "x", Untranslated, "combinations"},
		{"stats." + strings.Repeat("*", 5000), Partial, ""},
		{strings.Repeat("derivative(", 100) + "stats.gauges.a.b" + strings.Repeat(")", 100), Untranslated, "longer than"},
		{strings.Repeat("asPercent(", 60) + "servers.a.load.load.midterm" + strings.Repeat(")", 60), Untranslated, "longer than"},
	}
	for _, c := range cases {
		start := time.Now()
		res := Translate(c.target, r, TranslateOptions{})
		TranslateLast(c.target, r, TranslateOptions{From: time.Hour})
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%.40s...: %v", c.target, d)
		}
		if res.Status != c.status || !strings.Contains(res.Reason, c.reason) {
			t.Errorf("%.40s...: %s %s, want %s %q", c.target, res.Status, res.Reason, c.status, c.reason)
		}
	}
}
