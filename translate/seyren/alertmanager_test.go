package seyren

import (
	"strings"
	"testing"
)

func TestActiveInterval(t *testing.T) {
	all := Subscription{Su: true, Mo: true, Tu: true, We: true, Th: true, Fr: true, Sa: true}
	week := Subscription{Mo: true, Tu: true, We: true, Th: true, Fr: true}
	with := func(s Subscription, from, to string) Subscription { s.FromTime, s.ToTime = from, to; return s }
	for _, tc := range []struct {
		name     string
		s        Subscription
		always   bool
		never    bool
		days     int
		from, to string
	}{
		{"all day every day", with(all, "0000", "2359"), true, false, 0, "", ""},
		{"office hours", with(week, "0800", "1900"), false, false, 5, "08:01", "19:00"},
		{"every day, some hours", with(all, "0900", "1800"), false, false, 0, "09:01", "18:00"},
		{"weekdays all day", with(week, "0000", "2359"), false, false, 5, "", ""},
		{"no day", with(Subscription{}, "0000", "2359"), false, true, 0, "", ""},
		{"inverted hours", with(all, "2200", "0600"), false, true, 0, "", ""},
		{"one minute apart", with(all, "0800", "0801"), false, true, 0, "", ""},
	} {
		ti, ever, _, err := activeInterval(tc.s, "Europe/Paris")
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if ever == tc.never {
			t.Errorf("%s: ever=%v", tc.name, ever)
			continue
		}
		if tc.never {
			continue
		}
		if (ti == nil) != tc.always {
			t.Errorf("%s: interval %+v", tc.name, ti)
			continue
		}
		if ti == nil {
			continue
		}
		it := ti.TimeIntervals[0]
		if len(it.Weekdays) != tc.days || it.Location != "Europe/Paris" {
			t.Errorf("%s: %+v", tc.name, it)
		}
		if tc.from != "" && (len(it.Times) != 1 || it.Times[0].StartTime != tc.from || it.Times[0].EndTime != tc.to) {
			t.Errorf("%s: times %+v, want %s-%s", tc.name, it.Times, tc.from, tc.to)
		}
		if tc.from == "" && len(it.Times) != 0 {
			t.Errorf("%s: times %+v, want whole days", tc.name, it.Times)
		}
	}
	if _, _, _, err := activeInterval(with(all, "25:00", "2359"), "UTC"); err == nil {
		t.Error("bad fromTime accepted")
	}
}

func TestSubscriptionRouting(t *testing.T) {
	sub := func(typ, target string, f func(*Subscription)) Subscription {
		s := Subscription{ID: typ, Type: typ, Target: target, Enabled: true, Su: true, Mo: true, Tu: true, We: true, Th: true, Fr: true, Sa: true, FromTime: "0000", ToTime: "2359"}
		if f != nil {
			f(&s)
		}
		return s
	}
	checks := []Check{{
		ID: "c1", Name: "n", Target: "x", Enabled: true, From: DefaultFrom, Until: DefaultUntil,
		Warn: Decimal{Text: "1", Value: 1, Set: true}, Error: Decimal{Text: "2", Value: 2, Set: true},
		Subscriptions: []Subscription{
			sub("SLACK", "#a", func(s *Subscription) { s.IgnoreError = true }),
			sub("PAGERDUTY", "secret-key", nil),
			sub("HTTP", "https://user:pw@hooks.example.org/x", func(s *Subscription) { s.IgnoreOk = true }),
			sub("EMAIL", "a@example.org", func(s *Subscription) { s.Enabled = false }),
			sub("HIPCHAT", "room", nil),
			sub("SLACK", "#b", func(s *Subscription) { s.IgnoreWarn, s.IgnoreError = true, true }),
		},
	}}
	for _, v2 := range []bool{false, true} {
		out, err := Import(checks, Options{Translator: fakeTranslator{"x": ok("x")}, PagerDutyV2: v2, SecretsDir: "/s"})
		if err != nil {
			t.Fatal(err)
		}
		if err := out.Validate(); err != nil {
			t.Fatal(err)
		}
		am := string(out.File("alertmanager.yml"))
		for _, want := range []string{`severity="warning"`, "url_file: /s/webhook-1.url", "send_resolved: false"} {
			if !strings.Contains(am, want) {
				t.Errorf("alertmanager.yml lacks %q:\n%s", want, am)
			}
		}
		if key := map[bool]string{false: "service_key_file: /s/pagerduty-1.key", true: "routing_key_file: /s/pagerduty-1.key"}[v2]; !strings.Contains(am, key) {
			t.Errorf("v2=%v: no %q", v2, key)
		}
		if strings.Contains(am, "secret-key") || strings.Contains(am, "pw@") {
			t.Error("a secret is inline")
		}
		if string(out.File("secrets/pagerduty-1.key")) != "secret-key\n" {
			t.Errorf("pagerduty secret file %q", out.File("secrets/pagerduty-1.key"))
		}
		st := map[string]string{}
		for _, s := range out.Report.Checks[0].Subscriptions {
			st[s.ID] = s.Status
		}
		want := map[string]string{"SLACK": "skipped", "PAGERDUTY": "routed", "HTTP": "routed", "EMAIL": "skipped", "HIPCHAT": "skipped"}
		// Two SLACK subscriptions: the first routed, the second (ignores
		// everything) skipped; the map keeps the last.
		for id, w := range want {
			if st[id] != w {
				t.Errorf("subscription %s: %s, want %s", id, st[id], w)
			}
		}
	}
	out, err := Import(checks, Options{Translator: fakeTranslator{"x": ok("x")}, InlineWebhookURLs: true})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out.File("alertmanager.yml")), "url: https://user:pw@hooks.example.org/x") || out.File("secrets/webhook-1.url") != nil {
		t.Error("--inline-webhook-urls did not inline the URL")
	}
}
