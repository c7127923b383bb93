package graphiteql

import (
	"strings"
	"testing"
	"time"
)

func TestEtsyOptions(t *testing.T) {
	statsd := loadMapper(t, "statsd_mapping.yml")
	graphite := loadMapper(t, "graphite_mapping.yml")
	modern := DefaultOptions()
	modern.LegacyNamespace = false
	modern.GlobalPrefix = "app"
	modern.GlobalSuffix = "dc1"
	modern.PercentThresholds = []float64{95, 99.9}
	modern.FlushInterval = 30 * time.Second
	r := NewResolver(statsd, graphite, modern)
	cases := []struct{ target, want string }{
		{"app.counters.catalog.http.get.200.rate.dc1", `rate(http_requests_total{app="catalog",code="200",route="get"}[2m])`},
		{"app.counters.catalog.http.get.200.count.dc1", `rate(http_requests_total{app="catalog",code="200",route="get"}[2m]) * 30`},
		{"app.timers.catalog.http.get.response_time.upper_95.dc1", `histogram_quantile(0.95, rate(http_request_duration_seconds_bucket{app="catalog",route="get"}[2m])) * 1000`},
		{"app.timers.catalog.http.get.response_time.upper_99_9.dc1", `histogram_quantile(0.999, rate(http_request_duration_seconds_bucket{app="catalog",route="get"}[2m])) * 1000`},
		{"app.gauges.thumbnails.worker.queue.resize.size.dc1", `worker_queue_messages{app="thumbnails",queue="resize"}`},
		{"app.sets.player.users.unique.count.dc1", `unique_users{app="player"}`},
		// Without the suffix, or under the legacy names, it is a carbon name.
		{"app.gauges.thumbnails.worker.queue.resize.size", `app_gauges_thumbnails_worker_queue_resize_size`},
		{"stats.gauges.x", `stats_gauges_x`},
	}
	for _, c := range cases {
		res := Translate(c.target, r, TranslateOptions{})
		if res.PromQL != c.want {
			t.Errorf("%s:\n got %s %s%s\nwant %s", c.target, res.Status, res.PromQL, res.Reason, c.want)
		}
	}
	res := Translate("app.timers.catalog.http.get.response_time.upper_90.dc1", r, TranslateOptions{})
	if res.Status != Untranslated || !strings.Contains(res.Reason, "percent thresholds") {
		t.Errorf("upper_90 without that threshold: %+v", res)
	}
}

func TestLastNonNull(t *testing.T) {
	cases := []struct {
		expr        string
		from, until time.Duration
		want        string
	}{
		{`x{a="b"}`, 11 * time.Minute, time.Minute, `last_over_time(x{a="b"}[10m] offset 1m)`},
		{`x`, 15 * time.Minute, 0, `last_over_time(x[15m])`},
		{`sum(rate(x[1m]))`, 11 * time.Minute, time.Minute, `last_over_time((sum(rate(x[1m])))[10m:10s] offset 1m)`},
		{`x offset 1h`, 11 * time.Minute, time.Minute, `last_over_time((x offset 1h)[10m:10s] offset 1m)`},
	}
	for _, c := range cases {
		got, err := LastNonNull(c.expr, c.from, c.until, 0)
		if err != nil || got != c.want {
			t.Errorf("LastNonNull(%s) = %s, %v; want %s", c.expr, got, err, c.want)
		}
		if err := CheckPromQL(got); err != nil {
			t.Errorf("%s: %v", got, err)
		}
	}
	if _, err := LastNonNull("x", time.Minute, time.Minute, 0); err == nil {
		t.Error("empty window accepted")
	}
	if _, err := LastNonNull("x{", 2*time.Minute, time.Minute, 0); err == nil {
		t.Error("invalid PromQL accepted")
	}
}

func BenchmarkParse(b *testing.B) {
	const target = "aliasByNode(movingAverage(stats.timers.catalog.http.{get,put}_*.response_time.upper_90, '5min'), 4)"
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(target); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkTranslateLast(b *testing.B) {
	r := resolvers(b)[""]
	const target = "asPercent(sumSeries(stats.web.http.*.5*), sumSeries(stats.web.http.*.*))"
	opts := TranslateOptions{From: 11 * time.Minute, Until: time.Minute}
	b.ReportAllocs()
	for b.Loop() {
		if res := TranslateLast(target, r, opts); res.Status == Untranslated {
			b.Fatal(res.Reason)
		}
	}
}
