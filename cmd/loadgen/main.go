// Command loadgen offers StatsD traffic at a fixed rate and measures how
// much of it a server counted, reading the server's own /metrics; and
// carbon plaintext points over one TCP connection, counting how many a
// Prometheus-compatible API returns afterwards.
//
//	loadgen statsd -addr 127.0.0.1:8125 -rate 2000000 -duration 3s \
//	    -metrics-url http://127.0.0.1:9095/metrics
//	loadgen graphite -addr 127.0.0.1:2003 -points 3000000 -names 10000 \
//	    -query-url http://127.0.0.1:9095
//
// It shares the machine with the server it measures, so the traffic is
// built before the clock starts and sent with sendmmsg in batches: the
// generator should cost a fraction of what the server spends receiving.
package main

import (
	"fmt"
	"os"
)

const usage = `usage: loadgen <command> [flags]

commands:
  statsd    send StatsD counter lines over UDP (or TCP) and count what the server saw
  graphite  send carbon plaintext points over one TCP connection and count what was stored

Run "loadgen statsd -h" or "loadgen graphite -h" for the flags.
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	switch os.Args[1] {
	case "statsd":
		os.Exit(runStatsd(os.Args[2:], os.Stdout, os.Stderr))
	case "graphite":
		os.Exit(runGraphite(os.Args[2:], os.Stdout, os.Stderr))
	case "-h", "-help", "--help", "help":
		fmt.Fprint(os.Stdout, usage)
	default:
		fmt.Fprintf(os.Stderr, "loadgen: unknown command %q\n\n%s", os.Args[1], usage)
		os.Exit(2)
	}
}
