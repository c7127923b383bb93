package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/alecthomas/kingpin/v2"

	"github.com/copenhagen-obs/copenhagen/dashboards/convert"
	"github.com/copenhagen-obs/copenhagen/dashboards/grafanaapi"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteql"
	"github.com/copenhagen-obs/copenhagen/translate/names"
)

// grafanaFlags are the flags of `copenhagen import grafana`.
type grafanaFlags struct {
	from, out, statsdMapping, graphiteMapping, tokenFile, datasourceUID *string
	timeout, flushInterval                                              *time.Duration
}

func importGrafanaFlags(cmd *kingpin.CmdClause) *grafanaFlags {
	return &grafanaFlags{
		from:            cmd.Flag("from", "Dashboard JSON file, a directory of them, or a Grafana base URL (all its dashboards with Graphite targets).").Required().String(),
		out:             cmd.Flag("out", "Output directory: <uid>.json per dashboard, report.md, report.json.").Required().String(),
		statsdMapping:   cmd.Flag("statsd-mapping", "statsd_exporter-compatible mapping file used for StatsD traffic.").String(),
		graphiteMapping: cmd.Flag("graphite-mapping", "Mapping file used for Graphite (carbon) traffic.").String(),
		tokenFile:       cmd.Flag("token-file", "File holding a Grafana service account token (URL mode).").String(),
		datasourceUID:   cmd.Flag("datasource-uid", "uid of the Prometheus data source in Grafana (deploy/grafana provisions \"copenhagen\"), for dashboards that named their Graphite data source (exports with ${DS_...} inputs keep an input).").Default("copenhagen").String(),
		timeout:         cmd.Flag("timeout", "Timeout of the whole Grafana API read (URL mode).").Default("2m").Duration(),
		flushInterval:   cmd.Flag("flush-interval", "flushInterval of the etsy statsd that wrote the Graphite data (stats_counts.* are counts per flush).").Default("10s").Duration(),
	}
}

// importGrafana is `copenhagen import grafana`.
func importGrafana(f *grafanaFlags, stdout, stderr io.Writer) int {
	fail := func(format string, args ...any) int {
		fmt.Fprintf(stderr, "import grafana: "+format+"\n", args...)
		return 1
	}
	sm, err := names.Load(*f.statsdMapping)
	if err != nil {
		return fail("--statsd-mapping: %v", err)
	}
	gm, err := names.Load(*f.graphiteMapping)
	if err != nil {
		return fail("--graphite-mapping: %v", err)
	}
	if *f.flushInterval <= 0 {
		return fail("--flush-interval must be greater than 0")
	}
	etsy := graphiteql.DefaultOptions()
	etsy.FlushInterval = *f.flushInterval
	opts := convert.Options{Resolver: graphiteql.NewResolver(sm, gm, etsy), DatasourceUID: *f.datasourceUID}
	var inputs []convert.Input
	if strings.HasPrefix(*f.from, "http://") || strings.HasPrefix(*f.from, "https://") {
		token := ""
		if *f.tokenFile != "" {
			b, err := os.ReadFile(*f.tokenFile)
			if err != nil {
				return fail("--token-file: %v", err)
			}
			token = strings.TrimSpace(string(b))
		}
		ctx, cancel := context.WithTimeout(context.Background(), *f.timeout)
		defer cancel()
		inputs, err = convert.ReadGrafana(ctx, &grafanaapi.Client{BaseURL: *f.from, Token: token, HTTP: &http.Client{}})
	} else {
		inputs, err = convert.ReadPath(*f.from, 16<<20)
	}
	if err != nil {
		return fail("%v", err)
	}
	res, err := convert.Import(inputs, *f.out, opts)
	if err != nil {
		return fail("%v", err)
	}
	t := convert.Totals(res.Reports)
	fmt.Fprintf(stdout, "%d dashboards converted (%d skipped: nothing on Graphite); targets: %d translated, %d partial, %d untranslated\n",
		len(res.Reports), len(res.Skipped), t[graphiteql.Translated], t[graphiteql.Partial], t[graphiteql.Untranslated])
	for _, p := range res.Files {
		fmt.Fprintln(stdout, "wrote", p)
	}
	return 0
}
