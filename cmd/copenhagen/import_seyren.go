package main

import (
	"fmt"
	"io"

	"github.com/alecthomas/kingpin/v2"
)

// seyrenFlags are the flags of `copenhagen import seyren`.
type seyrenFlags struct {
	from            *string
	out             *string
	statsdMapping   *string
	graphiteMapping *string
}

func importSeyrenFlags(cmd *kingpin.CmdClause) *seyrenFlags {
	return &seyrenFlags{
		from:            cmd.Flag("from", "Seyren base URL (reads GET /api/checks, all pages) or an export file.").Required().String(),
		out:             cmd.Flag("out", "Output directory.").Required().String(),
		statsdMapping:   cmd.Flag("statsd-mapping", "statsd_exporter-compatible mapping file used for StatsD traffic.").String(),
		graphiteMapping: cmd.Flag("graphite-mapping", "Mapping file used for Graphite (carbon) traffic.").String(),
	}
}

// importSeyren is `copenhagen import seyren`. Not implemented yet.
func importSeyren(f *seyrenFlags, stdout, stderr io.Writer) int {
	fmt.Fprintln(stderr, "import seyren: not implemented yet")
	return 1
}
