package shadow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb"
)

// Seyren itself as the third side (shadow.seyren_url). Live, the shadow
// reads GET /api/checks once per interval (one request for every check)
// and compares the state Seyren reports with the last state of the
// emulated runner and of Copenhagen's rules; at start it seeds the
// emulator's per-target states from each check's newest alert row per
// target, so that it starts where Seyren is. The replay rebuilds each
// check's timelines from its alert history (seyren_history.go) and
// compares them at every step.
//
// In this repository's tests the Seyren side comes from a stand-in that
// reproduces Seyren's API contract (alerting/shadow/seyrentest): Seyren
// (Java 7, Spring, MongoDB) cannot run here. The stand-in's recorder
// writes rows with this package's port of the runner, so emulator-vs-
// Seyren agreement measured against it proves nothing about the
// emulator; the fixture histories are what test the reconstruction.

// SeyrenAgreement counts one pairing of Seyren with another side.
type SeyrenAgreement struct {
	Agree         int `json:"agree"`
	Disagree      int `json:"disagree"`
	NotComparable int `json:"not_comparable"`
	// Reasons classes the disagreements (window_edge: the other side
	// was in Seyren's state one evaluation before; unexplained
	// otherwise); NotComparableReasons says why not comparable.
	Reasons              map[string]int `json:"reasons,omitempty"`
	NotComparableReasons map[string]int `json:"not_comparable_reasons,omitempty"`
}

func (a *SeyrenAgreement) count(result, reason string) {
	switch result {
	case ResultAgree:
		a.Agree++
	case ResultDisagree:
		a.Disagree++
		if a.Reasons == nil {
			a.Reasons = map[string]int{}
		}
		a.Reasons[reason]++
	default:
		a.NotComparable++
		if a.NotComparableReasons == nil {
			a.NotComparableReasons = map[string]int{}
		}
		a.NotComparableReasons[reason]++
	}
}

func (a SeyrenAgreement) clone() SeyrenAgreement {
	if a.Reasons != nil {
		a.Reasons = cloneMap(a.Reasons)
	}
	if a.NotComparableReasons != nil {
		a.NotComparableReasons = cloneMap(a.NotComparableReasons)
	}
	return a
}

// SeyrenStats is the Seyren column of a check.
type SeyrenStats struct {
	// Observations: polls of /api/checks that had the check (live), or
	// replay steps (replay).
	Observations int `json:"observations"`
	// State is the last state Seyren reported (live: the check's state;
	// replay: the state rebuilt from its alert history), LastCheck when
	// Seyren ran it, At when it was read.
	State     State     `json:"state"`
	LastCheck time.Time `json:"last_check,omitzero"`
	At        time.Time `json:"at,omitzero"`
	// VsPromQL is the headline (Seyren vs Copenhagen's rules);
	// VsEmulator the noise floor (Seyren vs its port over graphite-web).
	VsPromQL   SeyrenAgreement `json:"seyren_vs_promql"`
	VsEmulator SeyrenAgreement `json:"seyren_vs_emulator"`
	// Replay only: alert rows read, whether the history reached its
	// oldest row, and Seyren's phase (seconds past the interval).
	Rows      int      `json:"history_rows,omitempty"`
	Complete  bool     `json:"history_complete,omitempty"`
	Truncated bool     `json:"history_truncated,omitempty"`
	PhaseSec  *float64 `json:"phase_seconds,omitempty"`
	// Seeded: the emulator's per-target states were taken from Seyren's
	// newest rows (live).
	Seeded bool `json:"seeded,omitempty"`
}

func (s *SeyrenStats) clone() *SeyrenStats {
	c := *s
	c.VsPromQL, c.VsEmulator = s.VsPromQL.clone(), s.VsEmulator.clone()
	return &c
}

// runNote is what the last comparisons left for the Seyren side.
type runNote struct {
	at                    time.Time
	emulator, promql      State // emulator: the check's state (worst over targets with a value)
	prevEmu, prevPromQL   State
	emuOK, promOK, hasPrv bool
	prevEmuAlerting       State // replay: the emulator's alerting state one step before
	seyrenKnown           bool  // replay: the history gave a state at the step before
}

// noteRun keeps the sides' states of an evaluation for the Seyren side;
// s.mu is held.
func noteRun(st *CheckStats, ts time.Time, res RunResult, runOK bool, p PromSide) {
	n := &st.run
	n.prevEmu, n.prevPromQL, n.hasPrv = n.emulator, n.promql, !n.at.IsZero()
	n.at = ts
	n.emuOK = runOK
	n.promOK = p.Err == nil && len(p.Series) > 0
	if runOK {
		n.emulator = res.State
	}
	n.promql = p.State
	st.compared = true
}

// seyrenVs compares a Seyren state with another side's. prev is that
// side's state one evaluation before, seyrenPrev Seyren's one reading
// before: the same transition seen one evaluation apart on either side
// (Seyren's schedule has its own phase) is window_edge.
func seyrenVs(seyren, other State, otherOK bool, prev State, hasPrev bool, seyrenPrev State, hasSeyrenPrev bool) (string, string) {
	switch {
	case !otherOK:
		return ResultNotComparable, SeyrenOtherSide
	case seyren == other:
		return ResultAgree, ""
	case hasPrev && prev == seyren, hasSeyrenPrev && seyrenPrev == other:
		return ResultDisagree, ReasonWindowEdge
	}
	return ResultDisagree, ReasonUnexplained
}

func (s *Shadow) seyrenStats(st *CheckStats) *SeyrenStats {
	if st.Seyren == nil {
		st.Seyren = &SeyrenStats{}
	}
	return st.Seyren
}

// seyrenLoop seeds the emulator from Seyren's newest rows, then polls
// GET /api/checks every interval until Stop.
func (s *Shadow) seyrenLoop() {
	defer s.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-s.stop
		cancel()
	}()
	s.seed(ctx)
	t := time.NewTicker(s.opts.SeyrenInterval)
	defer t.Stop()
	for {
		s.pollSeyren(ctx, time.Now())
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

func (s *Shadow) countSeyren(err error) {
	kind := "ok"
	if err != nil {
		kind = "network_error"
		var se *SeyrenError
		if errors.As(err, &se) {
			kind = se.Kind
		}
	}
	s.m.seyrenRequests.WithLabelValues(kind).Inc()
}

// seed sets each check's per-target emulator states from the toType of
// its newest alert row per target, unless the check was compared already
// (then the emulator is newer than what Seyren had written).
func (s *Shadow) seed(ctx context.Context) {
	for id, def := range s.checks {
		if ctx.Err() != nil {
			return
		}
		if def.bad != "" {
			continue
		}
		rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
		h, err := s.opts.Seyren.Alerts(rctx, id, time.Time{})
		cancel()
		s.countSeyren(err)
		if err != nil {
			s.seyrenLog.Warn(s.opts.Logger, "shadow: seeding the emulator from Seyren's alert history failed; it starts from its saved states", "check_id", id, "err", err)
			continue
		}
		if h.Truncated {
			s.m.seyrenTruncated.Inc()
		}
		last := LastStates{}
		for _, r := range h.Rows { // oldest first: the newest wins
			last[r.Target] = r.ToType
		}
		st := s.statsFor(def)
		s.mu.Lock()
		if !st.compared {
			st.seyrenStates = last
			s.seyrenStats(st).Seeded = true
			s.dirty = true
		}
		s.mu.Unlock()
	}
}

// pollSeyren reads every check's state from Seyren once and compares it
// with the other sides' last evaluation.
func (s *Shadow) pollSeyren(ctx context.Context, now time.Time) {
	rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	checks, err := s.opts.Seyren.Checks(rctx)
	cancel()
	s.countSeyren(err)
	if err != nil {
		s.seyrenLog.Warn(s.opts.Logger, "shadow: reading Seyren's checks failed; the Seyren column is not compared this interval", "err", err)
		return
	}
	fresh := GapIntervals * s.opts.SeyrenInterval
	for _, c := range checks {
		def := s.checks[c.ID]
		if def == nil {
			continue
		}
		st := s.statsFor(def)
		s.mu.Lock()
		ss := s.seyrenStats(st)
		seyPrev, hasSeyPrev := ss.State, ss.Observations > 0
		ss.Observations++
		ss.State, ss.At = c.State, now.UTC()
		ss.LastCheck = time.Time{}
		if c.LastCheck > 0 {
			ss.LastCheck = time.UnixMilli(c.LastCheck).UTC()
		}
		n := st.run
		var emu, prom [2]string
		switch {
		case c.LastCheck == 0 || now.Sub(ss.LastCheck) > fresh:
			emu = [2]string{ResultNotComparable, SeyrenStale}
			prom = emu
		case c.State == Unknown || c.State == Exception:
			emu = [2]string{ResultNotComparable, SeyrenNoValue}
			prom = emu
		case n.at.IsZero() || now.Sub(n.at) > fresh:
			emu = [2]string{ResultNotComparable, SeyrenOtherSide}
			prom = emu
		default:
			emu[0], emu[1] = seyrenVs(c.State, n.emulator, n.emuOK, n.prevEmu, n.hasPrv, seyPrev, hasSeyPrev)
			prom[0], prom[1] = seyrenVs(c.State, n.promql, n.promOK, n.prevPromQL, n.hasPrv, seyPrev, hasSeyPrev)
		}
		ss.VsEmulator.count(emu[0], emu[1])
		ss.VsPromQL.count(prom[0], prom[1])
		s.dirty = true
		s.mu.Unlock()
		s.m.state.WithLabelValues(c.ID, "seyren").Set(float64(c.State))
		s.m.seyrenComparisons.WithLabelValues(c.ID, "promql", prom[0]).Inc()
		s.m.seyrenComparisons.WithLabelValues(c.ID, "emulator", emu[0]).Inc()
	}
}

// sameThresholds says whether a history row's thresholds are the check's.
func sameThresholds(seg Segment, th Thresholds) bool {
	if seg.Warn == "" && seg.Error == "" {
		return true
	}
	w, err1 := parseDecimal(seg.Warn)
	e, err2 := parseDecimal(seg.Error)
	if err1 != nil || err2 != nil || th.Warn == nil || th.Error == nil {
		return false
	}
	return w.Cmp(th.Warn) == 0 && e.Cmp(th.Error) == 0
}

// compareHistory compares Seyren's rebuilt state at ts with the step's
// outcome (replay).
func (s *Shadow) compareHistory(checkID string, h History, ts time.Time, o Outcome) {
	def := s.checks[checkID]
	if def == nil {
		return
	}
	st := s.statsFor(def)
	state, why, segs := h.CheckAt(ts)
	if why == "" {
		for _, seg := range segs {
			if !sameThresholds(seg, def.th) {
				why = SeyrenThresholdEdit
				break
			}
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.seyrenStats(st)
	seyPrev, hasSeyPrev := ss.State, ss.Observations > 0 && st.run.seyrenKnown
	ss.Observations++
	ss.At = ts.UTC()
	ss.State = state
	st.run.seyrenKnown = why == ""
	n := st.run
	var emu, prom [2]string
	if why != "" {
		emu = [2]string{ResultNotComparable, why}
		prom = emu
	} else {
		// The emulator's alerting state is the per-target last states
		// Seyren's rows record (an idle target keeps its state).
		emuOK := n.emuOK && o.Reason != NCRolledUp
		emu[0], emu[1] = seyrenVs(state, o.Graphite, emuOK, n.prevEmuAlerting, n.hasPrv, seyPrev, hasSeyPrev)
		prom[0], prom[1] = seyrenVs(state, o.PromQL, n.promOK && o.Reason != NCPromQLError, n.prevPromQL, n.hasPrv, seyPrev, hasSeyPrev)
	}
	st.run.prevEmuAlerting = o.Graphite
	ss.VsEmulator.count(emu[0], emu[1])
	ss.VsPromQL.count(prom[0], prom[1])
	s.dirty = true
}

// Column sources, as the report labels them.
const (
	SourcePromQL = "Copenhagen's imported rules, as Prometheus's rules engine evaluated them"
)

func (s *Shadow) sources() map[string]string {
	m := map[string]string{
		"graphite": "Seyren's check runner emulated by Copenhagen (alerting/shadow runner.go) over graphite-web " + s.opts.Graphite.URL(graphiteweb.Request{}),
		"promql":   SourcePromQL,
	}
	if s.opts.Seyren != nil {
		what := "state reported by GET /api/checks"
		if s.opts.replay {
			what = "alert history from GET /api/checks/{id}/alerts, rebuilt per target"
		}
		m["seyren"] = "Seyren's API at " + s.opts.Seyren.URL() + ": " + what
	}
	return m
}

// seyrenMarkdown is the report's Seyren section ("" without the column).
func (r Report) seyrenMarkdown() []byte {
	var b bytes.Buffer
	any := false
	for _, c := range r.Checks {
		if c.Seyren != nil {
			any = true
		}
	}
	if !any {
		return nil
	}
	b.WriteString("\n## Seyren's own state (third column)\n\n")
	for _, k := range []string{"graphite", "promql", "seyren"} {
		if v := r.Sources[k]; v != "" {
			fmt.Fprintf(&b, "- %s: %s\n", k, mdEscape(v))
		}
	}
	b.WriteString("\nSeyren vs PromQL is the headline; Seyren vs the emulator is the noise floor of the comparison.\n\n")
	b.WriteString("| check | observations | last seyren | seyren vs promql (agree / disagree / n.c.) | seyren vs emulator (agree / disagree / n.c.) | disagreements | not comparable | phase |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|\n")
	for _, c := range r.Checks {
		ss := c.Seyren
		if ss == nil {
			fmt.Fprintf(&b, "| %s (`%s`) | 0 | | | | | | |\n", mdEscape(c.Name), mdEscape(c.CheckID))
			continue
		}
		phase := ""
		if ss.PhaseSec != nil {
			phase = fmt.Sprintf("%gs", *ss.PhaseSec)
		}
		fmt.Fprintf(&b, "| %s (`%s`) | %d | %s | %d / %d / %d | %d / %d / %d | %s | %s | %s |\n",
			mdEscape(c.Name), mdEscape(c.CheckID), ss.Observations, ss.State,
			ss.VsPromQL.Agree, ss.VsPromQL.Disagree, ss.VsPromQL.NotComparable,
			ss.VsEmulator.Agree, ss.VsEmulator.Disagree, ss.VsEmulator.NotComparable,
			mdEscape("promql: "+formatCounts(ss.VsPromQL.Reasons)+"; emulator: "+formatCounts(ss.VsEmulator.Reasons)),
			mdEscape(formatCounts(mergeCounts(ss.VsPromQL.NotComparableReasons, ss.VsEmulator.NotComparableReasons))), phase)
	}
	return b.Bytes()
}

func mergeCounts(a, b map[string]int) map[string]int {
	out := map[string]int{}
	for k, v := range a {
		out[k] = max(out[k], v)
	}
	for k, v := range b {
		out[k] = max(out[k], v)
	}
	return out
}
