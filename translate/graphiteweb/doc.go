// Package graphiteweb is a client of graphite-web's render API, the way
// Seyren reads it: GET /render?target=..&from=..&until=..&format=json,
// with now= to pin relative times to one instant so that the switchover
// shadow asks graphite-web exactly what Seyren would have seen at the
// moment Copenhagen evaluated the same check.
//
// The answer is decoded keeping each value's JSON text (Seyren compares
// thresholds as BigDecimal on that text, not as float64), nulls as
// absent points, and graphite-web's 1e9999 for ±Infinity. The body is
// bounded, and the HTTP client comes from prometheus/common's
// HTTPClientConfig (basic auth and bearer credentials from files, TLS,
// headers from files), so no secret lives in the config or a log line.
//
// Subpackage legacytest starts the real legacy stack (etsy statsd ->
// carbon-cache -> graphite-web) for integration tests.
package graphiteweb
