package seyren

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// Report is report.json: every check by its id, what became of it and why.
type Report struct {
	Source   string         `json:"source"`
	Location string         `json:"location"`
	Summary  map[string]int `json:"summary"`
	Checks   []*CheckReport `json:"checks"`
	Secrets  []SecretReport `json:"secrets"`
}

// CheckReport is one check's outcome. Status is translated, partial,
// untranslated or disabled; for a disabled check Translation says how its
// (unloaded) rules were translated.
type CheckReport struct {
	ID            string               `json:"id"`
	Name          string               `json:"name"`
	Status        string               `json:"status"`
	Translation   string               `json:"translation,omitempty"`
	Reason        string               `json:"reason,omitempty"`
	Notes         []string             `json:"notes,omitempty"`
	Target        string               `json:"target"`
	PromQL        string               `json:"promql,omitempty"`
	ValueExpr     string               `json:"value_expr,omitempty"`
	WarningExpr   string               `json:"warning_expr,omitempty"`
	CriticalExpr  string               `json:"critical_expr,omitempty"`
	From          string               `json:"from"`
	Until         string               `json:"until"`
	Warn          string               `json:"warn"`
	Error         string               `json:"error"`
	Direction     string               `json:"direction,omitempty"`
	Enabled       bool                 `json:"enabled"`
	AllowNoData   bool                 `json:"allow_no_data"`
	Team          string               `json:"team"`
	Alert         string               `json:"alert,omitempty"`
	RuleFile      string               `json:"rule_file,omitempty"`
	TestFile      string               `json:"test_file,omitempty"`
	Link          string               `json:"link,omitempty"`
	Subscriptions []SubscriptionReport `json:"subscriptions"`
}

// SubscriptionReport says where a subscription's notifications now go.
type SubscriptionReport struct {
	ID       string   `json:"id"`
	Type     string   `json:"type"`
	Status   string   `json:"status"` // routed or skipped
	Receiver string   `json:"receiver,omitempty"`
	Notes    []string `json:"notes,omitempty"`
}

// SecretReport names a secret file; its content is never reported.
type SecretReport struct {
	File    string `json:"file"`
	Purpose string `json:"purpose"`
	ToFill  bool   `json:"to_fill"`
}

func (r *Report) count() {
	r.Summary = map[string]int{StatusTranslated: 0, StatusPartial: 0, StatusUntranslated: 0, StatusDisabled: 0}
	for _, c := range r.Checks {
		r.Summary[c.Status]++
		if c.Subscriptions == nil {
			c.Subscriptions = []SubscriptionReport{}
		}
	}
	if r.Secrets == nil {
		r.Secrets = []SecretReport{}
	}
}

// JSON is report.json.
func (r *Report) JSON() ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Markdown is report.md, for people.
func (r *Report) Markdown() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Seyren import report\n\nSource: `%s`. Subscription hours are read in time zone %s.\n\n", r.Source, r.Location)
	fmt.Fprintf(&b, "| status | checks |\n|---|---|\n")
	for _, s := range []string{StatusTranslated, StatusPartial, StatusUntranslated, StatusDisabled} {
		fmt.Fprintf(&b, "| %s | %d |\n", s, r.Summary[s])
	}
	b.WriteString("\n| check id | name | status | reason / notes |\n|---|---|---|---|\n")
	for _, c := range r.Checks {
		why := c.Reason
		if why == "" {
			why = strings.Join(c.Notes, "; ")
		}
		st := c.Status
		if c.Translation != "" {
			st += " (" + c.Translation + ")"
		}
		fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", c.ID, mdCell(c.Name), st, mdCell(why))
	}
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "\n## %s: %s\n\n", c.ID, c.Name)
		st := c.Status
		if c.Translation != "" {
			st += " (translation: " + c.Translation + ")"
		}
		fmt.Fprintf(&b, "- status: **%s**\n", st)
		if c.Reason != "" {
			fmt.Fprintf(&b, "- reason: %s\n", c.Reason)
		}
		fmt.Fprintf(&b, "- Graphite target: `%s` over [%s, %s]\n", c.Target, c.From, c.Until)
		fmt.Fprintf(&b, "- thresholds: warn %s, error %s", c.Warn, c.Error)
		if c.Direction != "" {
			fmt.Fprintf(&b, " (%s)", c.Direction)
		}
		b.WriteString("\n")
		if c.PromQL != "" {
			fmt.Fprintf(&b, "- PromQL: `%s`\n", c.PromQL)
		}
		if c.ValueExpr != "" {
			fmt.Fprintf(&b, "- value (%s): `%s`\n", ValueMetric, c.ValueExpr)
			fmt.Fprintf(&b, "- critical: `%s`\n- warning: `%s`\n", c.CriticalExpr, c.WarningExpr)
		}
		if c.RuleFile != "" {
			fmt.Fprintf(&b, "- rules: `%s` (alert %s, team %s)", c.RuleFile, c.Alert, c.Team)
			if c.TestFile != "" {
				fmt.Fprintf(&b, ", test: `%s`", c.TestFile)
			}
			b.WriteString("\n")
		}
		if c.Link != "" {
			fmt.Fprintf(&b, "- Seyren: %s\n", c.Link)
		}
		for _, n := range c.Notes {
			fmt.Fprintf(&b, "- note: %s\n", n)
		}
		for _, s := range c.Subscriptions {
			fmt.Fprintf(&b, "- subscription %s (%s): %s", s.ID, s.Type, s.Status)
			if s.Receiver != "" {
				fmt.Fprintf(&b, " to receiver `%s`", s.Receiver)
			}
			if len(s.Notes) > 0 {
				fmt.Fprintf(&b, "; %s", strings.Join(s.Notes, "; "))
			}
			b.WriteString("\n")
		}
	}
	if len(r.Secrets) > 0 {
		b.WriteString("\n## Secret files (mode 0600)\n\n")
		for _, s := range r.Secrets {
			fill := ""
			if s.ToFill {
				fill = " **(empty: fill it in)**"
			}
			fmt.Fprintf(&b, "- `%s`: %s%s\n", s.File, s.Purpose, fill)
		}
	}
	r.nextSteps(&b)
	return []byte(b.String())
}

// nextSteps ends report.md with what to do with the output, in order:
// fill in secrets, validate, load into Copenhagen, prove with the shadow.
// Paths are relative to the output directory, where report.md is.
func (r *Report) nextSteps(b *strings.Builder) {
	b.WriteString("\n## Next steps\n\nRun these from the directory that holds this report (DIR below: this directory, the `--out` of the import).\n\n")
	step := 0
	next := func(format string, args ...any) {
		step++
		fmt.Fprintf(b, "%d. "+format+"\n", append([]any{step}, args...)...)
	}
	var fill []string
	for _, s := range r.Secrets {
		if s.ToFill {
			fill = append(fill, "`"+s.File+"`")
		}
	}
	if len(fill) > 0 {
		next("Fill in the empty secret files: %s.", strings.Join(fill, ", "))
	}
	if r.Summary[StatusUntranslated]+r.Summary[StatusPartial] > 0 {
		next("Read the %d untranslated and %d partial checks above: an untranslated check has no rule and still needs Seyren (or a hand-written rule); a partial one says what differs.",
			r.Summary[StatusUntranslated], r.Summary[StatusPartial])
	}
	next("Validate what was written: `promtool check rules rules/*.yml`, `promtool test rules tests/*.yml` (each test replays a check's thresholds) and `amtool check-config alertmanager.yml`.")
	next("%s", "Load it: in Copenhagen's configuration set\n\n"+
		"   ```yaml\n   rules:\n     files: [DIR/rules/*.yml]   # rules/disabled/ holds the disabled checks, not loaded\n"+
		"   alerting:\n     config_file: DIR/alertmanager.yml\n   ```\n\n"+
		"   then `copenhagen check config copenhagen.yml` and reload (`curl -X POST http://localhost:9095/-/reload`, or SIGHUP); "+
		"`curl -s http://localhost:9095/api/v1/rules` lists the groups.")
	next("Run the shadow before switching Seyren off: with a `shadow:` section (`graphite_url`: graphite-web; `checks_file: DIR/%s`, the copy of the checks imported here) "+
		"Copenhagen evaluates every imported check the Seyren way too; `copenhagen shadow report --url http://localhost:9095` says, per check, whether both agree. "+
		"Switch a team's Seyren checks off when the report calls its checks ready.", ShadowChecksFile)
}

func mdCell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}
