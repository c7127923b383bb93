package shadow

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"

	"github.com/copenhagen-obs/copenhagen/translate/graphiteweb"
)

// State is Seyren's AlertType, with its ordinals (domain/AlertType.java):
// the order is what "worst" means.
type State int

// Seyren's states. EXCEPTION is never set by Seyren's runner.
const (
	Unknown State = iota
	OK
	Warn
	Error
	Exception
)

var stateNames = [...]string{"UNKNOWN", "OK", "WARN", "ERROR", "EXCEPTION"}

func (s State) String() string {
	if s < 0 || int(s) >= len(stateNames) {
		return "State(" + strconv.Itoa(int(s)) + ")"
	}
	return stateNames[s]
}

// MarshalText writes the state's name, as the report shows it.
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a state name.
func (s *State) UnmarshalText(b []byte) error {
	for i, n := range stateNames {
		if string(b) == n {
			*s = State(i)
			return nil
		}
	}
	return fmt.Errorf("unknown state %q", b)
}

// worseThan is AlertType.isWorseThan: a higher ordinal.
func (s State) worseThan(o State) bool { return s > o }

// Thresholds are a check's warn and error as Seyren holds them,
// BigDecimal: compared exactly, on the text, never as float64.
type Thresholds struct {
	Warn, Error *big.Rat
}

// ParseThresholds reads warn and error from their decimal text.
func ParseThresholds(warn, errText string) (Thresholds, error) {
	w, err := parseDecimal(warn)
	if err != nil {
		return Thresholds{}, fmt.Errorf("warn: %w", err)
	}
	e, err := parseDecimal(errText)
	if err != nil {
		return Thresholds{}, fmt.Errorf("error: %w", err)
	}
	return Thresholds{Warn: w, Error: e}, nil
}

// maxExponent bounds the exponent of a decimal text: big.Rat would
// otherwise build a number of a billion digits from "1e999999999".
const maxExponent = 400

// parseDecimal reads a decimal as Java's new BigDecimal(String) does.
func parseDecimal(s string) (*big.Rat, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 128 {
		return nil, fmt.Errorf("not a decimal: %q", s)
	}
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		exp, err := strconv.Atoi(strings.TrimPrefix(s[i+1:], "+"))
		if err != nil || exp > maxExponent || exp < -maxExponent {
			return nil, fmt.Errorf("not a decimal within ±1e%d: %q", maxExponent, s)
		}
	}
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E') {
			return nil, fmt.Errorf("not a decimal: %q", s)
		}
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return nil, fmt.Errorf("not a decimal: %q", s)
	}
	return r, nil
}

// CheckValue is Seyren's DefaultValueChecker: when warn <= error a high
// value is worse and the thresholds are tested with >=, otherwise with <=;
// ERROR is tested first; both are inclusive.
func CheckValue(value *big.Rat, t Thresholds) State {
	highWorse := t.Warn.Cmp(t.Error) <= 0
	beyond := func(th *big.Rat) bool {
		if highWorse {
			return value.Cmp(th) >= 0
		}
		return value.Cmp(th) <= 0
	}
	switch {
	case beyond(t.Error):
		return Error
	case beyond(t.Warn):
		return Warn
	}
	return OK
}

// TargetValue is one rendered series reduced as Seyren's
// GraphiteTargetChecker does: its last non-null point, or absent.
type TargetValue struct {
	Target  string
	Present bool
	Text    string  // the value's JSON text
	Value   float64 // the same as a float, for display and comparison
	Time    int64   // timestamp of the point
	Step    int64   // spacing of the series' points (rollup detection)
}

// Reduce is GraphiteTargetChecker.check: every series keyed by its target
// name, valued by its last non-null datapoint (a reverse scan), absent
// when all its points are null. A later series with the same name
// replaces an earlier one, as Seyren's HashMap does.
func Reduce(series []graphiteweb.Series) []TargetValue {
	out := make([]TargetValue, 0, len(series))
	index := map[string]int{}
	for _, s := range series {
		tv := TargetValue{Target: s.Target, Step: s.Step()}
		if p, ok := s.LastNonNull(); ok {
			tv.Present, tv.Text, tv.Value, tv.Time = true, p.Text, p.Value, p.Time
		}
		if i, dup := index[s.Target]; dup {
			out[i] = tv
			continue
		}
		index[s.Target] = len(out)
		out = append(out, tv)
	}
	return out
}

// TargetResult is what one run decided for one target.
type TargetResult struct {
	TargetValue
	// State is the target's state after the run: the value's state, or,
	// for an absent value, the state kept from before (Seyren skips it).
	State State
	// Last is the target's state before the run (its last alert's
	// toType, OK when it never had one).
	Last State
	// Alert: Seyren writes an Alert row (every non-OK evaluation, and any
	// change). Notify: the state changed, so subscriptions are asked.
	Alert, Notify bool
}

// RunResult is one emulated run of Seyren's CheckRunner.
type RunResult struct {
	// State is the check's state as Seyren stores it: the worst over the
	// targets that had a value, starting from UNKNOWN (OK with
	// allowNoData).
	State State
	// Alerting is the worst state Seyren is alerting on after the run:
	// targets without a value keep the state of their last alert, so an
	// idle series stays ERROR in Seyren (no OK is ever notified for it).
	Alerting State
	Targets  []TargetResult
	// Aborted: the run threw (a value Seyren cannot turn into a
	// BigDecimal, such as graphite-web's 1e9999) and Seyren updated
	// nothing.
	Aborted bool
	// HasValue: at least one target had a value.
	HasValue bool
}

// LastStates is the per-target state Seyren remembers between runs (the
// toType of each target's last alert). Run updates it.
type LastStates map[string]State

// Run is one run of Seyren's CheckRunner over an already rendered answer.
// fetchErr is a failed render: Seyren's checker then returns an empty map
// (the check becomes UNKNOWN, or OK with allowNoData, and nothing else
// changes).
func Run(series []graphiteweb.Series, fetchErr error, t Thresholds, allowNoData bool, last LastStates) RunResult {
	worst := Unknown
	if allowNoData {
		worst = OK
	}
	res := RunResult{State: worst}
	var values []TargetValue
	if fetchErr == nil {
		values = Reduce(series)
	}
	// new BigDecimal(node.asText()) throws on "Infinity": the whole run
	// is aborted before anything is stored.
	for _, v := range values {
		if v.Present && (math.IsInf(v.Value, 0) || math.IsNaN(v.Value)) {
			res.Aborted = true
			res.Alerting = alertingOf(last, worst)
			return res
		}
	}
	next := LastStates{}
	for _, v := range values {
		lastState, had := last[v.Target]
		if !had {
			lastState = OK
		}
		tr := TargetResult{TargetValue: v, Last: lastState, State: lastState}
		if !v.Present {
			if had {
				next[v.Target] = lastState
			}
			res.Targets = append(res.Targets, tr)
			continue
		}
		r, err := parseDecimal(v.Text)
		if err != nil {
			res.Aborted = true
			res.Targets = nil
			res.Alerting = alertingOf(last, worst)
			return res
		}
		res.HasValue = true
		cur := CheckValue(r, t)
		tr.State = cur
		if cur.worseThan(worst) {
			worst = cur
		}
		if !(lastState == OK && cur == OK) {
			tr.Alert = true
			tr.Notify = lastState != cur
			next[v.Target] = cur
		} else if had {
			next[v.Target] = cur
		}
		res.Targets = append(res.Targets, tr)
	}
	// Targets Seyren remembers that this render did not return at all
	// keep their state too.
	for k, s := range last {
		if _, ok := next[k]; !ok {
			if !containsTarget(values, k) {
				next[k] = s
			}
		}
	}
	for k := range last {
		delete(last, k)
	}
	for k, s := range next {
		last[k] = s
	}
	res.State = worst
	res.Alerting = alertingOf(last, worst)
	return res
}

func containsTarget(vs []TargetValue, name string) bool {
	for _, v := range vs {
		if v.Target == name {
			return true
		}
	}
	return false
}

// alertingOf is the worst state among the remembered targets and the
// check's state.
func alertingOf(last LastStates, worst State) State {
	a := worst
	for _, s := range last {
		if s.worseThan(a) {
			a = s
		}
	}
	return a
}
