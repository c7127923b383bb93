package main

import (
	"fmt"
	"io"

	"github.com/alecthomas/kingpin/v2"
)

// exprFlags are the flags of `copenhagen translate expr`.
type exprFlags struct {
	statsdMapping   *string
	graphiteMapping *string
	expr            *string
}

func translateExprFlags(cmd *kingpin.CmdClause) *exprFlags {
	return &exprFlags{
		statsdMapping:   cmd.Flag("statsd-mapping", "statsd_exporter-compatible mapping file used for StatsD traffic.").String(),
		graphiteMapping: cmd.Flag("graphite-mapping", "Mapping file used for Graphite (carbon) traffic.").String(),
		expr:            cmd.Arg("expr", "Graphite expression.").Required().String(),
	}
}

// translateExpr is `copenhagen translate expr`. Not implemented yet.
func translateExpr(f *exprFlags, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "translate expr: not implemented yet")
	return 1
}
