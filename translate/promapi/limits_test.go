package promapi_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/promql/parser"

	"github.com/copenhagen-obs/copenhagen/translate/promapi"
	cstorage "github.com/copenhagen-obs/copenhagen/translate/storage"
)

func TestLimitsCheck(t *testing.T) {
	l := promapi.Limits{MaxLength: 200, MaxDepth: 3, MaxOperators: 3, LengthKey: "http.max_query_length"}
	tests := []struct {
		name, q string
		err     string // substring; "" means accepted
	}{
		{"plain", `sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))`, ""},
		{"depth at limit", `((( 1 )))`, ""},
		{"depth over", `(((( 1 ))))`, "nests brackets deeper than the limit of 3"},
		{"brackets count", `max_over_time((rate(x[5m]))[1h:])`, "deeper"},
		{"subquery at limit", `max_over_time(rate(x[5m])[1h:])`, ""},
		{"braces count", `(((x{a="b"})))`, "deeper"},
		{"brackets in strings are text", `x{a=~"((((((((((("}`, ""},
		{"escaped quote", `x{a="\"(((((((("}`, ""},
		{"single quotes", `x{a='((((((((('}`, ""},
		{"backticks", "x{a=~`\\((((((((`}", ""},
		{"comment", "x # ((((((((\n", ""},
		{"unbalanced closers do not go negative", `))))(((( 1`, "deeper"},
		{"operators at limit", `a + b - c * d`, ""},
		{"operators over", `a + b - c * d / e`, "more than the limit of 3 operators"},
		{"keyword operators", `a and b or c unless d atan2 e`, "operators"},
		{"comparison", `a == b != c >= d <= e`, "operators"},
		{"unary chain", `----1`, "operators"},
		{"keywords inside names are not operators", `order + android - unless_total`, ""},
		{"matchers are not operators", `x{a="1",b!="2",c=~"3",d!~"4"}`, ""},
		{"too long", strings.Repeat("x", 201), "201 bytes long, more than the limit of 200 (http.max_query_length)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := l.Check(tt.q)
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("Check(%q) = %v, want accepted", tt.q, err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("Check(%q) = %v, want an error containing %q", tt.q, err, tt.err)
			}
		})
	}
}

func TestLimitsDefaults(t *testing.T) {
	var l promapi.Limits // zero: the defaults
	if err := l.Check(strings.Repeat("(", promapi.DefaultMaxQueryDepth) + "1" + strings.Repeat(")", promapi.DefaultMaxQueryDepth)); err != nil {
		t.Fatalf("default depth refused: %v", err)
	}
	if err := l.Check(strings.Repeat("(", 150000)); err == nil {
		t.Fatal("150 000 parentheses accepted by default")
	}
	if err := l.Check(strings.Repeat("1+", promapi.DefaultMaxQueryOperators) + "1"); err != nil {
		t.Fatalf("default operators refused: %v", err)
	}
	if err := l.Check(strings.Repeat("1+", promapi.DefaultMaxQueryOperators+1) + "1"); err == nil {
		t.Fatal("operators over the default accepted")
	}
	off := promapi.Limits{MaxLength: -1, MaxDepth: -1, MaxOperators: -1}
	if err := off.Check(strings.Repeat("(", 200000)); err != nil {
		t.Fatalf("disabled limits refused: %v", err)
	}
}

// TestLimitEveryEndpoint sends hostile PromQL to every endpoint that
// parses it, by GET and by form POST: each answers Prometheus's bad_data
// 400 naming the limit, and a good query still runs.
func TestLimitEveryEndpoint(t *testing.T) {
	st, err := cstorage.Open(cstorage.Options{Mode: cstorage.ModeServer, Path: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	q, err := st.Queryable()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(promapi.Limit(promapi.Limits{}, promapi.Handler(promapi.Options{Queryable: q, Engine: st.Engine()})))
	t.Cleanup(srv.Close)

	nested := strings.Repeat("(", 20000) + "up" + strings.Repeat(")", 20000)
	huge := strings.Repeat("(", 150000) + "up" + strings.Repeat(")", 150000)
	long := `up{job=~"` + strings.Repeat("a|", 40000) + `b"}`
	endpoints := []struct {
		path, param string
		extra       url.Values
	}{
		{"/api/v1/query", "query", nil},
		{"/api/v1/query_range", "query", url.Values{"start": {"0"}, "end": {"60"}, "step": {"15"}}},
		{"/api/v1/query_exemplars", "query", url.Values{"start": {"0"}, "end": {"60"}}},
		{"/api/v1/format_query", "query", nil},
		{"/api/v1/parse_query", "query", nil},
		{"/api/v1/series", "match[]", nil},
		{"/api/v1/labels", "match[]", nil},
		{"/api/v1/label/job/values", "match[]", nil},
	}
	for _, e := range endpoints {
		for _, method := range []string{http.MethodGet, http.MethodPost} {
			if method == http.MethodPost && strings.HasPrefix(e.path, "/api/v1/label/") {
				continue // GET only, in Prometheus too
			}
			for name, bad := range map[string]string{"nested": nested, "huge": huge, "long": long} {
				form := url.Values{e.param: {bad}}
				for k, v := range e.extra {
					form[k] = v
				}
				status, body := get(t, method, srv.URL+e.path, form)
				want := "deeper than the limit"
				if name != "nested" {
					want = "bytes long, more than the limit of 65536"
				}
				if status != http.StatusBadRequest || !strings.Contains(body, `"errorType":"bad_data"`) || !strings.Contains(body, want) {
					t.Errorf("%s %s %s: %d %.200s, want 400 bad_data %q", method, e.path, name, status, body, want)
				}
			}
			form := url.Values{e.param: {`up`}}
			for k, v := range e.extra {
				form[k] = v
			}
			if status, body := get(t, method, srv.URL+e.path, form); status != http.StatusOK {
				t.Errorf("%s %s good query: %d %.200s", method, e.path, status, body)
			}
		}
	}
}

// BenchmarkLimitsCheck is the cost added to every query: a linear scan.
func BenchmarkLimitsCheck(b *testing.B) {
	q := `sum by (job, instance) (rate(http_requests_total{code=~"5..", job=~"api|web|worker"}[5m])) / sum by (job, instance) (rate(http_requests_total[5m])) > 0.05`
	var l promapi.Limits
	b.ReportAllocs()
	b.SetBytes(int64(len(q)))
	for b.Loop() {
		if err := l.Check(q); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseWorstAllowed parses the most expensive queries the
// default limits let through, to show what a hostile client can still
// cost: the limits are only as good as this figure.
func BenchmarkParseWorstAllowed(b *testing.B) {
	d := promapi.DefaultMaxQueryDepth
	cases := map[string]string{
		"operator_chain": strings.Repeat("1+", promapi.DefaultMaxQueryOperators) + "1",
		"deep_groups":    strings.Repeat(strings.Repeat("(", d)+"1"+strings.Repeat(")", d)+"+", 250) + "1",
		"unary_chain":    strings.Repeat("-", promapi.DefaultMaxQueryOperators) + "1",
		"by_labels":      "sum by (" + strings.Repeat("a,", 32000) + ") (up)",
	}
	for name, q := range cases {
		var l promapi.Limits
		if err := l.Check(q); err != nil || len(q) > promapi.DefaultMaxQueryLength {
			b.Fatalf("%s is not allowed: %v", name, err)
		}
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			p := parser.NewParser(parser.Options{})
			for b.Loop() {
				_, _ = p.ParseExpr(q)
			}
		})
	}
}

func FuzzLimitsCheck(f *testing.F) {
	for _, s := range []string{`up`, `((up))`, `x{a="(("}`, "a `", `"\`, `a and b`, `1 <= 2 == 3`, "#(\n(", `'\'`} {
		f.Add(s)
	}
	l := promapi.Limits{MaxLength: 1 << 10, MaxDepth: 8, MaxOperators: 16}
	f.Fuzz(func(t *testing.T, q string) {
		if err := l.Check(q); err == nil {
			// Whatever passes is something the parser handles quickly;
			// it must not panic on it.
			_, _ = parser.NewParser(parser.Options{}).ParseExpr(q)
		}
	})
}
