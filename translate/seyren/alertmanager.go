package seyren

import (
	"fmt"
	"path"
	"strconv"
	"strings"

	"github.com/prometheus/common/model"
)

// Alertmanager configuration YAML, only the fields used, in the order of
// Alertmanager's documentation.
type amConfig struct {
	Global        *amGlobal        `yaml:"global,omitempty"`
	Route         amRoute          `yaml:"route"`
	InhibitRules  []amInhibitRule  `yaml:"inhibit_rules,omitempty"`
	Receivers     []amReceiver     `yaml:"receivers"`
	TimeIntervals []amTimeInterval `yaml:"time_intervals,omitempty"`
}

type amGlobal struct {
	SMTPSmarthost  string `yaml:"smtp_smarthost,omitempty"`
	SMTPFrom       string `yaml:"smtp_from,omitempty"`
	SMTPRequireTLS *bool  `yaml:"smtp_require_tls,omitempty"`
}

type amRoute struct {
	Receiver            string    `yaml:"receiver,omitempty"`
	GroupBy             []string  `yaml:"group_by,omitempty"`
	Matchers            []string  `yaml:"matchers,omitempty"`
	ActiveTimeIntervals []string  `yaml:"active_time_intervals,omitempty"`
	Continue            bool      `yaml:"continue,omitempty"`
	GroupWait           string    `yaml:"group_wait,omitempty"`
	GroupInterval       string    `yaml:"group_interval,omitempty"`
	RepeatInterval      string    `yaml:"repeat_interval,omitempty"`
	Routes              []amRoute `yaml:"routes,omitempty"`
}

type amInhibitRule struct {
	SourceMatchers []string `yaml:"source_matchers"`
	TargetMatchers []string `yaml:"target_matchers"`
	Equal          []string `yaml:"equal"`
}

type amReceiver struct {
	Name             string        `yaml:"name"`
	SlackConfigs     []amSlack     `yaml:"slack_configs,omitempty"`
	PagerdutyConfigs []amPagerduty `yaml:"pagerduty_configs,omitempty"`
	EmailConfigs     []amEmail     `yaml:"email_configs,omitempty"`
	WebhookConfigs   []amWebhook   `yaml:"webhook_configs,omitempty"`
}

type amSlack struct {
	SendResolved bool   `yaml:"send_resolved"`
	APIURLFile   string `yaml:"api_url_file"`
	Channel      string `yaml:"channel"`
	Title        string `yaml:"title"`
	TitleLink    string `yaml:"title_link"`
	Text         string `yaml:"text"`
}

type amPagerduty struct {
	SendResolved   bool   `yaml:"send_resolved"`
	ServiceKeyFile string `yaml:"service_key_file,omitempty"`
	RoutingKeyFile string `yaml:"routing_key_file,omitempty"`
	Description    string `yaml:"description"`
}

type amEmail struct {
	SendResolved bool              `yaml:"send_resolved"`
	To           string            `yaml:"to"`
	Headers      map[string]string `yaml:"headers"`
}

type amWebhook struct {
	SendResolved bool   `yaml:"send_resolved"`
	URL          string `yaml:"url,omitempty"`
	URLFile      string `yaml:"url_file,omitempty"`
}

type amTimeInterval struct {
	Name          string           `yaml:"name"`
	TimeIntervals []amTimeSpecItem `yaml:"time_intervals"`
}

type amTimeSpecItem struct {
	Weekdays []string      `yaml:"weekdays,omitempty"`
	Times    []amTimeRange `yaml:"times,omitempty"`
	Location string        `yaml:"location,omitempty"`
}

type amTimeRange struct {
	StartTime string `yaml:"start_time"`
	EndTime   string `yaml:"end_time"`
}

// Notification texts close to Seyren's: state, check name linked to the
// check, the description, then one "series = value" line per alert.
const (
	slackTitle = `{{ if eq .Status "resolved" }}OK{{ else if eq .CommonLabels.severity "critical" }}ERROR{{ else if eq .CommonLabels.severity "warning" }}WARN{{ else }}ERROR/WARN{{ end }}: {{ .CommonLabels.check }}`
	slackText  = `{{ .CommonAnnotations.description }}
{{ range .Alerts }}{{ if eq .Status "resolved" }}OK{{ else if eq .Labels.severity "critical" }}ERROR{{ else }}WARN{{ end }} {{ .Labels.seyren_series }} = {{ .Annotations.value }}
{{ end }}`
	pagerdutyDescription = `{{ if eq .CommonLabels.severity "warning" }}WARN{{ else }}ERROR{{ end }}: {{ .CommonLabels.check }}`
	emailSubject         = `{{ if eq .Status "resolved" }}OK{{ else if eq .CommonLabels.severity "critical" }}ERROR{{ else if eq .CommonLabels.severity "warning" }}WARN{{ else }}ERROR/WARN{{ end }}: {{ .CommonLabels.check }}`
)

// noneReceiver gets what no subscription wants: Seyren notified nobody
// but a check's subscribers.
const noneReceiver = "seyren-none"

type secretFile struct {
	name    string
	data    []byte
	purpose string
}

// receiverSet deduplicates receivers: subscriptions with the same type,
// target and resolved-notification choice share one.
type receiverSet struct {
	opts      Options
	byKey     map[string]string
	names     map[string]bool
	receivers []amReceiver
	secrets   []secretFile
	slackURL  string // secret file name of the Slack webhook URL, once created
	counts    map[string]int
	usesEmail bool
}

func (rs *receiverSet) uniqueName(base string) string {
	name := base
	for i := 2; rs.names[name]; i++ {
		name = base + "-" + strconv.Itoa(i)
	}
	rs.names[name] = true
	return name
}

func (rs *receiverSet) secretPath(name string) string {
	return path.Join(filepathToSlash(rs.opts.SecretsDir), name)
}

func filepathToSlash(p string) string { return strings.ReplaceAll(p, `\`, "/") }

// receiver returns the receiver name for a subscription, creating it (and
// its secret file) on first use, or a reason why the type is not carried
// over.
func (rs *receiverSet) receiver(s Subscription) (string, string) {
	typ := strings.ToUpper(strings.TrimSpace(s.Type))
	target := strings.TrimSpace(s.Target)
	key := typ + "\x00" + target + "\x00" + strconv.FormatBool(s.IgnoreOk)
	if name, ok := rs.byKey[key]; ok {
		return name, ""
	}
	if target == "" && typ != "LOGGER" {
		return "", "subscription has no target"
	}
	resolved := !s.IgnoreOk
	suffix := ""
	if s.IgnoreOk {
		suffix = "-no-ok"
	}
	var r amReceiver
	switch typ {
	case "SLACK":
		if rs.slackURL == "" {
			rs.slackURL = "slack-api-url"
			rs.secrets = append(rs.secrets, secretFile{name: rs.slackURL, purpose: "Slack incoming-webhook URL (Seyren's Slack token is not in its checks): fill it in"})
		}
		r = amReceiver{Name: rs.uniqueName("slack-" + nameOr(slug(target), "channel") + suffix), SlackConfigs: []amSlack{{
			SendResolved: resolved, APIURLFile: rs.secretPath(rs.slackURL), Channel: target,
			Title: slackTitle, TitleLink: `{{ .CommonAnnotations.seyren_url }}`, Text: slackText,
		}}}
	case "PAGERDUTY":
		rs.counts[typ]++
		n := rs.counts[typ]
		file := fmt.Sprintf("pagerduty-%d.key", n)
		rs.secrets = append(rs.secrets, secretFile{name: file, data: []byte(target + "\n"), purpose: fmt.Sprintf("PagerDuty service key of subscription %s", s.ID)})
		pd := amPagerduty{SendResolved: resolved, Description: pagerdutyDescription}
		if rs.opts.PagerDutyV2 {
			pd.RoutingKeyFile = rs.secretPath(file)
		} else {
			pd.ServiceKeyFile = rs.secretPath(file)
		}
		r = amReceiver{Name: rs.uniqueName(fmt.Sprintf("pagerduty-%d%s", n, suffix)), PagerdutyConfigs: []amPagerduty{pd}}
	case "EMAIL":
		rs.usesEmail = true
		r = amReceiver{Name: rs.uniqueName("email-" + nameOr(slug(target), "address") + suffix), EmailConfigs: []amEmail{{
			SendResolved: resolved, To: target, Headers: map[string]string{"Subject": emailSubject},
		}}}
	case "HTTP":
		rs.counts[typ]++
		n := rs.counts[typ]
		wh := amWebhook{SendResolved: resolved}
		if rs.opts.InlineWebhookURLs {
			wh.URL = target
		} else {
			file := fmt.Sprintf("webhook-%d.url", n)
			rs.secrets = append(rs.secrets, secretFile{name: file, data: []byte(target + "\n"), purpose: fmt.Sprintf("HTTP webhook URL of subscription %s", s.ID)})
			wh.URLFile = rs.secretPath(file)
		}
		r = amReceiver{Name: rs.uniqueName(fmt.Sprintf("webhook-%d%s", n, suffix)), WebhookConfigs: []amWebhook{wh}}
	case "LOGGER":
		return "", "LOGGER subscriptions only wrote Seyren's log; Alertmanager logs every notification itself"
	default:
		return "", fmt.Sprintf("subscription type %s has no Alertmanager receiver generated by this import (supported: SLACK, PAGERDUTY, EMAIL, HTTP); add one by hand", typ)
	}
	rs.receivers = append(rs.receivers, r)
	rs.byKey[key] = r.Name
	return r.Name, ""
}

func nameOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

var weekdayNames = [7]string{"sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"}

// parseHHmm reads Seyren's "0800" (also "08:00") into minutes of the day.
func parseHHmm(s string) (int, error) {
	t := strings.ReplaceAll(strings.TrimSpace(s), ":", "")
	if len(t) != 4 {
		return 0, fmt.Errorf("time %q is not HHmm", s)
	}
	h, err1 := strconv.Atoi(t[:2])
	m, err2 := strconv.Atoi(t[2:])
	if err1 != nil || err2 != nil || h > 23 || m > 59 || h < 0 || m < 0 {
		return 0, fmt.Errorf("time %q is not HHmm", s)
	}
	return h*60 + m, nil
}

func hhmm(min int) string { return fmt.Sprintf("%02d:%02d", min/60, min%60) }

// activeInterval turns a subscription's days and hours into an
// Alertmanager time interval. Seyren notified when the minute of the alert
// (seconds dropped) was strictly after fromTime and strictly before
// toTime: [from+1min, to) in Alertmanager's start-inclusive,
// end-exclusive times. "0000"-"2359" is read as the whole day (the two
// minutes Seyren skipped were not anyone's intent); that is noted.
// It returns the interval (nil = always), whether the subscription can
// ever notify, and notes.
func activeInterval(s Subscription, loc string) (*amTimeInterval, bool, []string, error) {
	days := [7]bool{s.Su, s.Mo, s.Tu, s.We, s.Th, s.Fr, s.Sa}
	var weekdays []string
	for i, on := range days {
		if on {
			weekdays = append(weekdays, weekdayNames[i])
		}
	}
	if len(weekdays) == 0 {
		return nil, false, []string{"no weekday selected: Seyren never notified this subscription"}, nil
	}
	from, err := parseHHmm(nonEmpty(s.FromTime, "0000"))
	if err != nil {
		return nil, false, nil, fmt.Errorf("fromTime: %w", err)
	}
	to, err := parseHHmm(nonEmpty(s.ToTime, "2359"))
	if err != nil {
		return nil, false, nil, fmt.Errorf("toTime: %w", err)
	}
	var notes []string
	var times []amTimeRange
	switch {
	case from == 0 && to == 23*60+59:
		notes = append(notes, "hours 0000-2359 carried over as the whole day (Seyren skipped the minutes 00:00 and 23:59)")
	case from+1 >= to:
		return nil, false, []string{fmt.Sprintf("hours %s-%s: Seyren notified only strictly between them, which never happens", s.FromTime, s.ToTime)}, nil
	default:
		times = []amTimeRange{{StartTime: hhmm(from + 1), EndTime: hhmm(to)}}
		notes = append(notes, fmt.Sprintf("hours %s-%s: active %s-%s (%s), as Seyren notified strictly between them", s.FromTime, s.ToTime, hhmm(from+1), hhmm(to), loc))
	}
	if len(weekdays) == 7 && times == nil {
		return nil, true, notes, nil
	}
	name := "seyren"
	if len(weekdays) < 7 {
		var short []string
		for _, d := range weekdays {
			short = append(short, d[:2])
		}
		name += "-" + strings.Join(short, "")
	}
	if times != nil {
		name += "-" + strings.ReplaceAll(times[0].StartTime, ":", "") + "-" + strings.ReplaceAll(times[0].EndTime, ":", "")
	}
	item := amTimeSpecItem{Times: times, Location: loc}
	if len(weekdays) < 7 {
		item.Weekdays = weekdays
	}
	return &amTimeInterval{Name: name, TimeIntervals: []amTimeSpecItem{item}}, true, notes, nil
}

func nonEmpty(s, def string) string {
	if strings.TrimSpace(s) == "" {
		return def
	}
	return s
}

// buildAlertmanager writes the routing tree: one route per check (matched
// on check_id), under it one route per subscription with continue so that
// every subscriber is notified, as Seyren notified each subscription.
func buildAlertmanager(plans []*checkPlan, opts Options) ([]byte, []secretFile, error) {
	rs := &receiverSet{opts: opts, byKey: map[string]string{}, names: map[string]bool{noneReceiver: true}, counts: map[string]int{}}
	intervals := map[string]bool{}
	var timeIntervals []amTimeInterval
	root := amRoute{
		Receiver: noneReceiver,
		// One notification per check and change, with all its changed
		// series, as Seyren batched them; one PagerDuty incident per check.
		GroupBy:        []string{LabelCheckID},
		GroupWait:      "10s",
		GroupInterval:  model.Duration(opts.EvaluationInterval).String(),
		RepeatInterval: model.Duration(opts.RepeatInterval).String(),
	}
	for _, p := range plans {
		cr := p.report
		if p.group == nil {
			for _, s := range p.check.Subscriptions {
				cr.Subscriptions = append(cr.Subscriptions, SubscriptionReport{ID: s.ID, Type: s.Type, Status: "skipped", Notes: []string{"check not carried over"}})
			}
			continue
		}
		route := amRoute{Matchers: []string{fmt.Sprintf("%s=%s", LabelCheckID, strconv.Quote(p.check.ID))}}
		for _, s := range p.check.Subscriptions {
			sr := SubscriptionReport{ID: s.ID, Type: s.Type}
			skip := func(note string) {
				sr.Status = "skipped"
				sr.Notes = append(sr.Notes, note)
			}
			switch {
			case !s.Enabled:
				skip("subscription disabled in Seyren")
			case s.IgnoreWarn && s.IgnoreError:
				skip("ignores both WARN and ERROR: Seyren only told it about returns to OK of states it never reported")
			default:
				ti, ever, notes, err := activeInterval(s, opts.Location)
				sr.Notes = append(sr.Notes, notes...)
				if err != nil {
					skip("invalid hours: " + err.Error())
					break
				}
				if !ever {
					sr.Status = "skipped"
					break
				}
				name, why := rs.receiver(s)
				if name == "" {
					skip(why)
					break
				}
				sub := amRoute{Receiver: name, Continue: true}
				switch {
				case s.IgnoreWarn:
					sub.Matchers = []string{LabelSeverity + `="critical"`}
					sr.Notes = append(sr.Notes, "ignoreWarn: only critical alerts are routed; ERROR -> WARN arrives as the critical alert resolving (Seyren sent nothing until OK)")
				case s.IgnoreError:
					sub.Matchers = []string{LabelSeverity + `="warning"`}
					sr.Notes = append(sr.Notes, "ignoreError: only warning alerts are routed; WARN -> ERROR arrives as the warning alert resolving (Seyren sent nothing until OK)")
				}
				if s.IgnoreOk {
					sr.Notes = append(sr.Notes, "ignoreOk: send_resolved false")
				}
				if strings.EqualFold(s.Type, "PAGERDUTY") {
					sub.GroupBy = []string{LabelCheckID}
					sr.Notes = append(sr.Notes, "one incident per check (grouped by check_id)")
				}
				if ti != nil {
					sub.ActiveTimeIntervals = []string{ti.Name}
					if !intervals[ti.Name] {
						intervals[ti.Name] = true
						timeIntervals = append(timeIntervals, *ti)
					}
				}
				sr.Status = "routed"
				sr.Receiver = name
				route.Routes = append(route.Routes, sub)
			}
			cr.Subscriptions = append(cr.Subscriptions, sr)
		}
		if len(route.Routes) > 0 {
			root.Routes = append(root.Routes, route)
		} else if p.check.Enabled {
			cr.Notes = append(cr.Notes, "no subscription is carried over: its alerts reach no receiver")
		}
	}
	cfg := amConfig{
		Route: root,
		InhibitRules: []amInhibitRule{{
			SourceMatchers: []string{LabelSeverity + `="critical"`},
			TargetMatchers: []string{LabelSeverity + `="warning"`},
			Equal:          []string{LabelCheckID, LabelSeries},
		}},
		TimeIntervals: timeIntervals,
	}
	cfg.Receivers = append([]amReceiver{{Name: noneReceiver}}, rs.receivers...)
	if rs.usesEmail {
		tls := true
		cfg.Global = &amGlobal{SMTPSmarthost: "smtp.example.org:587", SMTPFrom: "alertmanager@example.org", SMTPRequireTLS: &tls}
	}
	header := "Alertmanager configuration generated by `copenhagen import seyren`.\n" +
		"Secrets are in files (mode 0600) named by the *_file keys; fill in the empty ones (see report.md)."
	if rs.usesEmail {
		header += "\nEMAIL: replace the placeholder SMTP settings in `global` (smtp_smarthost, smtp_from, auth)."
	}
	header += fmt.Sprintf("\nrepeat_interval %s: Seyren never repeated. Alertmanager forgets what it sent after --data.retention\n(default 120h) and would then notify again: run it with --data.retention >= repeat_interval.", model.Duration(opts.RepeatInterval))
	data, err := marshalYAML(cfg, header)
	if err != nil {
		return nil, nil, err
	}
	return data, rs.secrets, nil
}
