package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteql"
)

func TestTranslateExpr(t *testing.T) {
	dir := t.TempDir()
	statsd := filepath.Join(dir, "statsd.yml")
	graphite := filepath.Join(dir, "graphite.yml")
	if err := os.WriteFile(statsd, []byte("mappings:\n- match: \"*.http.*.*\"\n  match_metric_type: counter\n  name: http_requests_total\n  labels: {app: \"$1\", route: \"$2\", code: \"$3\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(graphite, []byte("mappings:\n- match: \"servers.*.load.load.*\"\n  name: node_load\n  labels: {host: \"$1\", period: \"$2\"}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	m := []string{"--statsd-mapping", statsd, "--graphite-mapping", graphite}

	// Translated: the PromQL, then the name Graphite gives the series as
	// a Grafana legendFormat (a PromQL comment).
	out, errs, code := cli(t, append([]string{"translate", "expr"}, append(m, "maxSeries(servers.front*.load.load.midterm)")...)...)
	if code != 0 || out != "max(node_load{host=~\"front.*\",period=\"midterm\"})\n# legend: maxSeries(servers.front*.load.load.midterm)\n" || errs != "" {
		t.Fatalf("translated: code %d\n%s%s", code, out, errs)
	}
	// aliasByNode: the legend names the label that holds the node.
	out, _, code = cli(t, append([]string{"translate", "expr"}, append(m, "aliasByNode(servers.*.load.load.midterm, 1)")...)...)
	if code != 0 || !strings.HasSuffix(out, "# legend: {{host}}\n") {
		t.Fatalf("aliasByNode legend: code %d\n%s", code, out)
	}
	if err := graphiteql.CheckPromQL(out); err != nil {
		t.Errorf("output with the legend comment does not parse: %v", err)
	}

	// Partial: PromQL, then the approximations as PromQL comments, so the
	// whole output still parses.
	out, _, code = cli(t, append([]string{"translate", "expr"}, append(m, "sumSeries(stats.catalog.http.*.500)")...)...)
	if code != 0 || !strings.HasPrefix(out, "sum(rate(http_requests_total{app=\"catalog\",code=\"500\"}[1m]))\n# partial:") || !strings.Contains(out, "# note: statsd's per-second rate") {
		t.Fatalf("partial: code %d\n%s", code, out)
	}
	if err := graphiteql.CheckPromQL(out); err != nil {
		t.Errorf("output with comments does not parse: %v", err)
	}

	// Seyren semantics with --from/--until.
	out, _, code = cli(t, append([]string{"translate", "expr", "--from=-11minutes", "--until=-1minutes"}, append(m, "servers.db01.load.load.midterm")...)...)
	if code != 0 || out != "last_over_time(node_load{host=\"db01\",period=\"midterm\"}[10m] offset 1m)\n" {
		t.Fatalf("window: code %d\n%s", code, out)
	}

	// Untranslated: the reason, status 1.
	out, _, code = cli(t, append([]string{"translate", "expr"}, append(m, "holtWintersForecast(servers.db01.load.load.midterm)")...)...)
	if code != 1 || out != "untranslated: holtWintersForecast has no PromQL equivalent\n" {
		t.Fatalf("untranslated: code %d\n%s", code, out)
	}

	// Syntax error: status 2, the column and a caret under it.
	out, errs, code = cli(t, "translate", "expr", "sumSeries(stats.a.b")
	want := "copenhagen: syntax error at column 20: expected ',' or ')' in the arguments of sumSeries, found end of target\n  sumSeries(stats.a.b\n                     ^\n"
	if code != 2 || out != "" || errs != want {
		t.Fatalf("syntax error: code %d\nstdout %q\nstderr %q\nwant   %q", code, out, errs, want)
	}

	// Unusable mapping file: status 2, named.
	_, errs, code = cli(t, "translate", "expr", "--statsd-mapping", filepath.Join(dir, "missing.yml"), "a.b")
	if code != 2 || !strings.Contains(errs, "--statsd-mapping") {
		t.Fatalf("missing mapping: code %d %s", code, errs)
	}
	_, errs, code = cli(t, "translate", "expr", "--until=-1min", "a.b")
	if code != 2 || !strings.Contains(errs, "--until needs --from") {
		t.Fatalf("until alone: code %d %s", code, errs)
	}
}

// A timer mapped with native_histogram_bucket_factor: translate expr
// queries the native histogram (no _bucket) and says how close it is.
func TestTranslateExprNativeTimer(t *testing.T) {
	for _, tc := range []struct{ mapping, want, note string }{
		{"testdata/timer_native.yml", "histogram_quantile(0.9, rate(shadowtest_lat_seconds[1m])) * 1000\n", "native histogram, within 9.1% relative"},
		{"testdata/timer_classic.yml", "histogram_quantile(0.9, rate(shadowtest_lat_seconds_bucket[1m])) * 1000\n", "interpolated within buckets"},
	} {
		out, errs, code := cli(t, "translate", "expr", "--statsd-mapping", tc.mapping, "stats.timers.shadowtest.lat.upper_90")
		if code != 0 || !strings.HasPrefix(out, tc.want) || !strings.Contains(out, tc.note) {
			t.Errorf("%s: code %d\n%s%s", tc.mapping, code, out, errs)
		}
	}
	out, _, code := cli(t, "translate", "expr", "--statsd-mapping", "testdata/timer_native.yml", "stats.timers.shadowtest.lat.mean")
	if code != 0 || !strings.HasPrefix(out, "histogram_sum(rate(shadowtest_lat_seconds[1m])) / histogram_count(rate(shadowtest_lat_seconds[1m])) * 1000\n") {
		t.Errorf("mean: code %d\n%s", code, out)
	}
}
