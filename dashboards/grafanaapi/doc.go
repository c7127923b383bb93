// Package grafanaapi reads the dashboards of a Grafana instance through
// its HTTP API (GET /api/search?type=dash-db, then
// GET /api/dashboards/uid/<uid>), with a service account token, so that
// `copenhagen import grafana --from URL` converts a whole instance. Grafana
// is AGPL and not run here: the tests serve the API's exact shapes from a
// stand-in that checks the bearer token.
package grafanaapi
