package graphiteql

// Node is one element of a parsed target. Pos is the byte offset of the
// node's first character in the target, so translation errors can point at
// the argument they are about.
type Node interface {
	Pos() int
	node()
}

// Path is a series path expression as written, globs and template
// variables included (`stats.$app.http.{get,put}.*`). Segments holds its
// dot-separated segments, parsed.
type Path struct {
	P        int
	Text     string
	Segments []Segment
}

// Call is a function call. Graphite's pipe form (`x|scale(2)`) is parsed
// into the same node as `scale(x, 2)`: the two mean the same thing.
type Call struct {
	P      int
	Name   string
	Args   []Node
	Kwargs []Kwarg
}

// Kwarg is a keyword argument (`xFilesFactor=0.5`).
type Kwarg struct {
	P     int
	Name  string
	Value Node
}

// String is a quoted string. Value is the text between the quotes exactly
// as written, backslashes included: Graphite hands it to functions that
// way (regular expressions in aliasSub, grep, exclude rely on it).
type String struct {
	P     int
	Value string
	Quote byte // '\'' or '"'
}

// Number is a numeric literal; Text keeps its spelling for Format.
type Number struct {
	P     int
	Text  string
	Value float64
}

// Bool is true or false (any case, as Graphite accepts).
type Bool struct {
	P     int
	Value bool
}

// None is Python's None, accepted by Graphite as an argument.
type None struct {
	P int
}

func (n *Path) Pos() int   { return n.P }
func (n *Call) Pos() int   { return n.P }
func (n *String) Pos() int { return n.P }
func (n *Number) Pos() int { return n.P }
func (n *Bool) Pos() int   { return n.P }
func (n *None) Pos() int   { return n.P }

func (*Path) node()   {}
func (*Call) node()   {}
func (*String) node() {}
func (*Number) node() {}
func (*Bool) node()   {}
func (*None) node()   {}

// Kwarg returns the keyword argument called name, or nil.
func (c *Call) Kwarg(name string) Node {
	for _, k := range c.Kwargs {
		if k.Name == name {
			return k.Value
		}
	}
	return nil
}
