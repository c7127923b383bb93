// Package shadow is the switchover proof: every imported Seyren check is
// evaluated both ways at the same instant, Seyren's way over graphite-web
// (an exact port of Seyren's check runner, runner.go) and Copenhagen's way
// (the rule group `copenhagen import seyren` wrote, as Prometheus's rules
// manager just evaluated it), and the two verdicts are compared.
//
// Nobody turns Seyren off on faith: during the months of a ramp the shadow
// counts, per check, the evaluations that agree, disagree or cannot be
// compared (Graphite unreachable, no data on one side), classes every
// disagreement by the known, legitimate causes (window edges, rollup,
// counter per-second vs per-flush, percentile interpolation within a
// histogram bucket, coverage during a partial ramp, NaN from an idle
// timer) or as unexplained, keeps the evidence of the last disagreements
// on disk, and gives each check a verdict. "ready" needs a minimum of
// evaluations and of non-OK episodes, so that a quiet week is not taken
// for proof.
//
// A class given at evaluation time is provisional: graphite-web may not
// have the last points yet. The settled second pass (settle.go) asks both
// sides again about the same instant settle_delay later; a mismatch that
// disappears is timing, one that persists is logic.
//
// The Graphite side never delays or breaks evaluation or routing: the hook
// only copies the group's alert state and hands it to a bounded pool of
// workers (skipped and counted when busy), each render has a timeout, and
// failures are counted, never retried inline.
package shadow
