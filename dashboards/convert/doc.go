// Package convert turns a Grafana dashboard over Graphite into the same
// dashboard over Prometheus: the same layout, rows (collapsed ones with
// their panels), repeats, links, descriptions, time settings and ids, with
// every Graphite target translated by translate/graphiteql and legends that
// give the series exactly the names Graphite gave them, so that the
// overrides matching those names keep working.
//
// The dashboard is handled as a JSON document (map[string]any), never
// through a typed model: what the conversion does not own is kept as it
// is. It owns the data source references (names, ${DS_...}, __inputs and
// __requires), the Graphite targets and template variables, Graphite
// annotations, and the legacy panel types it upgrades as Grafana's own
// migrations do (graph -> timeseries as flotToGraphOptions, singlestat ->
// stat as schema version 28).
//
// Nothing is dropped silently: a target that cannot be translated stays
// in its panel, hidden, on its Graphite data source, with the reason in the
// Report and in the panel description; every approximation is a note.
package convert
