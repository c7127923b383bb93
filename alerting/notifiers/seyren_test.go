package notifiers

import (
	"testing"
	"time"

	"github.com/prometheus/common/model"

	amalert "github.com/prometheus/alertmanager/alert"
)

func mk(severity, series, value string, starts, ends time.Time) *amalert.Alert {
	return amalert.New(model.Alert{
		Labels: model.LabelSet{"alertname": "SeyrenX", "check_id": "c1", "check": "queue", "severity": model.LabelValue(severity),
			"seyren_series": model.LabelValue(series)},
		Annotations: model.LabelSet{"value": model.LabelValue(value), "seyren_url": "https://seyren.example.org/#/checks/c1",
			"summary": model.LabelValue("queue is " + map[string]string{"critical": "ERROR (value >= 50)", "warning": "WARN (value >= 10)"}[severity])},
		StartsAt: starts, EndsAt: ends,
	}, time.Now(), false)
}

// State changes reconstructed from one notification, as Seyren reported
// them: per series, from its previous state to its new one.
func TestSeyrenPayloadsTransitions(t *testing.T) {
	t0 := time.Unix(1700000000, 0)
	past := t0.Add(-time.Minute)
	future := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name      string
		alerts    []*amalert.Alert
		state     string
		want      []string // series:from->to
		warn, err string
	}{
		{"warn fires", []*amalert.Alert{mk("warning", "q=a,", "12", t0, future)}, "WARN", []string{"q=a:OK->WARN"}, "10", ""},
		{"warn to error", []*amalert.Alert{mk("warning", "q=a,", "12", past, t0), mk("critical", "q=a,", "60", t0, future)}, "ERROR",
			[]string{"q=a:WARN->ERROR"}, "10", "50"},
		{"error to warn, other series ok", []*amalert.Alert{mk("critical", "q=a,", "60", past, t0), mk("warning", "q=a,", "20", t0, future), mk("warning", "q=b,", "20", past, t0)}, "WARN",
			[]string{"q=a:ERROR->WARN", "q=b:WARN->OK"}, "10", "50"},
		{"all ok", []*amalert.Alert{mk("critical", "q=a,", "60", past, t0)}, "OK", []string{"q=a:ERROR->OK"}, "", "50"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := SeyrenPayloads("", "http://consumer/hook", t0, tc.alerts...)
			if len(ps) != 1 {
				t.Fatalf("%d payloads", len(ps))
			}
			p := ps[0]
			if p.SeyrenURL != "https://seyren.example.org" || p.Check.ID != "c1" || p.Check.Name != "queue" || p.Check.State != tc.state {
				t.Errorf("check: %+v (seyrenUrl %q)", p.Check, p.SeyrenURL)
			}
			var got []string
			for _, a := range p.Alerts {
				got = append(got, a.Target+":"+a.FromType+"->"+a.ToType)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("alerts %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("alerts %v, want %v", got, tc.want)
				}
			}
			str := func(p *string) string {
				if p == nil {
					return ""
				}
				return *p
			}
			if str(p.Check.Warn) != tc.warn || str(p.Check.Error) != tc.err {
				t.Errorf("thresholds warn=%q error=%q, want %q %q", str(p.Check.Warn), str(p.Check.Error), tc.warn, tc.err)
			}
		})
	}
}
