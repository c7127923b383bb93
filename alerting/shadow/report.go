package shadow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/copenhagen-obs/copenhagen/translate/seyren"
)

// Verdicts of a check.
const (
	// VerdictReady: enough comparable evaluations and non-OK episodes,
	// and nothing unexplained. Seyren can be turned off for this check.
	VerdictReady = "ready"
	// VerdictUntested: it agrees so far, but not for long enough or
	// without a non-OK episode to prove the thresholds.
	VerdictUntested = "agrees_untested"
	// VerdictDiverging: at least one unexplained disagreement.
	VerdictDiverging = "diverging"
	// VerdictNotComparable: no evaluation could be compared yet.
	VerdictNotComparable = "not_comparable"
)

// LastStates2 is the last compared evaluation of a check.
type LastStates2 struct {
	Graphite State `json:"graphite"`
	PromQL   State `json:"promql"`
	// Seyren is the state Seyren itself last reported (seyren_url).
	Seyren *State    `json:"seyren,omitempty"`
	At     time.Time `json:"at"`
}

// CheckStats is the shadow's record of one check, as /api/v1/shadow and
// `copenhagen shadow report` show it.
type CheckStats struct {
	CheckID              string         `json:"check_id"`
	Name                 string         `json:"name"`
	Target               string         `json:"target"`
	Evaluations          int            `json:"evaluations"`
	Agree                int            `json:"agree"`
	Disagree             int            `json:"disagree"`
	NotComparable        int            `json:"not_comparable"`
	Last                 LastStates2    `json:"last"`
	LastResult           string         `json:"last_result,omitempty"`
	Reasons              map[string]int `json:"reasons"`
	NotComparableReasons map[string]int `json:"not_comparable_reasons"`
	// Episodes counts the non-OK episodes seen on Graphite's side.
	Episodes int    `json:"episodes"`
	Verdict  string `json:"verdict"`
	// Why says what the verdict still lacks.
	Why string `json:"why,omitempty"`
	// Seyren is Seyren's own column (seyren_url), nil without it.
	Seyren *SeyrenStats `json:"seyren,omitempty"`
	// Settle is the record of the settled second passes (settle.go).
	Settle SettleStats `json:"settle"`

	// Kept across restarts, not part of the report's contract.
	MinStep      int64      `json:"min_step,omitempty"`
	SeyrenStates LastStates `json:"seyren_states,omitempty"`
	InEpisode    bool       `json:"in_episode,omitempty"`

	seyrenStates LastStates
	inEpisode    bool
	run          runNote // the last evaluation, for the Seyren side
	compared     bool    // compared since this Shadow started
}

func newCheckStats(c seyren.Check) *CheckStats {
	st := &CheckStats{}
	st.fill(c)
	return st
}

func (st *CheckStats) fill(c seyren.Check) {
	st.CheckID, st.Name, st.Target = c.ID, c.Name, c.Target
	if st.Reasons == nil {
		st.Reasons = map[string]int{}
	}
	if st.NotComparableReasons == nil {
		st.NotComparableReasons = map[string]int{}
	}
	if st.seyrenStates == nil {
		st.seyrenStates = st.SeyrenStates
	}
	if st.seyrenStates == nil {
		st.seyrenStates = LastStates{}
	}
	st.inEpisode = st.InEpisode
}

// MarshalJSON writes the unexported runtime fields through their
// exported twins.
func (st *CheckStats) MarshalJSON() ([]byte, error) {
	type plain CheckStats
	c := plain(*st)
	c.SeyrenStates, c.InEpisode = st.seyrenStates, st.inEpisode
	return json.Marshal(c)
}

// verdict decides a check's verdict.
func verdict(st *CheckStats, minEvaluations, minEpisodes int) (string, string) {
	switch {
	case st.Reasons[ReasonUnexplained] > 0:
		return VerdictDiverging, fmt.Sprintf("%d unexplained disagreements", st.Reasons[ReasonUnexplained])
	case st.Reasons[ReasonNaN] > 0:
		// Explained, but a translation bug: Copenhagen resolves where
		// Seyren keeps alerting.
		return VerdictDiverging, fmt.Sprintf("%d evaluations where the rule's value is NaN (an idle timer) and Seyren keeps its last value", st.Reasons[ReasonNaN])
	case st.Seyren != nil && st.Seyren.VsPromQL.Reasons[ReasonUnexplained] > 0:
		// The headline: what Seyren itself said (seyren_url) against
		// Copenhagen's rules. A port that agrees with the rules proves
		// little if Seyren said otherwise.
		return VerdictDiverging, fmt.Sprintf("%d unexplained disagreements with Seyren's own state (seyren_url)", st.Seyren.VsPromQL.Reasons[ReasonUnexplained])
	case st.Agree+st.Disagree == 0:
		return VerdictNotComparable, "no evaluation could be compared yet"
	case st.Agree+st.Disagree < minEvaluations:
		return VerdictUntested, fmt.Sprintf("%d of %d comparable evaluations", st.Agree+st.Disagree, minEvaluations)
	case st.Episodes < minEpisodes:
		return VerdictUntested, fmt.Sprintf("%d of %d non-OK episodes seen", st.Episodes, minEpisodes)
	}
	return VerdictReady, ""
}

// Report is the shadow's state, the JSON of /api/v1/shadow.
type Report struct {
	GeneratedAt    time.Time `json:"generated_at"`
	MinEvaluations int       `json:"min_evaluations"`
	MinEpisodes    int       `json:"min_episodes"`
	// Sources says where each column comes from (graphite, promql, and
	// seyren with seyren_url).
	Sources map[string]string `json:"sources,omitempty"`
	Checks  []CheckStats      `json:"checks"`
}

// Ready says whether every check is ready (and there is at least one).
func (r Report) Ready() bool {
	if len(r.Checks) == 0 {
		return false
	}
	for _, c := range r.Checks {
		if c.Verdict != VerdictReady {
			return false
		}
	}
	return true
}

var verdictOrder = map[string]int{VerdictDiverging: 0, VerdictNotComparable: 1, VerdictUntested: 2, VerdictReady: 3}

// Report returns every known check, sorted by verdict (worst first), then
// by agreement, then by id. Checks not evaluated yet are included.
func (s *Shadow) Report() Report {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := Report{GeneratedAt: time.Now().UTC(), MinEvaluations: s.opts.MinEvaluations, MinEpisodes: s.opts.MinEpisodes, Sources: s.sources()}
	for id, def := range s.checks {
		st := s.stats[id]
		if st == nil {
			st = newCheckStats(def.check)
		}
		c := *st
		c.Reasons = cloneMap(st.Reasons)
		c.NotComparableReasons = cloneMap(st.NotComparableReasons)
		c.Settle = st.Settle.clone()
		c.SeyrenStates, c.seyrenStates = nil, nil
		if st.Seyren != nil {
			c.Seyren = st.Seyren.clone()
			if st.Seyren.Observations > 0 {
				ss := st.Seyren.State
				c.Last.Seyren = &ss
			}
		}
		c.Verdict, c.Why = verdict(&c, s.opts.MinEvaluations, s.opts.MinEpisodes)
		if c.Verdict == VerdictDiverging && c.Settle.Pending > 0 {
			c.Why += fmt.Sprintf(" (%d disagreements awaiting their settled pass)", c.Settle.Pending)
		}
		if def.bad != "" {
			c.Verdict, c.Why = VerdictNotComparable, "invalid check: "+def.bad
		}
		r.Checks = append(r.Checks, c)
	}
	r.sort()
	return r
}

func (r *Report) sort() {
	slices.SortFunc(r.Checks, func(a, b CheckStats) int {
		if d := verdictOrder[a.Verdict] - verdictOrder[b.Verdict]; d != 0 {
			return d
		}
		if d := agreement(a) - agreement(b); d != 0 {
			if d < 0 {
				return -1
			}
			return 1
		}
		return strings.Compare(a.CheckID, b.CheckID)
	})
}

func agreement(c CheckStats) float64 {
	if c.Agree+c.Disagree == 0 {
		return 0
	}
	return float64(c.Agree) / float64(c.Agree+c.Disagree)
}

func cloneMap(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Filter keeps the check with the given id only ("" keeps all).
func (r Report) Filter(checkID string) Report {
	if checkID == "" {
		return r
	}
	out := r
	out.Checks = nil
	for _, c := range r.Checks {
		if c.CheckID == checkID {
			out.Checks = append(out.Checks, c)
		}
	}
	return out
}

// Totals adds up a report: evaluations by result and disagreements by
// reason.
type Totals struct {
	Checks        int            `json:"checks"`
	Ready         int            `json:"ready"`
	Evaluations   int            `json:"evaluations"`
	Agree         int            `json:"agree"`
	Disagree      int            `json:"disagree"`
	NotComparable int            `json:"not_comparable"`
	Reasons       map[string]int `json:"reasons"`
	NCReasons     map[string]int `json:"not_comparable_reasons"`
}

// Totals sums the report.
func (r Report) Totals() Totals {
	t := Totals{Checks: len(r.Checks), Reasons: map[string]int{}, NCReasons: map[string]int{}}
	for _, c := range r.Checks {
		if c.Verdict == VerdictReady {
			t.Ready++
		}
		t.Evaluations += c.Evaluations
		t.Agree += c.Agree
		t.Disagree += c.Disagree
		t.NotComparable += c.NotComparable
		for k, v := range c.Reasons {
			t.Reasons[k] += v
		}
		for k, v := range c.NotComparableReasons {
			t.NCReasons[k] += v
		}
	}
	return t
}

// Markdown renders the report for people (`copenhagen shadow report
// --format md`).
func (r Report) Markdown() []byte {
	var b bytes.Buffer
	t := r.Totals()
	fmt.Fprintf(&b, "# Switchover shadow\n\n")
	fmt.Fprintf(&b, "%d checks, %d ready (ready needs %d comparable evaluations, %d non-OK episodes and nothing unexplained).\n\n",
		t.Checks, t.Ready, r.MinEvaluations, r.MinEpisodes)
	fmt.Fprintf(&b, "Evaluations: %d; agree %d, disagree %d, not comparable %d.\n\n", t.Evaluations, t.Agree, t.Disagree, t.NotComparable)
	if len(t.Reasons) > 0 {
		fmt.Fprintf(&b, "Disagreements by reason: %s.\n\n", formatCounts(t.Reasons))
	}
	if len(t.NCReasons) > 0 {
		fmt.Fprintf(&b, "Not comparable by reason: %s.\n\n", formatCounts(t.NCReasons))
	}
	b.WriteString("| check | verdict | evaluations | agree | disagree | not comparable | last (graphite / promql) | reasons | why |\n")
	b.WriteString("|---|---|---|---|---|---|---|---|---|\n")
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "| %s (`%s`) | %s | %d | %d | %d | %d | %s / %s | %s | %s |\n",
			mdEscape(c.Name), mdEscape(c.CheckID), c.Verdict, c.Evaluations, c.Agree, c.Disagree, c.NotComparable,
			c.Last.Graphite, c.Last.PromQL, mdEscape(formatCounts(c.Reasons)), mdEscape(c.Why))
	}
	b.Write(r.seyrenMarkdown())
	return b.Bytes()
}

func formatCounts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "`", "'").Replace(s)
}
