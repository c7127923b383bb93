package graphiteql

import "strings"

// Format prints a node back as a Graphite target, in call form (pipes
// become nested calls), with canonical spacing. Parse(Format(n)) gives n
// back, positions aside.
func Format(n Node) string {
	var b strings.Builder
	format(&b, n)
	return b.String()
}

func format(b *strings.Builder, n Node) {
	formatNode(b, n, true)
}

func formatNode(b *strings.Builder, n Node, top bool) {
	switch n := n.(type) {
	case *Path:
		var pb strings.Builder
		for i, s := range n.Segments {
			if i > 0 {
				pb.WriteByte('.')
			}
			pb.WriteString(s.String())
		}
		text := pb.String()
		if !top {
			// A path spelled like a number or a boolean (possible at the
			// top of a pipe) must stay a path as an argument.
			_, isNum := parseNumber(text)
			switch strings.ToLower(text) {
			case "true", "false", "none":
				isNum = true
			}
			if isNum {
				b.WriteByte('\\')
			}
		}
		b.WriteString(text)
	case *Call:
		b.WriteString(n.Name)
		b.WriteByte('(')
		for i, a := range n.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			formatNode(b, a, false)
		}
		for i, k := range n.Kwargs {
			if i > 0 || len(n.Args) > 0 {
				b.WriteString(", ")
			}
			b.WriteString(k.Name)
			b.WriteByte('=')
			formatNode(b, k.Value, false)
		}
		b.WriteByte(')')
	case *String:
		b.WriteByte(n.Quote)
		b.WriteString(n.Value)
		b.WriteByte(n.Quote)
	case *Number:
		b.WriteString(n.Text)
	case *Bool:
		if n.Value {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case *None:
		b.WriteString("None")
	}
}
