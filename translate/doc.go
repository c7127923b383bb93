// Package translate groups what turns ingested data into what the new
// stack reads, and the outputs that store and ship it:
//
//   - translation: names (statsd_exporter mapping rules, escaping),
//     series (live StatsD series, aggregation, /metrics, the flush
//     transaction into storage), carbon (Graphite points with their own
//     timestamps), streams (Loki stream labels of log files), graphiteql
//     (Graphite expressions into PromQL, one table of functions) and
//     seyren (Seyren checks into Prometheus rules and Alertmanager
//     routing);
//   - outputs: storage (Prometheus's TSDB or agent WAL, with remote write)
//     and lokipush (Loki push with acknowledgements, and the per-file sink
//     the log tailers write to);
//   - the read API: promapi (Prometheus's HTTP API v1 over the storage,
//     which Grafana and promtool query).
//
// Storage and shipping live here rather than at the top level because
// the repository's top level is fixed (cmd, ingest, translate, alerting,
// rules, dashboards, deploy): they are the last stage of the translation
// pipeline. The README's "Code map" traces each pipeline through these
// packages.
package translate
