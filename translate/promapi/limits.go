package promapi

import (
	"fmt"
	"net/http"
	"strings"
)

// Default query limits. Prometheus has none; VictoriaMetrics refuses
// queries longer than 16 KiB (-search.maxQueryLen). These are looser, so
// that Grafana template variables expanded into long regexps still pass,
// and tight enough that parsing the worst query they let through costs
// tens of milliseconds (measured in limits_test.go's benchmarks).
const (
	DefaultMaxQueryLength = 64 << 10
	DefaultMaxQueryDepth  = 128
	// DefaultMaxQueryOperators bounds operators: the PromQL parser is
	// quadratic in the length of an operator chain ("1+1+...+1" with 32 768
	// operators took 14 s to parse here, 1 000 take 4 ms).
	DefaultMaxQueryOperators = 1000
)

// Limits bound the PromQL a request may hand to the parser. The parser
// has no context and is superlinear in nesting and operator chains
// (150 000 nested parentheses held a core for 50 s and 1.9 GB), so these
// are checked by a linear scan before it runs. A zero field takes its
// default; a negative one disables that check.
type Limits struct {
	// MaxLength is the longest query or match[] selector, in bytes.
	MaxLength int
	// MaxDepth is the deepest nesting of (), [] and {}.
	MaxDepth int
	// MaxOperators is the most operator tokens (arithmetic, comparison,
	// and, or, unless, atan2, unary signs) outside strings and braces.
	MaxOperators int
	// Keys name the configuration keys of the three limits in errors, so
	// that a user knows what to raise; empty names are left out.
	LengthKey, DepthKey, OperatorsKey string
}

func (l Limits) withDefaults() Limits {
	if l.MaxLength == 0 {
		l.MaxLength = DefaultMaxQueryLength
	}
	if l.MaxDepth == 0 {
		l.MaxDepth = DefaultMaxQueryDepth
	}
	if l.MaxOperators == 0 {
		l.MaxOperators = DefaultMaxQueryOperators
	}
	return l
}

func hint(key string) string {
	if key == "" {
		return ""
	}
	return " (" + key + ")"
}

// Check returns an error when q exceeds a limit. It reads q once and
// allocates nothing unless it fails.
func (l Limits) Check(q string) error {
	l = l.withDefaults()
	if l.MaxLength > 0 && len(q) > l.MaxLength {
		return fmt.Errorf("query is %d bytes long, more than the limit of %d%s", len(q), l.MaxLength, hint(l.LengthKey))
	}
	depth, maxDepth, ops := 0, 0, 0
	braces := 0 // inside {...}, where = and != are label matchers
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch c {
		case '"', '\'', '`':
			// Skip the string: brackets and operators inside are text.
			i++
			for i < len(q) && q[i] != c {
				if q[i] == '\\' && c != '`' {
					i++
				}
				i++
			}
		case '#': // comment to the end of the line
			for i < len(q) && q[i] != '\n' {
				i++
			}
		case '(', '[', '{':
			depth++
			if c == '{' {
				braces++
			}
			if depth > maxDepth {
				maxDepth = depth
				if l.MaxDepth > 0 && depth > l.MaxDepth {
					return fmt.Errorf("query nests brackets deeper than the limit of %d%s", l.MaxDepth, hint(l.DepthKey))
				}
			}
		case ')', ']', '}':
			if depth > 0 {
				depth--
			}
			if c == '}' && braces > 0 {
				braces--
			}
		case '+', '-', '*', '/', '%', '^', '<', '>':
			if braces == 0 {
				ops++
			}
		case '=', '!':
			// "==" and "!=" outside braces; "<=" and ">=" were counted
			// at their first byte.
			if braces == 0 && i+1 < len(q) && q[i+1] == '=' && (c == '!' || i == 0 || (q[i-1] != '<' && q[i-1] != '>' && q[i-1] != '!' && q[i-1] != '=')) {
				ops++
				i++
			}
		case 'a', 'o', 'u', 'A', 'O', 'U':
			if braces == 0 && (i == 0 || !identByte(q[i-1])) {
				if n := keywordOperator(q[i:]); n > 0 {
					ops++
					i += n - 1
				}
			}
		}
		if l.MaxOperators > 0 && ops > l.MaxOperators {
			return fmt.Errorf("query has more than the limit of %d operators%s", l.MaxOperators, hint(l.OperatorsKey))
		}
	}
	return nil
}

// keywordOperator returns the length of the binary keyword operator
// (and, or, unless, atan2) s starts with as a whole word, or 0.
func keywordOperator(s string) int {
	for _, kw := range [...]string{"and", "or", "unless", "atan2"} {
		if len(s) >= len(kw) && strings.EqualFold(s[:len(kw)], kw) && (len(s) == len(kw) || !identByte(s[len(kw)])) {
			return len(kw)
		}
	}
	return 0
}

func identByte(c byte) bool {
	return c == '_' || c == ':' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80
}

// queryParams are the request parameters the Prometheus API parses as
// PromQL: query (query, query_range, query_exemplars, format_query,
// parse_query) and match[] (series, labels, label values, rules, alerts).
var queryParams = []string{"query", "match[]"}

// Limit checks the PromQL parameters of every request before next sees
// it, and answers one that exceeds l at once with Prometheus's bad_data
// error (400). A request whose client has gone is not passed on. Mount it
// in front of every /api/v1 handler that parses PromQL, this package's
// and the rules API's.
func Limit(l Limits, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// ParseForm reads a form-encoded POST body (http.MaxBytesReader in
		// front bounds it); next finds the parsed form and does not read
		// it again. A malformed form is left for next to report.
		if err := r.ParseForm(); err == nil {
			for _, p := range queryParams {
				for _, v := range r.Form[p] {
					if err := l.Check(v); err != nil {
						badData(w, "invalid parameter \""+p+"\": "+err.Error())
						return
					}
				}
			}
		}
		if r.Context().Err() != nil {
			return
		}
		next.ServeHTTP(w, r)
	})
}

func badData(w http.ResponseWriter, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusBadRequest)
	_, _ = w.Write([]byte(`{"status":"error","errorType":"bad_data","error":"` + jsonEscape(msg) + `"}`))
}
