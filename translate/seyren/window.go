package seyren

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

// graphiteUnits are the unit words of Graphite's relative times
// (graphite-web render/attime.py getUnitString): months are 30 days and
// years 365 days there too.
var graphiteUnits = []struct {
	prefix string
	d      time.Duration
}{
	// Longest prefixes first: "mon" before "min", "ms" is not a unit.
	{"mon", 30 * 24 * time.Hour},
	{"min", time.Minute},
	{"s", time.Second},
	{"h", time.Hour},
	{"d", 24 * time.Hour},
	{"w", 7 * 24 * time.Hour},
	{"y", 365 * 24 * time.Hour},
}

// ParseRelativeTime parses a Graphite time relative to now as Seyren sends
// it to the render API ("-11minutes", "-1d", "now", "now-5min") and returns
// how far back it is. Absolute times (dates, "midnight") have no meaning in
// a rule evaluated continuously and are refused.
func ParseRelativeTime(s string) (time.Duration, error) {
	t := strings.ToLower(strings.TrimSpace(s))
	if t == "now" || t == "" {
		return 0, nil
	}
	t = strings.TrimPrefix(t, "now")
	if !strings.HasPrefix(t, "-") {
		return 0, fmt.Errorf("time %q: only times before now (-N<unit>) can be carried over", s)
	}
	t = t[1:]
	i := 0
	for i < len(t) && t[i] >= '0' && t[i] <= '9' {
		i++
	}
	if i == 0 {
		return 0, fmt.Errorf("time %q: no number", s)
	}
	n, err := strconv.Atoi(t[:i])
	if err != nil {
		return 0, fmt.Errorf("time %q: %w", s, err)
	}
	unit := t[i:]
	for _, u := range graphiteUnits {
		if strings.HasPrefix(unit, u.prefix) {
			if n > int(200*365*24*time.Hour/u.d) {
				return 0, fmt.Errorf("time %q: too far back", s)
			}
			return time.Duration(n) * u.d, nil
		}
	}
	return 0, fmt.Errorf("time %q: unknown unit %q", s, unit)
}

// Window is the part of the range Seyren reads: the last non-null point of
// every series between now-From and now-Until.
type Window struct {
	Range  time.Duration // From - Until
	Offset time.Duration // Until
}

// ParseWindow turns a check's from/until into a Window.
func ParseWindow(from, until string) (Window, error) {
	f, err := ParseRelativeTime(from)
	if err != nil {
		return Window{}, fmt.Errorf("from: %w", err)
	}
	u, err := ParseRelativeTime(until)
	if err != nil {
		return Window{}, fmt.Errorf("until: %w", err)
	}
	if f <= u {
		return Window{}, fmt.Errorf("from %q is not before until %q: empty window", from, until)
	}
	return Window{Range: f - u, Offset: u}, nil
}

// LastValue wraps a PromQL instant-vector expression so that each series
// holds its last point in the window, as Seyren reduces every Graphite
// series to its last non-null value. A bare selector becomes a range
// selector; anything else a subquery at the given step (its points play the
// role of Graphite's fixed-step points).
func LastValue(expr string, w Window, step time.Duration) (string, error) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return "", fmt.Errorf("translated PromQL does not parse: %w", err)
	}
	offset := ""
	if w.Offset > 0 {
		offset = " offset " + model.Duration(w.Offset).String()
	}
	rng := model.Duration(w.Range).String()
	var out string
	if vs, ok := e.(*parser.VectorSelector); ok && vs.OriginalOffset == 0 && vs.Timestamp == nil && vs.StartOrEnd == 0 {
		out = fmt.Sprintf("last_over_time(%s[%s]%s)", vs.String(), rng, offset)
	} else {
		out = fmt.Sprintf("last_over_time((%s)[%s:%s]%s)", e.String(), rng, model.Duration(step).String(), offset)
	}
	if _, err := parser.NewParser(parser.Options{}).ParseExpr(out); err != nil {
		return "", fmt.Errorf("windowed PromQL does not parse: %w", err)
	}
	return out, nil
}

// keepLastState makes the value of a series that has no point in the
// window keep its previous recorded value, as Seyren skipped a target
// without data and kept its last state (no notification, no resolution).
// The recording rule reads its own output of the previous evaluation;
// the carried series keep check_id so that "or" matches them with the
// fresh ones.
func keepLastState(value, checkID string, interval time.Duration) (string, error) {
	out := fmt.Sprintf(`label_replace(%s, %q, %s, "", "") or last_over_time(%s{%s=%s}[%s])`,
		value, LabelCheckID, strconv.Quote(checkID), ValueMetric, LabelCheckID, strconv.Quote(checkID), model.Duration(2*interval))
	if _, err := parser.NewParser(parser.Options{}).ParseExpr(out); err != nil {
		return "", fmt.Errorf("value PromQL does not parse: %w", err)
	}
	return out, nil
}

// bareEqualitySelector returns the labels of expr when it is a selector
// with a metric name and only equality matchers: the series it reads can
// then be written down for a unit test.
func bareEqualitySelector(expr string) (map[string]string, bool) {
	e, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return nil, false
	}
	vs, ok := e.(*parser.VectorSelector)
	if !ok || vs.OriginalOffset != 0 || vs.Timestamp != nil || vs.StartOrEnd != 0 {
		return nil, false
	}
	l := map[string]string{}
	for _, m := range vs.LabelMatchers {
		if m.Type != labels.MatchEqual || m.Value == "" {
			return nil, false
		}
		l[m.Name] = m.Value
	}
	if l["__name__"] == "" {
		return nil, false
	}
	return l, true
}
