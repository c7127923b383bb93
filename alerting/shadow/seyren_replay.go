package shadow

import (
	"context"
	"slices"
	"time"
)

// replayHistories reads every check's alert history from Seyren back to
// start (the first row older than it included, for the state at start),
// rebuilds the timelines, seeds the emulator with each target's state at
// start, and moves start onto Seyren's phase (the median of every row's
// timestamp modulo the interval), so that the emulator runs when Seyren
// ran. nil without Seyren.
func (s *Shadow) replayHistories(ctx context.Context, start time.Time, interval time.Duration) (map[string]History, time.Time) {
	if s.opts.Seyren == nil {
		return nil, start
	}
	out := map[string]History{}
	var all []SeyrenAlert
	ids := make([]string, 0, len(s.checks))
	for id := range s.checks {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
		h, err := s.opts.Seyren.Alerts(rctx, id, start)
		cancel()
		s.countSeyren(err)
		st := s.statsFor(s.checks[id])
		if err != nil {
			s.opts.Logger.Warn("shadow replay: Seyren's alert history", "check_id", id, "err", err)
			out[id] = History{unreachable: true}
			s.mu.Lock()
			s.seyrenStats(st)
			s.mu.Unlock()
			continue
		}
		if h.Truncated {
			s.m.seyrenTruncated.Inc()
		}
		hist := BuildHistory(h.Rows, h.Complete, time.Now(), interval)
		out[id] = hist
		all = append(all, h.Rows...)
		last := LastStates{}
		for _, tl := range hist.Timelines {
			if seg, ok := tl.At(start); ok && seg.Known {
				last[tl.Target] = seg.State
			}
		}
		s.mu.Lock()
		ss := s.seyrenStats(st)
		ss.Rows, ss.Complete, ss.Truncated = len(h.Rows), h.Complete, h.Truncated
		if hist.Phase >= 0 {
			p := hist.Phase.Seconds()
			ss.PhaseSec = &p
		}
		st.seyrenStates = last
		s.mu.Unlock()
	}
	if p := Phase(all, interval); p >= 0 {
		ms := interval.Milliseconds()
		at := start.UnixMilli()
		aligned := at - at%ms + p.Milliseconds()
		if aligned < at {
			aligned += ms
		}
		start = time.UnixMilli(aligned)
	}
	return out, start
}
