package shadow

import (
	"slices"
	"strings"
	"time"
)

// Seyren's alert history rebuilt as timelines (switchover.md §1.2):
// Seyren writes a row on every non-OK evaluation of a target (WARN->WARN
// every minute) and on every change (X->OK included), nothing while a
// target stays OK. So:
//   - after a row X->OK the target is OK until its next row;
//   - after a non-OK row the target holds that state while rows keep
//     coming every interval; a gap longer than GapIntervals intervals
//     means Seyren did not run or the target had no value (the two
//     cannot be told apart): unknown from one interval after the row
//     until the next row;
//   - before a target's oldest row it was OK when that row comes from OK
//     and the history was read to its end; otherwise (an oldest row from
//     a non-OK state: deleted history) unknown;
//   - UNKNOWN check states (no data at all) leave no trace: a target
//     without rows is OK.
// The check's state at t is the worst over its targets; it is unknown
// when a target is unknown and no known target is already ERROR.

// maxTimestamp is 9999-12-31 in epoch ms.
const maxTimestamp = 253402300799999

// GapIntervals is how many intervals without a row end a non-OK run's
// certainty.
const GapIntervals = 2

// Reasons a Seyren timeline gives no state at an instant.
const (
	SeyrenGap            = "seyren_gap"             // a gap in a non-OK run: Seyren did not run, or no value
	SeyrenHistoryMissing = "seyren_history_missing" // before the oldest row read (deleted, or not read)
	SeyrenThresholdEdit  = "seyren_threshold_edit"  // the row's thresholds are not the check's current ones
	SeyrenUnreachable    = "seyren_unreachable"
	SeyrenStale          = "seyren_stale"   // lastCheck older than two intervals
	SeyrenNoValue        = "seyren_unknown" // Seyren's check state is UNKNOWN (no value this run)
	SeyrenOtherSide      = "other_side_not_comparable"
)

// Segment is a span of one target's timeline: [From, To) in State, or
// unknown (Known false, Why says why).
type Segment struct {
	From, To time.Time
	State    State
	Known    bool
	Why      string `json:",omitempty"`
	// Warn and Error are the thresholds of the row that started the
	// segment ("" when none did).
	Warn, Error string
}

// Timeline is one Graphite target's history in Seyren.
type Timeline struct {
	Target   string
	Segments []Segment
}

// At is the segment holding t; a time after the last segment's To (the
// end of the history read) has none.
func (tl *Timeline) At(t time.Time) (Segment, bool) {
	i, found := slices.BinarySearchFunc(tl.Segments, t, func(s Segment, t time.Time) int {
		switch {
		case !s.To.After(t):
			return -1
		case s.From.After(t):
			return 1
		}
		return 0
	})
	if !found {
		return Segment{}, false
	}
	return tl.Segments[i], true
}

// History is a check's rebuilt alert history.
type History struct {
	Timelines []*Timeline
	// Start is where the history is known from (the oldest row read, or
	// zero when the history was read to its end); End is when it was read.
	Start, End time.Time
	Complete   bool
	Rows       int
	// Rejected counts rows with a timestamp before 1970 or after 9999
	// (not Seyren's: ignored).
	Rejected int
	// Phase is Seyren's schedule phase: the median of the rows'
	// timestamps modulo the interval (its fixedRate started with Seyren,
	// not on the minute). -1 without rows.
	Phase time.Duration

	unreachable bool // the history could not be read
}

func sortAlerts(rows []SeyrenAlert) {
	slices.SortStableFunc(rows, func(a, b SeyrenAlert) int {
		if a.Timestamp != b.Timestamp {
			if a.Timestamp < b.Timestamp {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID, b.ID)
	})
}

// BuildHistory rebuilds a check's timelines from its alert rows (any
// order), read at end, Seyren running every interval. complete says the
// rows reach the oldest one Seyren holds.
func BuildHistory(rows []SeyrenAlert, complete bool, end time.Time, interval time.Duration) History {
	rejected := 0
	rows = slices.DeleteFunc(slices.Clone(rows), func(r SeyrenAlert) bool {
		bad := r.Timestamp <= 0 || r.Timestamp > maxTimestamp
		if bad {
			rejected++
		}
		return bad
	})
	sortAlerts(rows)
	h := History{End: end, Complete: complete, Rows: len(rows), Rejected: rejected, Phase: Phase(rows, interval)}
	if !complete && len(rows) > 0 {
		h.Start = rows[0].Time()
	}
	byTarget := map[string][]SeyrenAlert{}
	var order []string
	for _, r := range rows {
		if _, ok := byTarget[r.Target]; !ok {
			order = append(order, r.Target)
		}
		byTarget[r.Target] = append(byTarget[r.Target], r)
	}
	slices.Sort(order)
	gap := time.Duration(GapIntervals) * interval
	for _, target := range order {
		rs := byTarget[target]
		tl := &Timeline{Target: target}
		first := rs[0]
		before := Segment{To: first.Time(), State: first.FromType}
		switch {
		case first.FromType == OK && complete:
			before.Known = true
		case first.FromType == OK || first.FromType == Unknown:
			before.Why = SeyrenHistoryMissing
		default:
			// A run that started before the oldest row: deleted history.
			before.Why = SeyrenHistoryMissing
		}
		tl.Segments = append(tl.Segments, before)
		for i, r := range rs {
			from := r.Time()
			next := end
			if i+1 < len(rs) {
				next = rs[i+1].Time()
			}
			if !next.After(from) {
				continue // several rows at one instant: the last one counts
			}
			seg := Segment{From: from, To: next, State: r.ToType, Known: true, Warn: r.Warn.String(), Error: r.Error.String()}
			if r.ToType != OK && next.Sub(from) > gap {
				seg.To = from.Add(interval)
				tl.Segments = append(tl.Segments, seg)
				seg = Segment{From: from.Add(interval), To: next, State: Unknown, Why: SeyrenGap}
			}
			tl.Segments = append(tl.Segments, seg)
		}
		h.Timelines = append(h.Timelines, tl)
	}
	return h
}

// CheckAt is the check's state in Seyren at t: the worst over its
// targets, with the segments it came from. ok false says why not.
func (h History) CheckAt(t time.Time) (st State, why string, segs []Segment) {
	if h.unreachable {
		return Unknown, SeyrenUnreachable, nil
	}
	if t.After(h.End) {
		return Unknown, SeyrenHistoryMissing, nil
	}
	if !h.Start.IsZero() && t.Before(h.Start) {
		return Unknown, SeyrenHistoryMissing, nil
	}
	worst := OK
	for _, tl := range h.Timelines {
		s, found := tl.At(t)
		if !found {
			continue
		}
		if !s.Known {
			if why == "" {
				why = s.Why
			}
			continue
		}
		segs = append(segs, s)
		if s.State > worst {
			worst = s.State
		}
	}
	if why != "" && worst < Error {
		return Unknown, why, segs
	}
	return worst, "", segs
}

// Phase is the median of the rows' timestamps modulo interval, -1 without
// rows. (A plain median: a phase near 0 that jitters across the
// interval's edge gives a wrong one.)
func Phase(rows []SeyrenAlert, interval time.Duration) time.Duration {
	if len(rows) == 0 || interval <= 0 {
		return -1
	}
	ms := interval.Milliseconds()
	mods := make([]int64, 0, len(rows))
	for _, r := range rows {
		m := r.Timestamp % ms
		if m < 0 {
			m += ms
		}
		mods = append(mods, m)
	}
	slices.Sort(mods)
	return time.Duration(mods[len(mods)/2]) * time.Millisecond
}
