package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/alecthomas/kingpin/v2"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteql"
	"github.com/copenhagen-obs/copenhagen/translate/names"
)

// exprFlags are the flags of `copenhagen translate expr`.
type exprFlags struct {
	statsdMapping   *string
	graphiteMapping *string
	from, until     *string
	expr            *string
}

func translateExprFlags(cmd *kingpin.CmdClause) *exprFlags {
	return &exprFlags{
		statsdMapping:   cmd.Flag("statsd-mapping", "statsd_exporter-compatible mapping file used for StatsD traffic.").String(),
		graphiteMapping: cmd.Flag("graphite-mapping", "Mapping file used for Graphite (carbon) traffic.").String(),
		from:            cmd.Flag("from", "Seyren check window start (e.g. -11minutes): print the PromQL for the last non-null value of each series in [from, until], as Seyren compares it.").String(),
		until:           cmd.Flag("until", "Seyren check window end (e.g. -1minutes; default now). Only with --from.").String(),
		expr:            cmd.Arg("expr", "Graphite expression.").Required().String(),
	}
}

// translateExpr is `copenhagen translate expr`. It prints the PromQL with
// its notes as PromQL comments, so the output can be pasted as is. Exit
// status: 0 translated (or partially, see the notes), 1 untranslated, 2
// syntax error or unusable input.
func translateExpr(f *exprFlags, stdout, stderr io.Writer) int {
	expr := *f.expr
	if _, err := graphiteql.Parse(expr); err != nil {
		var perr *graphiteql.Error
		if errors.As(err, &perr) {
			fmt.Fprintf(stderr, "copenhagen: syntax error at column %d: %s\n  %s\n  %s^\n", perr.Column, perr.Msg, expr, strings.Repeat(" ", perr.Column-1))
		} else {
			fmt.Fprintf(stderr, "copenhagen: %v\n", err)
		}
		return 2
	}
	sm, err := names.Load(*f.statsdMapping)
	if err != nil {
		fmt.Fprintf(stderr, "copenhagen: --statsd-mapping: %v\n", err)
		return 2
	}
	gm, err := names.Load(*f.graphiteMapping)
	if err != nil {
		fmt.Fprintf(stderr, "copenhagen: --graphite-mapping: %v\n", err)
		return 2
	}
	r := graphiteql.NewResolver(sm, gm, graphiteql.DefaultOptions())
	var res graphiteql.Result
	if *f.from != "" {
		from, err := graphiteql.ParseOffset(*f.from)
		if err != nil {
			fmt.Fprintf(stderr, "copenhagen: --from: %v\n", err)
			return 2
		}
		until, err := graphiteql.ParseOffset(*f.until)
		if err != nil {
			fmt.Fprintf(stderr, "copenhagen: --until: %v\n", err)
			return 2
		}
		res = graphiteql.TranslateLast(expr, r, graphiteql.TranslateOptions{From: from, Until: until})
	} else {
		if *f.until != "" {
			fmt.Fprintln(stderr, "copenhagen: --until needs --from")
			return 2
		}
		res = graphiteql.TranslateGraph(expr, r, graphiteql.TranslateOptions{})
	}
	if res.Status == graphiteql.Untranslated {
		fmt.Fprintln(stdout, res.Reason)
	} else {
		fmt.Fprintln(stdout, res.PromQL)
	}
	if res.Status == graphiteql.Partial {
		fmt.Fprintln(stdout, "# partial: approximate, see the notes")
	}
	for _, n := range res.Notes {
		fmt.Fprintln(stdout, "# note: "+n)
	}
	if l := res.Legend; l != nil {
		// The series names Graphite gave, as a Grafana legendFormat.
		switch {
		case l.Format != "" && l.Exact:
			fmt.Fprintln(stdout, "# legend: "+l.Format)
		case l.Format != "":
			fmt.Fprintf(stdout, "# legend: %s (not exact: %s)\n", l.Format, l.Reason)
		default:
			fmt.Fprintln(stdout, "# legend: none gives Graphite's names: "+l.Reason)
		}
	}
	if res.Status == graphiteql.Untranslated {
		return 1
	}
	return 0
}
