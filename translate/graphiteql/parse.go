package graphiteql

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Error is a syntax error in a target. Offset is a byte offset, Column the
// 1-based column in characters, which is what a caret under the target
// needs.
type Error struct {
	Target string
	Offset int
	Column int
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("column %d: %s", e.Column, e.Msg)
}

// maxDepth bounds call nesting: targets come from files and HTTP APIs, and
// a recursive parser must not be walked off the stack.
const maxDepth = 200

type parser struct {
	s     string
	i     int
	depth int
}

// Parse parses a render target: a path, a function call, or a pipe chain
// (`path|fn(args)`), as Graphite 1.1's grammar accepts them.
func Parse(target string) (Node, error) {
	p := &parser{s: target}
	if !utf8.ValidString(target) {
		i := 0
		for i < len(target) {
			r, n := utf8.DecodeRuneInString(target[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		return nil, p.errf(i, "invalid UTF-8")
	}
	p.space()
	n, err := p.expr(true)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i < len(p.s) {
		return nil, p.errf(p.i, "expected end of target or '|', found %s", p.found())
	}
	return n, nil
}

func (p *parser) errf(at int, format string, args ...any) error {
	if at > len(p.s) {
		at = len(p.s)
	}
	return &Error{Target: p.s, Offset: at, Column: utf8.RuneCountInString(p.s[:at]) + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) found() string {
	if p.i >= len(p.s) {
		return "end of target"
	}
	r, _ := utf8.DecodeRuneInString(p.s[p.i:])
	return strconv.QuoteRune(r)
}

func (p *parser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\t' || p.s[p.i] == '\n' || p.s[p.i] == '\r') {
		p.i++
	}
}

// expr parses a series expression followed by any pipes. top says whether
// this is the whole target (where a quoted string or a boolean cannot
// stand).
func (p *parser) expr(top bool) (Node, error) {
	n, err := p.term(top)
	if err != nil {
		return nil, err
	}
	for {
		save := p.i
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '|' {
			p.i = save
			return n, nil
		}
		p.i++
		p.space()
		start := p.i
		name := p.ident()
		if name == "" {
			return nil, p.errf(p.i, "expected a function name after '|', found %s", p.found())
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '(' {
			return nil, p.errf(p.i, "expected '(' after function name %q, found %s", name, p.found())
		}
		c, err := p.call(start, name)
		if err != nil {
			return nil, err
		}
		c.Args = append([]Node{n}, c.Args...)
		n = c
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
}

func isIdentChar(c byte) bool { return isIdentStart(c) || (c >= '0' && c <= '9') }

// ident reads a function or keyword name, if one starts here.
func (p *parser) ident() string {
	start := p.i
	if p.i < len(p.s) && isIdentStart(p.s[p.i]) {
		p.i++
		for p.i < len(p.s) && isIdentChar(p.s[p.i]) {
			p.i++
		}
	}
	return p.s[start:p.i]
}

// isPathChar reports whether c can appear in a path outside braces:
// Graphite's validMetricChars (printables minus `(){},=.'"\|`) plus '.'.
// Bytes of UTF-8 sequences are accepted, as carbon accepts such names.
func isPathChar(c byte) bool {
	switch c {
	case '(', ')', '{', '}', ',', '=', '\'', '"', '\\', '|', ' ', '\t', '\n', '\r':
		return false
	}
	return c > ' ' && c != 0x7f
}

func (p *parser) term(top bool) (Node, error) {
	if p.depth >= maxDepth {
		return nil, p.errf(p.i, "expressions nested more than %d deep", maxDepth)
	}
	start := p.i
	if p.i >= len(p.s) {
		return nil, p.errf(p.i, "expected a path or a function call, found end of target")
	}
	if c := p.s[p.i]; c == '\'' || c == '"' {
		if top {
			return nil, p.errf(p.i, "expected a path or a function call, found a string")
		}
		return p.str()
	}
	if name := p.ident(); name != "" {
		save := p.i
		p.space()
		if p.i < len(p.s) && p.s[p.i] == '(' {
			return p.call(start, name)
		}
		p.i = save
	}
	p.i = start
	text, err := p.pathText()
	if err != nil {
		return nil, err
	}
	if text == "" {
		return nil, p.errf(p.i, "expected a path, a function call, a string, a number or a boolean, found %s", p.found())
	}
	if !top {
		if v, ok := parseNumber(text); ok {
			return &Number{P: start, Text: text, Value: v}, nil
		}
		switch strings.ToLower(text) {
		case "true":
			return &Bool{P: start, Value: true}, nil
		case "false":
			return &Bool{P: start, Value: false}, nil
		case "none":
			return &None{P: start}, nil
		}
	}
	segs, err := parseSegments(text, start)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.Target = p.s
			e.Column = utf8.RuneCountInString(p.s[:e.Offset]) + 1
		}
		return nil, err
	}
	return &Path{P: start, Text: text, Segments: segs}, nil
}

// parseNumber accepts Graphite's integer, float and scientific literals
// (an optional '-', digits on at least one side of the point).
func parseNumber(s string) (float64, bool) {
	t := strings.TrimPrefix(s, "-")
	if t == "" {
		return 0, false
	}
	digits := false
	for i := 0; i < len(t); i++ {
		c := t[i]
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-':
		default:
			return 0, false
		}
	}
	if !digits || strings.ContainsAny(t[:1], "eE+-") {
		return 0, false
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, false
	}
	return v, true
}

// pathText scans a path expression: path characters, dots, backslash
// escapes and {a,b} groups (in which commas belong to the path).
func (p *parser) pathText() (string, error) {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", p.errf(p.i, "expected a character after '\\', found end of target")
			}
			_, n := utf8.DecodeRuneInString(p.s[p.i+1:])
			p.i += 1 + n
		case c == '{':
			open := p.i
			p.i++
			for p.i < len(p.s) && p.s[p.i] != '}' {
				c := p.s[p.i]
				if c == '\\' && p.i+1 < len(p.s) {
					p.i += 2
					continue
				}
				if c != ',' && (!isPathChar(c) || c == '.') {
					return "", p.errf(p.i, "expected '}' closing the '{' at column %d, found %s", utf8.RuneCountInString(p.s[:open])+1, p.found())
				}
				p.i++
			}
			if p.i >= len(p.s) {
				return "", p.errf(p.i, "expected '}' closing the '{' at column %d, found end of target", utf8.RuneCountInString(p.s[:open])+1)
			}
			p.i++
		case isPathChar(c):
			p.i++
		default:
			return p.s[start:p.i], nil
		}
	}
	return p.s[start:p.i], nil
}

func (p *parser) str() (Node, error) {
	start := p.i
	q := p.s[p.i]
	p.i++
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case '\\':
			p.i += 2
			continue
		case q:
			v := p.s[start+1 : p.i]
			p.i++
			return &String{P: start, Value: v, Quote: q}, nil
		}
		p.i++
	}
	return nil, p.errf(start, "expected %c closing this string, found end of target", q)
}

// call parses the argument list of a call whose name ended at p.i
// (spaces then '(' follow).
func (p *parser) call(start int, name string) (*Call, error) {
	p.space()
	p.i++ // '('
	p.depth++
	defer func() { p.depth-- }()
	c := &Call{P: start, Name: name}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == ')' {
		p.i++
		return c, nil
	}
	for {
		p.space()
		argStart := p.i
		kw := p.ident()
		if kw != "" {
			save := p.i
			p.space()
			if p.i < len(p.s) && p.s[p.i] == '=' {
				p.i++
				p.space()
				v, err := p.expr(false)
				if err != nil {
					return nil, err
				}
				for _, k := range c.Kwargs {
					if k.Name == kw {
						return nil, p.errf(argStart, "keyword argument %q given twice", kw)
					}
				}
				c.Kwargs = append(c.Kwargs, Kwarg{P: argStart, Name: kw, Value: v})
				goto next
			}
			_ = save
		}
		p.i = argStart
		{
			v, err := p.expr(false)
			if err != nil {
				return nil, err
			}
			if len(c.Kwargs) > 0 {
				return nil, p.errf(argStart, "expected a keyword argument (name=value): positional arguments cannot follow keyword arguments")
			}
			c.Args = append(c.Args, v)
		}
	next:
		p.space()
		if p.i >= len(p.s) {
			return nil, p.errf(p.i, "expected ',' or ')' in the arguments of %s, found end of target", name)
		}
		switch p.s[p.i] {
		case ',':
			p.i++
		case ')':
			p.i++
			return c, nil
		default:
			return nil, p.errf(p.i, "expected ',' or ')' in the arguments of %s, found %s", name, p.found())
		}
	}
}
