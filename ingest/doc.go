// Package ingest groups what takes data in: the listeners and the
// parsers of the protocols the legacy stack speaks, and the relay that
// keeps the legacy daemons fed during the migration. Nothing here knows
// Prometheus's data model; its packages hand parsed lines and points to
// translate/.
//
//   - listen: UDP (recvmmsg), TCP, length-framed TCP (pickle) and
//     unixgram listeners, one Handler per reader goroutine or connection,
//     with drop accounting and connection limits;
//   - statsd: StatsD lines in every dialect (etsy, DogStatsD, InfluxDB,
//     Librato, SignalFX tags), parsed without allocating;
//   - graphite: carbon plaintext, tagged paths and pickle frames, and the
//     plaintext rendering of pickle points for the relay;
//   - relay: forwarding of raw lines to legacy StatsD and carbon daemons,
//     with bounded queues and routes;
//   - logs: log file discovery, tailing, rotation, CRI/Docker formats,
//     multiline entries and positions for at-least-once delivery;
//   - number, reason, ratelog, backoff, sharedmetric: what the ingest
//     paths share: the number parser (one fast path, a dialect per
//     protocol), rejection reasons and their per-reader counter,
//     rate-limited drop logs, jittered retries, self-metrics registered
//     once per registry.
//
// Every drop is a self-metric with a reason label and a rate-limited log
// line; hostile input is counted and never costs the good data next to
// it.
package ingest
