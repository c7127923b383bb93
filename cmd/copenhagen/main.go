// Command copenhagen is the observability bridge: it receives StatsD (and,
// as the project grows, Graphite and logs), translates names into labelled
// Prometheus series and serves or ships them.
//
// Subcommands:
//
//	copenhagen run [--config FILE]
//	copenhagen check config FILE
//	copenhagen translate name [--mapping FILE] [--type c|g|ms|h|d|s] NAME...
//	copenhagen translate expr [--statsd-mapping FILE] [--graphite-mapping FILE] EXPR
//	copenhagen import seyren --from URL|FILE --out DIR [--statsd-mapping FILE] [--graphite-mapping FILE]
//	copenhagen shadow report --url URL [--format md|json] [--check ID]
//	copenhagen shadow replay --checks FILE --graphite URL --rules GLOB --data DIR --start T --end T
//	copenhagen import grafana --from FILE|DIR|URL --out DIR [--statsd-mapping FILE] [--graphite-mapping FILE] [--token-file FILE]
//	copenhagen version (also --version); -h or --help on any command
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/alecthomas/kingpin/v2"
)

// Set by the linker: -ldflags "-X main.version=..."; otherwise the module
// version `go install ...@version` recorded (see versionText).
var version = "dev"

func main() {
	os.Exit(runCLI(os.Args[1:], os.Stdout, os.Stderr))
}

// runCLI parses arguments and runs one subcommand; it returns the exit code
// so tests can drive the CLI without a process.
func runCLI(args []string, stdout, stderr io.Writer) (code int) {
	app := kingpin.New("copenhagen", "Bridge StatsD and Graphite traffic to Prometheus series, with alerting.")
	app.Writer(stderr)
	// kingpin calls Terminate after --help and --version and expects it not
	// to return (it would print the help a second time). Unwind to here
	// instead of exiting, so tests can drive the CLI, and never go on to
	// run the command whose help was asked for.
	type terminate struct{ code int }
	app.Terminate(func(code int) { panic(terminate{code}) })
	defer func() {
		if r := recover(); r != nil {
			t, ok := r.(terminate)
			if !ok {
				panic(r)
			}
			code = t.code
		}
	}()
	// Help asked for is output, not an error: stdout, exit 0.
	app.UsageWriter(stdout)
	app.ErrorWriter(stderr)
	app.HelpFlag.Short('h')
	app.Version(versionText())

	runCmd := app.Command("run", "Run the bridge (embedded defaults when no config file is given).")
	runConfig := runCmd.Flag("config", "Configuration file (YAML).").Short('c').String()

	checkCmd := app.Command("check", "Validate files without running.")
	checkConfigCmd := checkCmd.Command("config", "Validate a configuration file and the files it refers to.")
	checkConfigFile := checkConfigCmd.Arg("file", "Configuration file.").Required().String()
	checkPrint := checkConfigCmd.Flag("print", "Print the effective configuration (secrets redacted).").Bool()

	trCmd := app.Command("translate", "Show how names are translated.")
	trNameCmd := trCmd.Command("name", "Print the series each StatsD name becomes, or why it is dropped or unmapped.")
	trMapping := trNameCmd.Flag("mapping", "statsd_exporter-compatible mapping file.").String()
	trType := trNameCmd.Flag("type", "StatsD type of the samples: c, g, ms, h, d or s.").Default("c").Enum("c", "g", "ms", "h", "d", "s")
	trNames := trNameCmd.Arg("name", "StatsD names, optionally with tags in any dialect (api.hits,host=a or api.hits|#host:a).").Required().Strings()

	trExprCmd := trCmd.Command("expr", "Translate a Graphite expression (Seyren check target, dashboard target) into PromQL, or say why not.")
	trExprFlags := translateExprFlags(trExprCmd)

	importCmd := app.Command("import", "Import legacy configuration.")
	importSeyrenCmd := importCmd.Command("seyren", "Turn Seyren checks into Prometheus rule files, an Alertmanager configuration and a report.")
	importSeyrenFlags := importSeyrenFlags(importSeyrenCmd)
	importGrafanaCmd := importCmd.Command("grafana", "Convert Grafana dashboards over Graphite into dashboards over Prometheus, with a per-target report.")
	importGrafanaFlags := importGrafanaFlags(importGrafanaCmd)

	shadowReportCmd, shadowReportFlags, shadowReplayCmd, shadowReplayFlags := shadowReportCmd(app) // shadow.go

	versionCmd := app.Command("version", "Print the version, the commit it was built from and the Go version.")

	cmd, err := app.Parse(args)
	if err != nil {
		fmt.Fprintf(stderr, "copenhagen: %v (see copenhagen --help)\n", err)
		return 2
	}
	switch cmd {
	case runCmd.FullCommand():
		return runServer(*runConfig, stderr)
	case checkConfigCmd.FullCommand():
		return checkConfig(*checkConfigFile, *checkPrint, stdout, stderr)
	case trNameCmd.FullCommand():
		return translateNames(*trMapping, *trType, *trNames, stdout, stderr)
	case trExprCmd.FullCommand():
		return translateExpr(trExprFlags, stdout, stderr)
	case importSeyrenCmd.FullCommand():
		return importSeyren(importSeyrenFlags, stdout, stderr)
	case shadowReportCmd.FullCommand():
		return shadowReport(shadowReportFlags, stdout, stderr)
	case shadowReplayCmd.FullCommand():
		return shadowReplay(shadowReplayFlags, stdout, stderr)
	case importGrafanaCmd.FullCommand():
		return importGrafana(importGrafanaFlags, stdout, stderr)
	case versionCmd.FullCommand():
		fmt.Fprintln(stdout, versionText())
		return 0
	}
	// kingpin printed help (--help) and returned no command.
	return 0
}
