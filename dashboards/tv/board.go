package tv

import (
	"cmp"
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/notifier"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/rules"
)

// Tile states, as the page's data-state attribute carries them.
const (
	StateOK       = "ok"
	StateWarning  = "warning"
	StateCritical = "critical"
	StateNoData   = "nodata"
	StateStale    = "stale"
)

// Names the imported Seyren rules use (translate/seyren): the recording
// rule every check has, and the labels of its alerts. They are repeated
// here rather than imported so that the page does not depend on the
// importer, only on the rules it wrote.
const (
	valueMetric   = "seyren_check_value"
	labelCheckID  = "check_id"
	labelCheck    = "check"
	labelTeam     = "team"
	labelSeverity = "severity"
	// alertNoData is the evaluator's own alert for a check whose data
	// stopped (alerting/evaluate.AlertNoData).
	alertNoData = "CopenhagenCheckNoData"
)

// Rules is where the page reads rule and alert state: the rules manager's
// groups, and the evaluator's own alerts (for CopenhagenCheckNoData).
type Rules interface {
	RuleGroups() []*rules.Group
	SelfAlerts() []*notifier.Alert
}

// Values answers instant queries: the current seyren_check_value of the
// checks. rules.QueryFunc has this shape; see QueryFunc.
type Values interface {
	Query(ctx context.Context, expr string, t time.Time) (promql.Vector, error)
}

// QueryFunc adapts a function (such as a rules.QueryFunc) to Values.
type QueryFunc func(ctx context.Context, expr string, t time.Time) (promql.Vector, error)

// Query calls f.
func (f QueryFunc) Query(ctx context.Context, expr string, t time.Time) (promql.Vector, error) {
	return f(ctx, expr, t)
}

// Board is what one screen shows: the tiles of a team (or of every team),
// with when it was computed.
type Board struct {
	// Team is the team asked for; "" is every team.
	Team string `json:"team"`
	// Teams are all teams that have tiles, for the page's title and links.
	Teams []string `json:"teams"`
	// Generated is when the server computed the board.
	Generated time.Time `json:"generated"`
	// LastEvaluation is the newest evaluation among the tiles' groups.
	LastEvaluation time.Time `json:"lastEvaluation"`
	// Counts are tiles by state.
	Counts map[string]int `json:"counts"`
	// Signature changes when the set of tiles or their names change: the
	// page then reloads itself instead of patching tiles.
	Signature string `json:"signature"`
	Tiles     []Tile `json:"tiles"`
	// ValuesError is set when the values query failed: tiles then keep
	// their alert state but show no value.
	ValuesError string `json:"valuesError,omitempty"`
}

// Tile is one check or alerting rule.
type Tile struct {
	// ID is the Seyren check id, or "rule:<group>/<alertname>" for a rule
	// that is not an imported check. The page's data-check-id.
	ID   string `json:"id"`
	Name string `json:"name"`
	Team string `json:"team"`
	// Kind is "check" (an imported Seyren check) or "rule".
	Kind string `json:"kind"`
	// State is one of the State* constants.
	State string `json:"state"`
	// LastState is, for a stale tile, the state its rules last gave
	// (ok, warning, critical or nodata): the colour under the stale mark.
	// Otherwise it equals State.
	LastState string `json:"lastState"`
	// Value is the value shown (the worst series' value), ValueText its
	// short form ("NO DATA" without one).
	Value     *float64 `json:"value,omitempty"`
	ValueText string   `json:"valueText"`
	// Thresholds in words, "warn ≥ 1 · error ≥ 5", for checks.
	Thresholds string `json:"thresholds,omitempty"`
	// Series is how many series the check's value has; Firing how many
	// alerts of the tile fire.
	Series int `json:"series"`
	Firing int `json:"firing"`
	// Reason explains a stale or no-data tile.
	Reason string `json:"reason,omitempty"`
	// Since is when the current alert (or staleness) began.
	Since time.Time `json:"since,omitzero"`
	// Evaluated is the last evaluation of the tile's rule group.
	Evaluated time.Time `json:"evaluated,omitzero"`
}

// builder computes boards; it holds the options.
type builder struct {
	rules          Rules
	values         Values
	staleIntervals int
	parser         parser.Parser
}

// build computes the board of team ("" for all) at now.
func (b *builder) build(ctx context.Context, team string, now time.Time) Board {
	board := Board{Team: team, Generated: now, Counts: map[string]int{}}
	groups := b.rules.RuleGroups()

	noData := map[string]*notifier.Alert{}
	for _, a := range b.rules.SelfAlerts() {
		if a.Labels.Get(labels.AlertName) == alertNoData {
			if id := a.Labels.Get(labelCheckID); id != "" {
				noData[id] = a
			}
		}
	}

	var tiles []*tileBuild
	byID := map[string]*tileBuild{}
	for _, g := range groups {
		checkID := seyrenCheck(g)
		for _, r := range g.Rules() {
			ar, ok := r.(*rules.AlertingRule)
			if !ok {
				continue
			}
			id := checkID
			if id == "" {
				id = "rule:" + g.Name() + "/" + ar.Name()
			}
			t := byID[id]
			if t == nil {
				t = &tileBuild{Tile: Tile{ID: id, Kind: "rule", Name: ar.Name()}, group: g}
				if checkID != "" {
					t.Kind = "check"
				}
				byID[id] = t
				tiles = append(tiles, t)
			}
			t.add(ar, b.parser)
		}
	}

	var vals map[string]promql.Vector
	if len(tiles) > 0 {
		v, err := b.values.Query(ctx, valueMetric, now)
		if err != nil {
			board.ValuesError = err.Error()
		} else {
			vals = map[string]promql.Vector{}
			for _, s := range v {
				id := s.Metric.Get(labelCheckID)
				vals[id] = append(vals[id], s)
			}
		}
	}

	teams := map[string]bool{}
	for _, t := range tiles {
		if t.Team != "" {
			teams[t.Team] = true
		}
		if team != "" && !strings.EqualFold(t.Team, team) {
			continue
		}
		t.finish(now, b.staleIntervals, vals, board.ValuesError, noData[t.ID])
		board.Tiles = append(board.Tiles, t.Tile)
		board.Counts[t.State]++
		if t.Evaluated.After(board.LastEvaluation) {
			board.LastEvaluation = t.Evaluated
		}
	}
	for t := range teams {
		board.Teams = append(board.Teams, t)
	}
	slices.Sort(board.Teams)
	slices.SortFunc(board.Tiles, func(a, b Tile) int {
		return cmp.Or(cmp.Compare(a.Team, b.Team), cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.ID, b.ID))
	})
	h := fnv.New64a()
	for _, t := range board.Tiles {
		fmt.Fprintf(h, "%s\x00%s\x00", t.ID, t.Name)
	}
	board.Signature = strconv.FormatUint(h.Sum64(), 36)
	return board
}

// seyrenCheck returns the check id of a group `copenhagen import seyren`
// wrote (it has a seyren_check_value recording rule with a check_id), or "".
func seyrenCheck(g *rules.Group) string {
	for _, r := range g.Rules() {
		if rr, ok := r.(*rules.RecordingRule); ok && rr.Name() == valueMetric {
			if id := rr.Labels().Get(labelCheckID); id != "" {
				return id
			}
		}
	}
	return ""
}

// tileBuild accumulates the alerting rules of one tile.
type tileBuild struct {
	Tile
	group *rules.Group
	// worst firing severity so far: 0 none, 1 warning, 2 critical
	severity int
	// values of the firing alerts of that severity
	firingValues []float64
	pending      int
	// comparison of the check's critical rule: ">=" or "<=" ("" unknown)
	op         string
	warn, crit string
	ruleErr    error
}

func severityRank(s string) int {
	switch strings.ToLower(s) {
	case "warning", "warn", "info":
		return 1
	}
	return 2 // critical, error, page, or unset: a firing alert is bad
}

func (t *tileBuild) add(r *rules.AlertingRule, p parser.Parser) {
	ls := r.Labels()
	if t.Kind == "check" {
		if n := ls.Get(labelCheck); n != "" {
			t.Name = unescapeTemplate(n)
		}
	}
	if tm := ls.Get(labelTeam); tm != "" && t.Team == "" {
		t.Team = tm
	}
	if r.Health() == rules.HealthBad && r.LastError() != nil && t.ruleErr == nil {
		t.ruleErr = r.LastError()
	}
	sev := ls.Get(labelSeverity)
	if t.Kind == "check" {
		if op, v, ok := threshold(r.Query()); ok {
			switch strings.ToLower(sev) {
			case "critical":
				t.op, t.crit = op, v
			case "warning":
				t.warn = v
				if t.op == "" {
					t.op = op
				}
			}
		}
	}
	for _, a := range r.ActiveAlerts() {
		switch a.State {
		case rules.StateFiring:
			s := sev
			if s == "" {
				s = a.Labels.Get(labelSeverity)
			}
			rank := severityRank(s)
			t.Firing++
			switch {
			case rank > t.severity:
				t.severity = rank
				t.firingValues = []float64{a.Value}
				t.Since = a.ActiveAt
			case rank == t.severity:
				t.firingValues = append(t.firingValues, a.Value)
				if a.ActiveAt.Before(t.Since) {
					t.Since = a.ActiveAt
				}
			}
		case rules.StatePending:
			t.pending++
		}
	}
}

// threshold finds `seyren_check_value{...} >= N` (or <=) in an imported
// check's alert expression and returns the comparison and N.
func threshold(e parser.Expr) (op, value string, ok bool) {
	parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
		be, isBin := n.(*parser.BinaryExpr)
		if !isBin || ok {
			return nil
		}
		vs, isSel := be.LHS.(*parser.VectorSelector)
		num, isNum := be.RHS.(*parser.NumberLiteral)
		if !isSel || !isNum || vs.Name != valueMetric {
			return nil
		}
		switch be.Op {
		case parser.GTE:
			op = ">="
		case parser.LTE:
			op = "<="
		default:
			return nil
		}
		value, ok = strconv.FormatFloat(num.Val, 'f', -1, 64), true
		return nil
	})
	return op, value, ok
}

// finish sets the tile's state, value and texts.
func (t *tileBuild) finish(now time.Time, staleIntervals int, vals map[string]promql.Vector, valuesErr string, noData *notifier.Alert) {
	t.Evaluated = t.group.GetLastEvaluation()
	switch t.severity {
	case 2:
		t.State = StateCritical
	case 1:
		t.State = StateWarning
	default:
		t.State = StateOK
	}
	lowerIsWorse := t.op == "<="
	worst := func(vs []float64) float64 {
		if lowerIsWorse {
			return slices.Min(vs)
		}
		return slices.Max(vs)
	}
	if len(t.firingValues) > 0 {
		v := worst(t.firingValues)
		t.Value = &v
	}
	if t.Kind == "check" {
		sym := "≥"
		if lowerIsWorse {
			sym = "≤"
		}
		if t.warn != "" && t.crit != "" {
			t.Thresholds = fmt.Sprintf("warn %s %s · error %s %s", sym, t.warn, sym, t.crit)
		}
		series := vals[t.ID]
		t.Series = len(series)
		if t.Value == nil && len(series) > 0 {
			vs := make([]float64, len(series))
			for i, s := range series {
				vs[i] = s.F
			}
			v := worst(vs)
			t.Value = &v
		}
		if t.Value == nil && t.severity == 0 && valuesErr == "" {
			t.State = StateNoData
		}
	}
	t.LastState = t.State

	interval := t.group.Interval()
	switch {
	case t.Evaluated.IsZero():
		if t.severity == 0 {
			t.State, t.LastState = StateNoData, StateNoData
			t.Reason = "not evaluated yet"
		}
	case now.Sub(t.Evaluated) > time.Duration(staleIntervals)*interval:
		t.State = StateStale
		t.Reason = "evaluation stopped " + ago(now.Sub(t.Evaluated)) + " ago"
		t.Since = t.Evaluated
	case t.ruleErr != nil:
		t.State = StateStale
		t.Reason = "evaluation fails: " + t.ruleErr.Error()
		t.Since = time.Time{}
	case noData != nil && t.Value != nil:
		// The recording rule repeats the last value of a check whose
		// data stopped; a check that never had a value is just grey.
		t.State = StateStale
		t.Reason = "data stopped, last value kept"
		t.Since = noData.StartsAt
	case valuesErr != "" && t.Kind == "check":
		t.Reason = "value unavailable"
	}

	switch {
	case t.Value != nil:
		t.ValueText = FormatValue(*t.Value)
	case t.State == StateNoData || t.LastState == StateNoData:
		t.ValueText = "NO DATA"
	case t.Kind == "rule" && t.ruleErr != nil && t.severity == 0:
		t.ValueText = "FAILING"
	case t.Kind == "rule" && t.LastState == StateOK:
		t.ValueText = "OK"
	default:
		t.ValueText = "–"
	}
	if t.Kind == "rule" && t.pending > 0 && t.severity == 0 {
		t.Reason = strconv.Itoa(t.pending) + " pending"
	}
}

// unescapeTemplate undoes translate/seyren's escaping of "{{" in labels.
func unescapeTemplate(s string) string {
	return strings.ReplaceAll(s, `{{ "{{" }}`, "{{")
}

// ago is a short duration for a TV: 45s, 12m, 3h, 2d.
func ago(d time.Duration) string {
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(max(d, 0)/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

// FormatValue writes a value short enough for a tile, with about three
// significant digits: 0.0123, 4.56, 78.9, 1234, 12.3k, 4.57M.
func FormatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	case v == 0:
		return "0"
	}
	a := math.Abs(v)
	if a >= 1e15 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	for _, u := range []struct {
		from, div float64
		suffix    string
	}{{1e12, 1e12, "T"}, {1e9, 1e9, "G"}, {1e6, 1e6, "M"}, {1e4, 1e3, "k"}} {
		if a >= u.from {
			return trimZeros(strconv.FormatFloat(v/u.div, 'f', decimals(a/u.div), 64)) + u.suffix
		}
	}
	if a < 0.001 {
		return strconv.FormatFloat(v, 'g', 3, 64)
	}
	return trimZeros(strconv.FormatFloat(v, 'f', decimals(a), 64))
}

func decimals(a float64) int {
	switch {
	case a >= 100:
		return 0
	case a >= 10:
		return 1
	case a >= 1:
		return 2
	}
	return 3
}

func trimZeros(s string) string {
	if !strings.Contains(s, ".") {
		return s
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}
