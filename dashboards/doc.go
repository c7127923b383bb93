// Package dashboards holds what Copenhagen does with Grafana dashboards:
// converting the teams' Graphite dashboards to PromQL (convert), fetching
// them from a Grafana instance (grafanaapi), and validating every
// dashboard written against Grafana's own schemas (schema).
package dashboards
