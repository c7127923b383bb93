package seyrentest

import (
	"context"
	"encoding/json"
	"time"

	"github.com/copenhagen-obs/copenhagen/alerting/shadow"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb"
	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

// Recorder writes alert rows into a Server the way Seyren's CheckRunner
// does (CheckRunner.java): each run renders the check's target over
// graphite-web, takes each target's last state from its newest row in
// the store (OK without one), writes a row on every non-OK evaluation and
// on every change, and stores the check's state and lastCheck. The
// verdicts come from alerting/shadow's port of the runner: rows recorded
// here test paging, timelines and the live and replay plumbing against a
// real graphite-web, not the port itself.
type Recorder struct {
	Server   *Server
	Graphite shadow.Renderer
	Checks   []seyren.Check
}

// RunAt runs every check once, as of now.
func (r *Recorder) RunAt(ctx context.Context, now time.Time) {
	for _, c := range r.Checks {
		th, err := shadow.ParseThresholds(c.Warn.Text, c.Error.Text)
		if err != nil {
			continue
		}
		series, ferr := r.Graphite.Render(ctx, graphiteweb.Request{Target: c.Target, From: c.From, Until: c.Until, Now: now, NoCache: true})
		last := shadow.LastStates{}
		newest := map[string]int64{}
		for _, a := range r.Server.Alerts() {
			if a.CheckID != c.ID {
				continue
			}
			if ts, ok := newest[a.Target]; !ok || a.Timestamp >= ts {
				newest[a.Target] = a.Timestamp
				last[a.Target] = a.ToType
			}
		}
		res := shadow.Run(series, ferr, th, c.AllowNoData, last)
		if res.Aborted {
			continue // the run threw: nothing stored
		}
		ms := now.UnixMilli()
		for _, t := range res.Targets {
			if !t.Alert {
				continue
			}
			r.Server.AddAlert(shadow.SeyrenAlert{CheckID: c.ID, Value: json.Number(t.Text), Target: t.Target,
				Warn: json.Number(c.Warn.Text), Error: json.Number(c.Error.Text), FromType: t.Last, ToType: t.State, Timestamp: ms})
		}
		r.Server.SetCheckState(c.ID, res.State, ms)
	}
}

// Run runs every check each interval (Seyren's fixedRate schedule) until
// ctx ends.
func (r *Recorder) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			rctx, cancel := context.WithTimeout(ctx, every)
			r.RunAt(rctx, now)
			cancel()
		}
	}
}
