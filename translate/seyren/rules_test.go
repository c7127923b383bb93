package seyren

import (
	"strings"
	"testing"
	"text/template"
)

func TestSeyrenStateInclusive(t *testing.T) {
	for _, tc := range []struct {
		v, warn, crit float64
		want          string
	}{
		{0.99, 1, 5, "OK"}, {1, 1, 5, "WARN"}, {4.99, 1, 5, "WARN"}, {5, 1, 5, "ERROR"}, {9, 1, 5, "ERROR"},
		{51, 50, 10, "OK"}, {50, 50, 10, "WARN"}, {10.1, 50, 10, "WARN"}, {10, 50, 10, "ERROR"}, {-3, 50, 10, "ERROR"},
		{2, 1, 1, "ERROR"}, {1, 1, 1, "ERROR"}, {0, 1, 1, "OK"},
	} {
		if got := seyrenState(tc.v, tc.warn, tc.crit); got != tc.want {
			t.Errorf("value %v warn %v error %v: %s, want %s", tc.v, tc.warn, tc.crit, got, tc.want)
		}
	}
}

// The test values walk OK -> WARN -> ERROR -> WARN -> OK and hit both
// thresholds exactly.
func TestTestValuesCrossBothWays(t *testing.T) {
	for _, th := range [][2]float64{{1, 5}, {50, 10}, {1, 0}, {0.8, 0.5}, {3, 3}, {-5, -1}, {0, 0}} {
		vals := testValues(th[0], th[1])
		var states []string
		for _, v := range vals {
			states = append(states, seyrenState(v, th[0], th[1]))
		}
		s := strings.Join(states, " ")
		want := "OK WARN WARN ERROR ERROR WARN OK"
		if th[0] == th[1] {
			want = "OK ERROR ERROR ERROR OK"
		}
		if s != want {
			t.Errorf("warn %v error %v: values %v give %s, want %s", th[0], th[1], vals, s, want)
		}
		hitWarn, hitErr := false, false
		for _, v := range vals {
			hitWarn = hitWarn || v == th[0]
			hitErr = hitErr || v == th[1]
		}
		if !hitWarn || !hitErr {
			t.Errorf("warn %v error %v: thresholds not hit exactly by %v", th[0], th[1], vals)
		}
	}
}

// Text from Seyren lands in Prometheus templates: "{{" must come out as is.
func TestEscapeTemplate(t *testing.T) {
	for _, s := range []string{"plain", "a {{ b }} c", "{{", "}} {{$x}}", `{{ "{{" }}`} {
		tmpl, err := template.New("x").Parse(escapeTemplate(s))
		if err != nil {
			t.Errorf("%q: %v", s, err)
			continue
		}
		var b strings.Builder
		if err := tmpl.Execute(&b, nil); err != nil || b.String() != s {
			t.Errorf("%q expands to %q, %v", s, b.String(), err)
		}
	}
}

func TestSeriesTemplateMatchesIdentity(t *testing.T) {
	labels := map[string]string{"__name__": ValueMetric, "check_id": "x", "route": "a", "app": "b"}
	tmpl := template.Must(template.New("x").Parse(`{{ $labels := .Labels }}` + seriesTemplate))
	var b strings.Builder
	if err := tmpl.Execute(&b, map[string]any{"Labels": labels}); err != nil {
		t.Fatal(err)
	}
	if b.String() != seriesIdentity(labels) || b.String() != "app=b,route=a," {
		t.Errorf("template %q, identity %q", b.String(), seriesIdentity(labels))
	}
}

func TestAlertName(t *testing.T) {
	for in, want := range map[string]string{
		"catalog 500s":            "SeyrenCatalog500s",
		"catalog get_program p90": "SeyrenCatalogGetProgramP90",
		"héhé!":                   "SeyrenHH",
		"":                        "SeyrenCheck",
	} {
		if got := alertName(in); got != want {
			t.Errorf("alertName(%q) = %q, want %q", in, got, want)
		}
	}
}
