package graphiteql

import (
	"regexp"
	"strings"
	"unicode/utf8"
)

// PieceKind is the kind of one element of a path segment.
type PieceKind uint8

// Elements of a path segment. None of them crosses a dot.
const (
	PieceLiteral PieceKind = iota // text, escapes resolved
	PieceStar                     // *: any run of characters
	PieceAny                      // ?: one character
	PieceClass                    // [a-z0-9], [!x]: one character of a set
	PieceAlt                      // {a,b}: one of several alternatives
	PieceVar                      // $route, ${route}, [[route]]: a dashboard template variable
)

// Piece is one element of a segment.
type Piece struct {
	Kind PieceKind
	// Text is the literal text (PieceLiteral), the class body without the
	// brackets and the leading '!' (PieceClass) or the variable as written
	// (PieceVar).
	Text   string
	Negate bool      // PieceClass: [!...]
	Alts   [][]Piece // PieceAlt
}

// Segment is one dot-separated part of a path.
type Segment struct {
	P      int // byte offset in the target
	Pieces []Piece
}

// parseSegments splits a path into segments and parses their globs; base
// is the offset of text in the target, for error positions.
func parseSegments(text string, base int) ([]Segment, error) {
	var segs []Segment
	start := 0
	for i := 0; i <= len(text); i++ {
		if i < len(text) && text[i] == '\\' {
			i++
			continue
		}
		if i < len(text) && text[i] == '{' {
			// The lexer let no unescaped dot into braces.
			if j := closeBrace(text[i:]); j > 0 {
				i += j
			}
			continue
		}
		if i == len(text) || text[i] == '.' {
			if i == start {
				return nil, posErr(text, base, i, "expected a path segment, found %s", describeAt(text, i))
			}
			pieces, err := parsePieces(text[start:i], base+start, text, base, false)
			if err != nil {
				return nil, err
			}
			segs = append(segs, Segment{P: base + start, Pieces: pieces})
			start = i + 1
		}
	}
	return segs, nil
}

func describeAt(text string, i int) string {
	if i >= len(text) {
		return "end of path"
	}
	return "'.'"
}

func posErr(text string, base, i int, format string, args ...any) error {
	// Columns are computed against the path; Parse's caller reports
	// against the full target, so recompute there when possible.
	e := (&parser{s: text}).errf(i, format, args...).(*Error)
	e.Offset = base + i
	e.Column = -1 // fixed up by fixColumns
	return e
}

// parsePieces parses the globs of one segment (or of one alternative of
// a {a,b} group when inAlt).
func parsePieces(s string, off int, path string, base int, inAlt bool) ([]Piece, error) {
	var out []Piece
	lit := func(t string) {
		if n := len(out); n > 0 && out[n-1].Kind == PieceLiteral {
			out[n-1].Text += t
			return
		}
		out = append(out, Piece{Kind: PieceLiteral, Text: t})
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			_, n := utf8.DecodeRuneInString(s[i+1:])
			lit(s[i+1 : i+1+n])
			i += 1 + n
		case c == '*':
			out = append(out, Piece{Kind: PieceStar})
			i++
		case c == '?':
			out = append(out, Piece{Kind: PieceAny})
			i++
		case c == '[' && strings.HasPrefix(s[i:], "[[") && strings.Contains(s[i+2:], "]]"):
			end := i + 2 + strings.Index(s[i+2:], "]]") + 2
			out = append(out, Piece{Kind: PieceVar, Text: s[i:end]})
			i = end
		case c == '[':
			j := i + 1
			neg := false
			if j < len(s) && (s[j] == '!' || s[j] == '^') {
				neg = true
				j++
			}
			bodyStart := j
			if j < len(s) && s[j] == ']' {
				j++
			}
			for j < len(s) && s[j] != ']' {
				j++
			}
			if j >= len(s) {
				return nil, posErr(path, base, off-base+i, "expected ']' closing this character class")
			}
			body := s[bodyStart:j]
			if body == "" {
				return nil, posErr(path, base, off-base+i, "empty character class")
			}
			pc := Piece{Kind: PieceClass, Text: body, Negate: neg}
			var cb strings.Builder
			writeRegex(&cb, []Piece{pc}, nil)
			if _, err := regexp.Compile(cb.String()); err != nil {
				return nil, posErr(path, base, off-base+i, "invalid character class [%s]: ranges go from low to high", body)
			}
			out = append(out, pc)
			i = j + 1
		case c == '$' && i+1 < len(s) && s[i+1] == '{':
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				return nil, posErr(path, base, off-base+i, "expected '}' closing this template variable")
			}
			out = append(out, Piece{Kind: PieceVar, Text: s[i : i+j+1]})
			i += j + 1
		case c == '$' && i+1 < len(s) && isIdentChar(s[i+1]):
			j := i + 1
			for j < len(s) && isIdentChar(s[j]) {
				j++
			}
			out = append(out, Piece{Kind: PieceVar, Text: s[i:j]})
			i = j
		case c == '{' && !inAlt:
			j := closeBrace(s[i:])
			if j < 0 {
				return nil, posErr(path, base, off-base+i, "expected '}' closing this group")
			}
			var alts [][]Piece
			body := s[i+1 : i+j]
			k := 0
			for _, a := range splitAlts(body) {
				ps, err := parsePieces(a, off+i+1+k, path, base, true)
				if err != nil {
					return nil, err
				}
				alts = append(alts, ps)
				k += len(a) + 1
			}
			out = append(out, Piece{Kind: PieceAlt, Alts: alts})
			i += j + 1
		default:
			_, n := utf8.DecodeRuneInString(s[i:])
			lit(s[i : i+n])
			i += n
		}
	}
	return out, nil
}

// closeBrace returns the index of the '}' closing the group s starts
// with, skipping escaped characters, or -1.
func closeBrace(s string) int {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '}':
			return i
		}
	}
	return -1
}

// splitAlts splits the body of {a,b} at commas not escaped by '\'.
func splitAlts(body string) []string {
	var out []string
	start := 0
	for i := 0; i < len(body); i++ {
		if body[i] == '\\' {
			i++
			continue
		}
		if body[i] == ',' {
			out = append(out, body[start:i])
			start = i + 1
		}
	}
	return append(out, body[start:])
}

// Literal returns the segment's text when it has no glob and no variable.
func (s Segment) Literal() (string, bool) {
	if len(s.Pieces) == 0 {
		return "", true
	}
	if len(s.Pieces) == 1 && s.Pieces[0].Kind == PieceLiteral {
		return s.Pieces[0].Text, true
	}
	return "", false
}

// HasVar reports whether a template variable appears in the segment.
func (s Segment) HasVar() bool { return hasVar(s.Pieces) }

func hasVar(ps []Piece) bool {
	for _, p := range ps {
		if p.Kind == PieceVar {
			return true
		}
		for _, a := range p.Alts {
			if hasVar(a) {
				return true
			}
		}
	}
	return false
}

// maxValues bounds the expansion of {a,b}{c,d} groups into literal values.
const maxValues = 64

// Values expands a segment made only of literals and {a,b} groups into its
// finite set of values; ok is false when the segment has other globs.
func (s Segment) Values() ([]string, bool) { return expand(s.Pieces) }

func expand(ps []Piece) ([]string, bool) {
	out := []string{""}
	for _, p := range ps {
		switch p.Kind {
		case PieceLiteral:
			for i := range out {
				out[i] += p.Text
			}
		case PieceAlt:
			var next []string
			for _, a := range p.Alts {
				vs, ok := expand(a)
				if !ok {
					return nil, false
				}
				for _, o := range out {
					for _, v := range vs {
						next = append(next, o+v)
					}
				}
				if len(next) > maxValues {
					return nil, false
				}
			}
			out = next
		default:
			return nil, false
		}
	}
	return out, true
}

// Regex returns the segment as an (unanchored) RE2 body. With escape set,
// it describes the text after escape was applied to it (unmapped names
// lose their dots and odd characters). Template variables are copied as
// written: Grafana substitutes them with a regex of the selected values.
func (s Segment) Regex(escape func(string) string) string {
	var b strings.Builder
	writeRegex(&b, s.Pieces, escape)
	return b.String()
}

func writeRegex(b *strings.Builder, ps []Piece, escape func(string) string) {
	for _, p := range ps {
		switch p.Kind {
		case PieceLiteral:
			t := p.Text
			if escape != nil {
				t = escapeFragment(t, escape)
			}
			b.WriteString(regexp.QuoteMeta(t))
		case PieceStar:
			b.WriteString(".*")
		case PieceAny:
			b.WriteString(".")
		case PieceClass:
			b.WriteByte('[')
			if p.Negate {
				b.WriteByte('^')
			}
			body := p.Text
			extra := false
			var cls strings.Builder
			for i := 0; i < len(body); i++ {
				c := body[i]
				if c == '\\' || c == '[' || c == ']' || c == '^' {
					cls.WriteByte('\\')
				}
				if escape != nil && !p.Negate && c != '-' && !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
					extra = true
				}
				cls.WriteByte(c)
			}
			b.WriteString(cls.String())
			if extra {
				b.WriteByte('_')
			}
			b.WriteByte(']')
		case PieceAlt:
			b.WriteByte('(')
			for i, a := range p.Alts {
				if i > 0 {
					b.WriteByte('|')
				}
				writeRegex(b, a, escape)
			}
			b.WriteByte(')')
		case PieceVar:
			b.WriteString(p.Text)
		}
	}
}

// escapeFragment escapes a fragment of a name that is not at its start:
// the leading-digit rule of escape functions only applies to whole names.
func escapeFragment(t string, escape func(string) string) string {
	e := escape("a" + t)
	return e[1:]
}

// Matcher compiles the segment as an anchored Go regexp, for testing
// whether a literal (a mapping rule's segment) is among its values.
// Template variables match anything.
func (s Segment) Matcher() *regexp.Regexp {
	var b strings.Builder
	b.WriteString("^(?:")
	writeMatchRegex(&b, s.Pieces)
	b.WriteString(")$")
	re, err := regexp.Compile(b.String())
	if err != nil {
		return regexp.MustCompile(".*")
	}
	return re
}

func writeMatchRegex(b *strings.Builder, ps []Piece) {
	for _, p := range ps {
		switch p.Kind {
		case PieceVar:
			b.WriteString(".*")
		case PieceAlt:
			b.WriteString("(?:")
			for i, a := range p.Alts {
				if i > 0 {
					b.WriteByte('|')
				}
				writeMatchRegex(b, a)
			}
			b.WriteByte(')')
		default:
			writeRegex(b, []Piece{p}, nil)
		}
	}
}

// String formats the segment back into Graphite syntax.
func (s Segment) String() string {
	var b strings.Builder
	formatPieces(&b, s.Pieces)
	return b.String()
}

func formatPieces(b *strings.Builder, ps []Piece) {
	for pi, p := range ps {
		switch p.Kind {
		case PieceLiteral:
			// After $name, an identifier character would extend the name.
			afterVar := pi > 0 && ps[pi-1].Kind == PieceVar && strings.HasPrefix(ps[pi-1].Text, "$") && !strings.HasPrefix(ps[pi-1].Text, "${")
			for ri, r := range p.Text {
				if ri == 0 && afterVar && r < utf8.RuneSelf && isIdentChar(byte(r)) {
					b.WriteByte('\\')
				}
				switch r {
				case '*', '?', '[', ']', '{', '}', '$', '\\', '.', ',', '(', ')', '=', '\'', '"', '|', ' ':
					b.WriteByte('\\')
				default:
					if r < utf8.RuneSelf && !isPathChar(byte(r)) {
						b.WriteByte('\\')
					}
				}
				b.WriteRune(r)
			}
		case PieceStar:
			b.WriteByte('*')
		case PieceAny:
			b.WriteByte('?')
		case PieceClass:
			b.WriteByte('[')
			if p.Negate {
				b.WriteByte('!')
			}
			b.WriteString(p.Text)
			b.WriteByte(']')
		case PieceAlt:
			b.WriteByte('{')
			for i, a := range p.Alts {
				if i > 0 {
					b.WriteByte(',')
				}
				formatPieces(b, a)
			}
			b.WriteByte('}')
		case PieceVar:
			b.WriteString(p.Text)
		}
	}
}
