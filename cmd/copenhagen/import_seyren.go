package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteql"
	"github.com/copenhagen-obs/copenhagen/translate/names"
	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

//go:generate go test -run TestImportSeyrenExample -update-seyren-example .

// seyrenFlags are the flags of `copenhagen import seyren`.
type seyrenFlags struct {
	from              *string
	out               *string
	statsdMapping     *string
	graphiteMapping   *string
	seyrenURL         *string
	location          *string
	repeatInterval    *time.Duration
	step              *time.Duration
	team              *string
	teamOf            *map[string]string
	pagerDutyV2       *bool
	inlineWebhookURLs *bool
	secretsDir        *string
	resolveOnNoData   *bool
	timeout           *time.Duration
}

func importSeyrenFlags(cmd *kingpin.CmdClause) *seyrenFlags {
	return &seyrenFlags{
		from:            cmd.Flag("from", "Seyren base URL (reads GET /api/checks, all pages) or an export file.").Required().String(),
		out:             cmd.Flag("out", "Output directory.").Required().String(),
		statsdMapping:   cmd.Flag("statsd-mapping", "statsd_exporter-compatible mapping file used for StatsD traffic.").String(),
		graphiteMapping: cmd.Flag("graphite-mapping", "Mapping file used for Graphite (carbon) traffic.").String(),
		seyrenURL:       cmd.Flag("seyren-url", "Base URL of the Seyren UI for the links in alerts (default: --from when it is a URL).").String(),
		location: cmd.Flag("location", "Time zone of the subscriptions' fromTime/toTime (Seyren used its server's local time, which the export does not record).").
			Default("UTC").String(),
		repeatInterval: cmd.Flag("repeat-interval", "Alertmanager repeat_interval. Seyren never repeated a notification; run Alertmanager with --data.retention at least this long.").
			Default("8760h").Duration(),
		step:              cmd.Flag("step", "Resolution of the subquery that finds a computed series' last point in the check's window.").Default("1m").Duration(),
		team:              cmd.Flag("team", "team label of the checks without --team-of.").Default("unassigned").String(),
		teamOf:            cmd.Flag("team-of", "team label of one check: CHECK_ID=TEAM (repeatable).").StringMap(),
		pagerDutyV2:       cmd.Flag("pagerduty-v2", "Use PagerDuty Events API v2 (routing_key_file) instead of v1 (service_key_file, what Seyren used).").Bool(),
		inlineWebhookURLs: cmd.Flag("inline-webhook-urls", "Write HTTP subscription URLs into alertmanager.yml instead of url_file (needed by Alertmanager < 0.26).").Bool(),
		secretsDir:        cmd.Flag("secrets-dir", "Directory alertmanager.yml names for its *_file secrets (default: the absolute path of OUT/secrets, where they are written).").String(),
		resolveOnNoData:   cmd.Flag("resolve-on-no-data", "Resolve an alert when its series has no point in the window. Seyren kept the last state of a series without data (and notified nothing), which is the default.").Bool(),
		timeout:           cmd.Flag("timeout", "Timeout of the whole Seyren API read.").Default("2m").Duration(),
	}
}

// importSeyren is `copenhagen import seyren`.
func importSeyren(f *seyrenFlags, stdout, stderr io.Writer) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "import seyren: "+format+"\n", args...)
		return 1
	}
	tr, err := newSeyrenTranslator(*f.statsdMapping, *f.graphiteMapping, *f.step)
	if err != nil {
		return fail("%v", err)
	}
	timers, err := timerHistograms(*f.statsdMapping) // shadow.go
	if err != nil {
		return fail("%v", err)
	}
	var checks []seyren.Check
	linkBase := *f.seyrenURL
	if seyren.IsURL(*f.from) {
		ctx, cancel := context.WithTimeout(context.Background(), *f.timeout)
		defer cancel()
		checks, err = seyren.FetchChecks(ctx, &http.Client{}, *f.from)
		if linkBase == "" {
			linkBase = *f.from
		}
	} else {
		var data []byte
		data, err = os.ReadFile(*f.from)
		if err == nil {
			checks, err = seyren.ParseChecks(data)
		}
	}
	if err != nil {
		return fail("%v", err)
	}
	secretsDir := *f.secretsDir
	if secretsDir == "" {
		abs, err := filepath.Abs(filepath.Join(*f.out, "secrets"))
		if err != nil {
			return fail("%v", err)
		}
		secretsDir = abs
	}
	out, err := seyren.Import(checks, seyren.Options{
		Translator:        tr,
		Source:            *f.from,
		SeyrenURL:         linkBase,
		Location:          *f.location,
		RepeatInterval:    *f.repeatInterval,
		Step:              *f.step,
		Team:              *f.team,
		Teams:             *f.teamOf,
		PagerDutyV2:       *f.pagerDutyV2,
		InlineWebhookURLs: *f.inlineWebhookURLs,
		SecretsDir:        secretsDir,
		ResolveOnNoData:   *f.resolveOnNoData,
		TimerHistograms:   timers,
	})
	if err != nil {
		return fail("%v", err)
	}
	if err := out.Validate(); err != nil {
		return fail("generated output does not validate (a bug, please report it): %v", err)
	}
	if err := out.Write(*f.out); err != nil {
		return fail("%v", err)
	}
	s := out.Report.Summary
	fmt.Fprintf(stdout, "%d checks: %d translated, %d partial, %d untranslated, %d disabled; see %s\n",
		len(out.Report.Checks), s[seyren.StatusTranslated], s[seyren.StatusPartial], s[seyren.StatusUntranslated], s[seyren.StatusDisabled],
		filepath.Join(*f.out, "report.md"))
	var fill []string
	for _, sec := range out.Report.Secrets {
		if sec.ToFill {
			fill = append(fill, filepath.Join(*f.out, sec.File))
		}
	}
	if len(fill) > 0 {
		fmt.Fprintf(stdout, "fill in before starting Alertmanager: %s\n", strings.Join(fill, ", "))
	}
	return 0
}

// newSeyrenTranslator builds the Graphite translator from the mapping
// files ingestion uses, so that a check's names resolve to the series
// Copenhagen writes. step is the subquery resolution of the rules.
func newSeyrenTranslator(statsdMapping, graphiteMapping string, step time.Duration) (seyren.Translator, error) {
	load := func(path string) (*names.Mapper, error) {
		if path == "" {
			return nil, nil
		}
		m, err := names.Load(path)
		if err != nil {
			return nil, fmt.Errorf("mapping %s: %w", path, err)
		}
		return m, nil
	}
	sm, err := load(statsdMapping)
	if err != nil {
		return nil, err
	}
	gm, err := load(graphiteMapping)
	if err != nil {
		return nil, err
	}
	r := graphiteql.NewResolver(sm, gm, graphiteql.DefaultOptions())
	return seyrenTranslator{r: r, step: step}, nil
}

// seyrenTranslator gives the import both the graph translation of a target
// (for the report and the unit tests) and its Seyren-semantics translation
// over the check's window (for the rules).
type seyrenTranslator struct {
	r    *graphiteql.Resolver
	step time.Duration
}

func (t seyrenTranslator) opts(w seyren.Window) graphiteql.TranslateOptions {
	return graphiteql.TranslateOptions{From: w.Range + w.Offset, Until: w.Offset, Step: t.step}
}

func (t seyrenTranslator) Translate(target string, w seyren.Window) graphiteql.Result {
	return graphiteql.Translate(target, t.r, t.opts(w))
}

func (t seyrenTranslator) TranslateLast(target string, w seyren.Window) graphiteql.Result {
	return graphiteql.TranslateLast(target, t.r, t.opts(w))
}
