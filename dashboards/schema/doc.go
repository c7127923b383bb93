// Package schema validates Grafana dashboard JSON against Grafana's own
// published dashboard schemas, so that what Copenhagen writes (converted
// Graphite dashboards, generated TV boards) loads in Grafana as written,
// with no option silently reset: the dashboard model is checked whole, and
// each panel's options and custom field config against its panel type's
// schema, each Prometheus query against the Prometheus query schema.
//
// The schemas (schemas/, draft-07) are those of
// grafana/grafana-foundation-sdk's jsonschema folder, Apache-2.0 (see
// schemas/LICENSE and schemas/README.md for the two relaxations that match
// Grafana's CUE schema), embedded so the check runs offline.
package schema
