package routing

import (
	"testing"
	"time"

	"github.com/prometheus/alertmanager/timeinterval"
)

// The Seyren import's schedule windows, evaluated at chosen instants (the
// routing pipeline itself reads the wall clock; TestTimeIntervals covers
// that path): a subscription for Mon-Fri 0800-1900 notifies strictly
// inside the window, as Seyren did.
func TestSeyrenScheduleWindows(t *testing.T) {
	slack, pd, hook := newSlack(t), newPagerDutyV1(t), newReceiver(t)
	conf, err := Validate(seyrenFixture(t, slack, pd, hook))
	if err != nil {
		t.Fatal(err)
	}
	intervals := map[string][]timeinterval.TimeInterval{}
	for _, ti := range conf.TimeIntervals {
		intervals[ti.Name] = ti.TimeIntervals
	}
	iv := timeinterval.NewIntervener(intervals)
	monday := time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		at     time.Time
		active bool
	}{
		{monday.Add(8 * time.Hour), false},
		{monday.Add(8*time.Hour + 59*time.Second), false},
		{monday.Add(8*time.Hour + time.Minute), true},
		{monday.Add(12 * time.Hour), true},
		{monday.Add(19*time.Hour - time.Second), true},
		{monday.Add(19 * time.Hour), false},
		{monday.Add(4*24*time.Hour + 12*time.Hour), true},  // Friday
		{monday.Add(5*24*time.Hour + 12*time.Hour), false}, // Saturday
		{monday.Add(6*24*time.Hour + 12*time.Hour), false}, // Sunday
	} {
		got, err := iv.ContainsTime([]string{"seyren-motuwethfr-0801-1900"}, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.active {
			t.Errorf("%s: active=%v, want %v", tc.at.Format("Mon 15:04:05"), got, tc.active)
		}
	}
}
