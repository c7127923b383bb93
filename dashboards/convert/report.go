package convert

import (
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteql"
)

// HasGraphite tells whether the dashboard had anything on Graphite: a
// target, a variable or an annotation.
func (r *Report) HasGraphite() bool {
	n := len(r.Variables) + len(r.Annotations)
	for _, p := range r.Panels {
		n += len(p.Targets)
	}
	return n > 0
}

// Totals adds up the target counts of several dashboards.
func Totals(rs []*Report) map[Status]int {
	t := map[Status]int{graphiteql.Translated: 0, graphiteql.Partial: 0, graphiteql.Untranslated: 0}
	for _, r := range rs {
		for s, n := range r.Counts {
			t[s] += n
		}
	}
	return t
}

// WriteMarkdown writes the human report: per dashboard, every target with
// its PromQL, status and notes, then the variables, annotations and the
// overrides that no longer match a series.
func WriteMarkdown(w io.Writer, rs []*Report, skipped []string) error {
	var b strings.Builder
	t := Totals(rs)
	fmt.Fprintf(&b, "# Grafana dashboards converted to Prometheus\n\n")
	fmt.Fprintf(&b, "%d dashboards; targets: %d translated, %d partial (approximations listed), %d untranslated (kept hidden on Graphite).\n\n",
		len(rs), t[graphiteql.Translated], t[graphiteql.Partial], t[graphiteql.Untranslated])
	for _, s := range skipped {
		fmt.Fprintf(&b, "- skipped: %s\n", s)
	}
	if len(skipped) > 0 {
		b.WriteString("\n")
	}
	for _, r := range rs {
		fmt.Fprintf(&b, "## %s (`%s`)\n\n", r.Title, r.UID)
		fmt.Fprintf(&b, "Schema version %d; targets: %d translated, %d partial, %d untranslated.\n\n",
			r.SchemaVersion, r.Counts[graphiteql.Translated], r.Counts[graphiteql.Partial], r.Counts[graphiteql.Untranslated])
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		if len(r.Notes) > 0 {
			b.WriteString("\n")
		}
		b.WriteString("| Panel | Ref | Status | Graphite | PromQL | Legend | Notes |\n|---|---|---|---|---|---|---|\n")
		for _, p := range r.Panels {
			title := p.Title
			if title == "" {
				title = fmt.Sprintf("(untitled %s panel %v)", p.Type, p.ID)
			}
			if p.Row != "" {
				title = p.Row + " / " + title
			}
			if p.NewType != "" {
				title += fmt.Sprintf(" (%s → %s)", p.Type, p.NewType)
			}
			if len(p.Targets) == 0 && len(p.Notes) > 0 {
				fmt.Fprintf(&b, "| %s | | | | | | %s |\n", cell(title), cell(strings.Join(p.Notes, "; ")))
			}
			for i, tg := range p.Targets {
				notes := append([]string(nil), tg.Notes...)
				if tg.Reason != "" {
					notes = append([]string{tg.Reason}, notes...)
				}
				if i == 0 {
					notes = append(notes, p.Notes...)
				}
				legend := tg.Legend
				if legend != "" && !tg.LegendExact {
					legend += " (not exact)"
				}
				status := string(tg.Status)
				if tg.Hidden {
					status += ", hidden"
				}
				fmt.Fprintf(&b, "| %s | %s | %s | `%s` | %s | %s | %s |\n", cell(title), tg.RefID, status, cell(tg.Graphite),
					code(tg.PromQL), cell(legend), cell(strings.Join(notes, "; ")))
			}
		}
		b.WriteString("\n")
		if len(r.Variables) > 0 {
			b.WriteString("| Variable | Graphite query | Prometheus query | Status | Notes |\n|---|---|---|---|---|\n")
			for _, v := range r.Variables {
				fmt.Fprintf(&b, "| %s | `%s` | %s | %s | %s |\n", v.Name, cell(v.From), code(v.To), v.Status, cell(v.Reason))
			}
			b.WriteString("\n")
		}
		for _, a := range r.Annotations {
			fmt.Fprintf(&b, "- annotation %q: %s %s %s\n", a.RefID, a.Status, code(a.PromQL), cell(a.Reason))
		}
		var dead []string
		for _, o := range r.Overrides {
			if !o.Matches {
				dead = append(dead, fmt.Sprintf("panel %v: override %q matches no series name of the converted panel", o.PanelID, o.Name))
			}
		}
		sort.Strings(dead)
		for _, d := range dead {
			fmt.Fprintf(&b, "- %s\n", d)
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

func code(s string) string {
	if s == "" {
		return ""
	}
	return "`" + cell(s) + "`"
}
