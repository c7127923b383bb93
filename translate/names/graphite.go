package names

import (
	"strings"
	"unicode/utf8"
)

// EscapeGraphite turns a Graphite path no rule matched into a valid
// Prometheus metric name: every character outside [a-zA-Z0-9_:] becomes
// '_' (one '_' per character, so "é" is one '_', and so is each byte of
// invalid UTF-8), and a leading digit gets a '_' prefix. Unlike Escape it
// keeps ':', which Prometheus allows in metric names and which recording
// rule style paths ("job:requests:rate5m") use. "a.b-c" becomes "a_b_c".
//
// Names that need no change are returned as they are, without allocating.
func EscapeGraphite(name string) string {
	if name == "" {
		return ""
	}
	if !graphiteNeedsEscape(name, true) {
		return name
	}
	return escapeInto(name, true)
}

// EscapeLabelName turns a Graphite tag name into a valid Prometheus label
// name: every character outside [a-zA-Z0-9_] becomes '_', a leading digit
// gets a '_' prefix. Names starting with "__" are reserved for Prometheus'
// own labels (a tag "__name__" would replace the metric name), so they are
// prefixed with "tag": "__x" becomes "tag__x". An empty name stays empty;
// callers drop such tags.
func EscapeLabelName(name string) string {
	if name == "" {
		return ""
	}
	out := name
	if graphiteNeedsEscape(name, false) {
		out = escapeInto(name, false)
	}
	if strings.HasPrefix(out, "__") {
		out = "tag" + out
	}
	return out
}

func validByte(c byte, colon bool) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || colon && c == ':'
}

func graphiteNeedsEscape(s string, colon bool) bool {
	if s[0] >= '0' && s[0] <= '9' {
		return true
	}
	for i := 0; i < len(s); i++ {
		if !validByte(s[i], colon) {
			return true
		}
	}
	return false
}

func escapeInto(s string, colon bool) string {
	var b strings.Builder
	b.Grow(len(s) + 1)
	if s[0] >= '0' && s[0] <= '9' {
		b.WriteByte('_')
	}
	for i := 0; i < len(s); {
		c := s[i]
		if validByte(c, colon) {
			b.WriteByte(c)
			i++
			continue
		}
		b.WriteByte('_')
		if c < utf8.RuneSelf {
			i++
			continue
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size // 1 for an invalid byte
	}
	return b.String()
}
