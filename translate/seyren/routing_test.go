package seyren

import (
	"slices"
	"testing"
	"time"

	amconfig "github.com/prometheus/alertmanager/config"
	"github.com/prometheus/alertmanager/dispatch"
	"github.com/prometheus/alertmanager/timeinterval"
	"github.com/prometheus/common/model"
)

// TestRoutingLikeSeyren loads the generated alertmanager.yml with
// Alertmanager's own code and checks who is notified of what, and when.
func TestRoutingLikeSeyren(t *testing.T) {
	out, err := Import(loadFixture(t), fixtureOptions())
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := amconfig.Load(string(out.File("alertmanager.yml")))
	if err != nil {
		t.Fatal(err)
	}
	root := dispatch.NewRoute(cfg.Route, nil)
	intervals := map[string][]timeinterval.TimeInterval{}
	for _, ti := range cfg.TimeIntervals {
		intervals[ti.Name] = ti.TimeIntervals
	}
	intervener := timeinterval.NewIntervener(intervals)

	// receivers returns who gets an alert at a given time.
	receivers := func(check, severity string, at time.Time) []string {
		var got []string
		for _, r := range root.Match(model.LabelSet{"check_id": model.LabelValue(fixtureID(check)), "severity": model.LabelValue(severity)}) {
			if len(r.RouteOpts.ActiveTimeIntervals) > 0 {
				active, err := intervener.ContainsTime(r.RouteOpts.ActiveTimeIntervals, at)
				if err != nil {
					t.Fatal(err)
				}
				if !active {
					continue
				}
			}
			got = append(got, r.RouteOpts.Receiver)
		}
		slices.Sort(got)
		return got
	}
	monday := func(hh, mm int) time.Time { return time.Date(2026, 11, 23, hh, mm, 30, 0, time.UTC) }
	saturday := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		check, severity string
		at              time.Time
		want            []string
	}{
		// s1 Slack all the time; s2 PagerDuty ignores WARN.
		{"01", "warning", monday(12, 0), []string{"slack-team-catalog"}},
		{"01", "critical", monday(12, 0), []string{"pagerduty-1", "slack-team-catalog"}},
		// s3: Monday to Friday, strictly between 08:00 and 19:00.
		// Outside the hours the route still matches but its time interval
		// mutes it: nobody is notified.
		{"02", "warning", monday(8, 0), nil},
		{"02", "warning", monday(8, 1), []string{"slack-team-catalog-no-ok"}},
		{"02", "critical", monday(18, 59), []string{"slack-team-catalog-no-ok"}},
		{"02", "critical", monday(19, 0), nil},
		{"02", "critical", saturday, nil},
		// s10: ignores WARN, office hours 09:00-18:00.
		{"08", "warning", monday(10, 0), []string{noneReceiver}},
		{"08", "critical", monday(10, 0), []string{"slack-team-bo"}},
		{"08", "critical", monday(18, 30), nil},
		// No subscription: nobody.
		{"11", "critical", monday(10, 0), []string{noneReceiver}},
		// A check Seyren did not have: nobody.
		{"99", "critical", monday(10, 0), []string{noneReceiver}},
	} {
		if got := receivers(tc.check, tc.severity, tc.at); !slices.Equal(got, tc.want) {
			t.Errorf("check %s %s at %s: %v, want %v", tc.check, tc.severity, tc.at.Format("Mon 15:04"), got, tc.want)
		}
	}

	// One PagerDuty incident per check: the PagerDuty route groups by
	// check_id only, so all series of a check share one group key.
	for _, r := range root.Match(model.LabelSet{"check_id": model.LabelValue(fixtureID("01")), "severity": "critical"}) {
		if r.RouteOpts.Receiver != "pagerduty-1" {
			continue
		}
		if len(r.RouteOpts.GroupBy) != 1 {
			t.Errorf("pagerduty route groups by %v", r.RouteOpts.GroupBy)
		}
		if _, ok := r.RouteOpts.GroupBy["check_id"]; !ok {
			t.Errorf("pagerduty route groups by %v", r.RouteOpts.GroupBy)
		}
		if r.RouteOpts.RepeatInterval < 365*24*time.Hour {
			t.Errorf("repeat interval %v: Seyren never repeated", r.RouteOpts.RepeatInterval)
		}
	}
	// ignoreOk: no resolved notification for s3.
	for _, rc := range cfg.Receivers {
		if rc.Name == "slack-team-catalog-no-ok" && rc.SlackConfigs[0].SendResolved() {
			t.Error("ignoreOk subscription sends resolved notifications")
		}
		if rc.Name == "slack-team-catalog" && !rc.SlackConfigs[0].SendResolved() {
			t.Error("subscription without ignoreOk gets no OK notification")
		}
	}
}

func fixtureID(n string) string { return "5a1f000000000000000000" + n }
