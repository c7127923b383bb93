package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/copenhagen-obs/copenhagen/alerting/evaluate"
	"github.com/copenhagen-obs/copenhagen/alerting/shadow"
	"github.com/copenhagen-obs/copenhagen/translate/names"
	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

// shadowReportFlags are the flags of `copenhagen shadow report`.
type shadowReportFlags struct {
	url     *string
	format  *string
	check   *string
	timeout *time.Duration
}

// shadowReplayFlags are the flags of `copenhagen shadow replay`.
type shadowReplayFlags struct {
	checks, graphite, data, out, format *string
	seyren, config, statsdMapping       *string
	rules                               *[]string
	start, end                          *string
	interval, timeout                   *time.Duration
	minEvaluations, minEpisodes         *int
}

func shadowReplayCmd(sh *kingpin.CmdClause) (*kingpin.CmdClause, *shadowReplayFlags) {
	c := sh.Command("replay", "Backtest: the same comparison over a past window, the rules stepped over the stored data, Seyren's side from graphite-web's history.")
	return c, &shadowReplayFlags{
		checks:         c.Flag("checks", "Seyren export (the import's shadow/checks.json); default shadow.checks_file of --config.").String(),
		graphite:       c.Flag("graphite", "graphite-web base URL; default shadow.graphite_url of --config.").String(),
		seyren:         c.Flag("seyren", "Seyren's base URL: its alert history becomes the third column; default shadow.seyren_url of --config.").String(),
		config:         c.Flag("config", "copenhagen.yml: graphite_url, seyren_url, checks_file and their HTTP client options (auth, TLS, headers from files) from its shadow section, storage.path for --data.").String(),
		statsdMapping:  c.Flag("statsd-mapping", "statsd_exporter mapping file, to explain timer percentile gaps by each timer's own buckets or native histogram; default statsd.mapping_file of --config.").String(),
		rules:          c.Flag("rules", "Imported rule files (glob, repeatable), e.g. DIR/rules/*.yml.").Required().Strings(),
		data:           c.Flag("data", "Copenhagen's storage.path (opened read-only); default storage.path of --config.").String(),
		start:          c.Flag("start", "Start: RFC 3339 or unix seconds.").Required().String(),
		end:            c.Flag("end", "End: RFC 3339 or unix seconds.").Required().String(),
		interval:       c.Flag("interval", "Evaluation step (Seyren ran every minute).").Default("1m").Duration(),
		timeout:        c.Flag("timeout", "Timeout of one render.").Default("20s").Duration(),
		minEvaluations: c.Flag("min-evaluations", "Comparable evaluations a check needs to be ready.").Default("60").Int(),
		minEpisodes:    c.Flag("min-episodes", "Non-OK episodes a check needs to be ready.").Default("1").Int(),
		out:            c.Flag("out", "Directory for the evidence of disagreements.").String(),
		format:         c.Flag("format", "Output format.").Default("md").Enum("md", "json"),
	}
}

func parseReplayTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return time.Unix(n, 0), nil
	}
	return time.Time{}, fmt.Errorf("time %q: expected RFC 3339 (2026-12-01T10:00:00Z) or unix seconds", s)
}

func shadowReplay(f *shadowReplayFlags, stdout, stderr io.Writer) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "copenhagen shadow replay: "+format+"\n", args...)
		return 2
	}
	start, err := parseReplayTime(*f.start)
	if err != nil {
		return fail("--start: %v", err)
	}
	end, err := parseReplayTime(*f.end)
	if err != nil {
		return fail("--end: %v", err)
	}
	src, err := replaySources(f)
	if err != nil {
		return fail("%v", err)
	}
	checks, err := loadShadowChecks(src.checks)
	if err != nil {
		return fail("%v", err)
	}
	files, err := evaluate.Files(*f.rules)
	if err != nil {
		return fail("%v", err)
	}
	if len(files) == 0 {
		return fail("--rules matches no file")
	}
	rep, err := shadow.Replay(context.Background(), shadow.ReplayOptions{
		Graphite: src.graphite, Seyren: src.seyren, Checks: checks, RuleFiles: files, DataDir: src.data,
		Start: start, End: end, Interval: *f.interval, Timeout: *f.timeout,
		MinEvaluations: *f.minEvaluations, MinEpisodes: *f.minEpisodes, Dir: *f.out,
		TimerHistograms: src.timers, TimerBuckets: src.timerBuckets, TrafficShare: src.trafficShare,
	})
	if err != nil {
		return fail("%v", err)
	}
	return writeShadowReport(rep, *f.format, stdout)
}

func writeShadowReport(rep shadow.Report, format string, stdout io.Writer) int {
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", " ")
		_ = enc.Encode(rep)
	} else {
		_, _ = stdout.Write(rep.Markdown())
	}
	switch {
	case rep.Ready():
		return exitReady
	case rep.Totals().Reasons[shadow.ReasonUnexplained] > 0:
		return exitDiverging
	}
	return exitNotReady
}

func shadowReportCmd(app *kingpin.Application) (*kingpin.CmdClause, *shadowReportFlags, *kingpin.CmdClause, *shadowReplayFlags) {
	sh := app.Command("shadow", "The switchover shadow: imported checks evaluated both ways, Seyren's and Copenhagen's.")
	replay, replayFlags := shadowReplayCmd(sh)
	rep := sh.Command("report", "Show the shadow's verdict per check; exit 0 only when every check is ready (gate the switch on it).")
	return rep, &shadowReportFlags{
		url:     rep.Flag("url", "Copenhagen's base URL (it serves /api/v1/shadow).").Required().String(),
		format:  rep.Flag("format", "Output format.").Default("md").Enum("md", "json"),
		check:   rep.Flag("check", "Only this check id.").String(),
		timeout: rep.Flag("timeout", "HTTP timeout.").Default("30s").Duration(),
	}, replay, replayFlags
}

// Exit statuses of `copenhagen shadow report`.
const (
	exitReady     = 0
	exitNotReady  = 1
	exitDiverging = 3
)

func shadowReport(f *shadowReportFlags, stdout, stderr io.Writer) int {
	u, err := url.Parse(strings.TrimRight(*f.url, "/"))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "copenhagen shadow report: --url: expected http(s)://host:port, got %q\n", redactedURL(*f.url))
		return 2
	}
	u.Path += shadow.APIPath
	if *f.check != "" {
		u.RawQuery = url.Values{"check": {*f.check}}.Encode()
	}
	ctx, cancel := context.WithTimeout(context.Background(), *f.timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "copenhagen shadow report: %v\n", err)
		return 2
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		fmt.Fprintf(stderr, "copenhagen shadow report: reading %s: %v\n", u.Redacted(), err)
		return 2
	}
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "copenhagen shadow report: %s answered %s: %s\n", u.Redacted(), resp.Status, strings.TrimSpace(string(body[:min(len(body), 300)])))
		return 2
	}
	var rep shadow.Report
	if err := json.Unmarshal(body, &rep); err != nil {
		fmt.Fprintf(stderr, "copenhagen shadow report: %s: not a shadow report: %v\n", u.Redacted(), err)
		return 2
	}
	if *f.check != "" && len(rep.Checks) == 0 {
		fmt.Fprintf(stderr, "copenhagen shadow report: no check %q in the shadow\n", *f.check)
		return 2
	}
	return writeShadowReport(rep, *f.format, stdout)
}

func redactedURL(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Redacted()
	}
	return "<unparsable>"
}

// timerHistograms tells the import how each StatsD timer is stored, from
// the statsd mapping ("" is statsd_exporter's behaviour without one:
// observers become summaries, so no note): names.Mapper.Histogram, the
// layout ingestion stores.
func timerHistograms(statsdMapping string) (seyren.TimerHistogramFunc, error) {
	if statsdMapping == "" {
		return nil, nil
	}
	m, err := names.Load(statsdMapping)
	if err != nil {
		return nil, fmt.Errorf("mapping %s: %w", statsdMapping, err)
	}
	return seyren.TimerHistograms(m), nil
}
