package seyren

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
)

// ValueMetric is the recording rule that holds, for every series of every
// check, the value Seyren would compare with the thresholds. The alerting
// rules compare it, so the value can be graphed and the thresholds are
// testable on their own.
const ValueMetric = "seyren_check_value"

// Label names on the generated alerts. check_id is what Alertmanager routes
// and groups on; seyren_series identifies the series inside a check so that
// critical inhibits warning for the same series only.
const (
	LabelCheckID  = "check_id"
	LabelCheck    = "check"
	LabelSeverity = "severity"
	LabelTeam     = "team"
	LabelSeries   = "seyren_series"
)

// seriesTemplate expands, per alert, to the labels of the series (minus the
// metric name and check_id), sorted: text/template ranges over maps in key
// order. Warning and critical alerts of one series get the same value.
const seriesTemplate = `{{ range $k, $v := $labels }}{{ if and (ne $k "__name__") (ne $k "check_id") }}{{ $k }}={{ $v }},{{ end }}{{ end }}`

// seriesIdentity is what seriesTemplate expands to for the given labels.
func seriesIdentity(labels map[string]string) string {
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if k != "__name__" && k != LabelCheckID {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(labels[k])
		b.WriteByte(',')
	}
	return b.String()
}

// Direction says which way a check's value gets worse.
type Direction int

// Seyren compares with >= when warn <= error and with <= otherwise.
const (
	HigherIsWorse Direction = iota
	LowerIsWorse
)

func (d Direction) String() string {
	if d == LowerIsWorse {
		return "lower is worse"
	}
	return "higher is worse"
}

func directionOf(warn, crit float64) Direction {
	if warn > crit {
		return LowerIsWorse
	}
	return HigherIsWorse
}

// promNumber writes a threshold as a PromQL number literal.
func promNumber(v float64) string {
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// alertExprs returns the warning and critical expressions over the value
// metric. States are exclusive, as in Seyren: a series is WARN or ERROR,
// never both, so each state change is one alert starting and another
// resolving.
func alertExprs(checkID string, warn, crit float64) (warning, critical string) {
	sel := fmt.Sprintf(`%s{%s=%s}`, ValueMetric, LabelCheckID, strconv.Quote(checkID))
	w, c := promNumber(warn), promNumber(crit)
	if directionOf(warn, crit) == LowerIsWorse {
		return fmt.Sprintf("%s <= %s > %s", sel, w, c), fmt.Sprintf("%s <= %s", sel, c)
	}
	return fmt.Sprintf("%s >= %s < %s", sel, w, c), fmt.Sprintf("%s >= %s", sel, c)
}

// seyrenState is Seyren's verdict for one value (AlertsService): the
// reference the generated unit tests are built from.
func seyrenState(v, warn, crit float64) string {
	if directionOf(warn, crit) == LowerIsWorse {
		switch {
		case v <= crit:
			return "ERROR"
		case v <= warn:
			return "WARN"
		}
		return "OK"
	}
	switch {
	case v >= crit:
		return "ERROR"
	case v >= warn:
		return "WARN"
	}
	return "OK"
}

// escapeTemplate makes user text safe inside Prometheus label and
// annotation templates: "{{" would otherwise start an action.
func escapeTemplate(s string) string {
	return strings.ReplaceAll(s, "{{", `{{ "{{" }}`)
}

// alertName is a legacy-valid metric name built from the check name, so
// that even promtool 2.x accepts it: "catalog 500s" -> SeyrenCatalog500s.
func alertName(name string) string {
	var b strings.Builder
	b.WriteString("Seyren")
	up := true
	for _, r := range name {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			if up {
				r = unicode.ToUpper(r)
			}
			b.WriteRune(r)
			up = false
		default:
			up = true
		}
	}
	if b.Len() == len("Seyren") {
		b.WriteString("Check")
	}
	return b.String()
}

// slug is a file- and name-safe form of s: lower case, [a-z0-9-].
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimRight(b.String(), "-")
}

// testValues are the values a check's unit test feeds, in order: OK just
// short of warn, warn exactly, just short of error, error exactly, well
// past error, back between warn and error, back to OK. Exact thresholds
// and their neighbours prove the comparisons are inclusive.
func testValues(warn, crit float64) []float64 {
	gap := math.Abs(crit - warn)
	if gap == 0 {
		gap = math.Max(math.Abs(warn), 1)
	}
	eps := math.Max(math.Abs(warn), math.Abs(crit)) * 1e-9
	if eps == 0 {
		eps = 1e-9
	}
	s := 1.0 // direction of "worse"
	if directionOf(warn, crit) == LowerIsWorse {
		s = -1
	}
	vals := []float64{
		warn - s*eps,
		warn,
	}
	if warn != crit {
		vals = append(vals, crit-s*eps)
	}
	vals = append(vals,
		crit,
		crit+s*gap,
	)
	if warn != crit {
		vals = append(vals, (warn+crit)/2)
	}
	vals = append(vals, warn-s*gap)
	return vals
}
