// Package tv serves /tv, the wallboard Copenhagen shows without Grafana:
// one tile per imported Seyren check (and per other alerting rule) of a
// team, coloured by the state of its alert, with the check's current
// value, for a screen across a room.
//
// Why it exists: teams leaving Seyren kept a Grafana TV dashboard whose
// tiles were thresholds on the Graphite value, so a check that stopped
// receiving data stayed green, and Grafana's kiosk mode adds scroll bars
// and controls. Here the tiles come from the rules that actually alert
// (Prometheus's rules manager in alerting/evaluate): a tile is red
// exactly when its critical alert fires, amber for warning, grey when the
// check has no value, and carries a "stale" mark when the rule group
// stopped evaluating, failed, or the check's data stopped (the
// evaluator's CopenhagenCheckNoData). The page fits any screen without
// scroll bars, sizes its text to the tile, embeds everything it needs
// (no CDN), refreshes itself and changes a tile's colour only when its
// state changes.
//
// The page reads through two small interfaces, Rules (the rule groups
// and the evaluator's own alerts) and Values (an instant query), so that
// cmd only wires it and tests can drive it with real rule groups.
package tv
