package config

import (
	"bytes"
	"encoding"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// The decoder walks a yaml.Node tree against Go structs by reflection. It
// exists (instead of yaml.Unmarshal with KnownFields) because the config must
//   - report every problem at once, each with its line and full dotted key;
//   - reject duplicate keys;
//   - tell an absent key (keep the default) from an explicit "" (disable);
//   - parse durations and byte sizes the Prometheus way, not as nanoseconds.
//
// Supported Go types: string kinds (including Secret and Path), bool, all
// int, uint and float kinds, time.Duration, any type whose pointer
// implements encoding.TextUnmarshaler (e.g. ByteSize), structs, pointers,
// slices and maps with string keys, nested arbitrarily.
//
// Rules a section author relies on:
//   - Only fields with a `yaml:"name"` tag are config keys; `yaml:",inline"`
//     on a struct field merges its keys into the parent; `yaml:"-"` and
//     untagged fields are ignored.
//   - Decoding starts from the current value, so a key absent from the file
//     keeps its default. Lists and maps given in the file replace the default
//     as a whole; they are never merged.
//   - A struct allocated by the decoder (behind a nil pointer, as a list
//     element or a map value) first gets SetDefaults() called on it and on its
//     nested structs, children before parents.
//   - null: for a struct it is the same as absent; it empties a list or map
//     and sets a pointer to nil; for a scalar it is an error, because "udp:"
//     with nothing after it is more likely a mistake than a request for the
//     default ("" is how a string is emptied explicitly).
//   - After decoding, Validate() error is called on every struct in the tree
//     (children before parents, also for sections absent from the file).
//     Its errors are reported at the struct's key; wrap one in a
//     *FieldError (see Fieldf) to point at a field. errors.Join'ed errors are
//     reported one per line.

// defaulter is implemented by structs that have non-zero defaults.
type defaulter interface{ SetDefaults() }

// validator is implemented by structs with constraints beyond their types.
type validator interface{ Validate() error }

// expecter lets a scalar type say what it looks like in "expected ..."
// messages for nulls and non-scalars.
type expecter interface{ configExpect() string }

var (
	durationType        = reflect.TypeFor[time.Duration]()
	pathType            = reflect.TypeFor[Path]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// aliasExpansionBudget bounds the work of one decode. YAML aliases let a
// small file expand exponentially ("billion laughs"). The budget is this
// many values plus one per byte of input, so a document without aliases
// (which has fewer values than bytes) can never hit it.
const aliasExpansionBudget = 1 << 18

type decoder struct {
	file   string
	dir    string // resolves relative Paths; "" leaves them as written
	errs   ErrorList
	lines  map[string]int  // full key -> line of its key (or list item)
	failed map[string]bool // keys whose value could not be decoded
	budget int
}

// decodeYAML decodes one YAML document from data into out (a pointer to a
// struct that already holds the defaults) and validates the result, then
// runs the extra checks (reported like a Validate of the root). The error,
// if any, is an ErrorList.
func decodeYAML(data []byte, file, dir string, out any, extra ...validator) error {
	rv := reflect.ValueOf(out)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		panic(fmt.Sprintf("config: decode target must be a non-nil pointer to a struct, got %T", out))
	}
	checkType(rv.Type().Elem())
	d := &decoder{
		file:   file,
		dir:    dir,
		lines:  map[string]int{},
		failed: map[string]bool{},
		budget: aliasExpansionBudget + len(data),
	}
	root, err := parseDocument(data)
	if err != nil {
		err.File = file
		return ErrorList{err}
	}
	if root != nil {
		d.decode(root, rv.Elem(), "")
	}
	d.validate(rv.Elem(), "")
	for _, v := range extra {
		d.report("", v.Validate())
	}
	if len(d.errs) > 0 {
		d.errs.sortByLine()
		return d.errs
	}
	return nil
}

var yamlLineErr = regexp.MustCompile(`(?s)^yaml: line (\d+): (.*)$`)

// parseDocument parses data as exactly one YAML document. It returns a nil
// node for an empty document (only whitespace and comments).
func parseDocument(data []byte) (*yaml.Node, *Error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, syntaxError(err, data)
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case errors.Is(err, io.EOF):
	case err != nil:
		return nil, syntaxError(err, data)
	default:
		return nil, &Error{Line: extra.Line, Msg: "expected a single YAML document, found a second one"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil
	}
	return doc.Content[0], nil
}

// syntaxError turns "yaml: line 3: did not find expected key" into a
// positioned Error so that syntax errors look like every other error.
func syntaxError(err error, data []byte) *Error {
	msg := err.Error()
	if m := yamlLineErr.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		e := &Error{Line: line, Msg: "invalid YAML: " + m[2]}
		if indentedWithTab(data, line) {
			e.Msg += " (indent with spaces: YAML does not allow tabs)"
		}
		return e
	}
	return &Error{Msg: "invalid YAML: " + strings.TrimPrefix(msg, "yaml: ")}
}

// indentedWithTab reports whether the 1-based line of data starts with
// whitespace containing a tab, the most common cause of baffling YAML errors.
func indentedWithTab(data []byte, line int) bool {
	for i := 1; i < line; i++ {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			return false
		}
		data = data[nl+1:]
	}
	indent := data[:len(data)-len(bytes.TrimLeft(data, " \t"))]
	return bytes.IndexByte(indent, '\t') >= 0
}

func (d *decoder) add(line int, key, msg string) {
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Key: key, Msg: msg})
}

// fail reports a value that could not be decoded; the key's default stays.
func (d *decoder) fail(n *yaml.Node, key, format string, args ...any) {
	d.failed[key] = true
	msg := fmt.Sprintf(format, args...)
	if key != "" {
		msg = key + ": " + msg
	}
	// Point at the key rather than the value: a block list or mapping
	// starts on the next line, and an alias's target may be far away.
	line, ok := d.lines[key]
	if !ok {
		line = n.Line
	}
	d.add(line, key, msg)
}

func joinKey(parent, name string) string {
	if parent == "" {
		return name
	}
	return parent + "." + name
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, key string) {
	if d.budget--; d.budget < 0 {
		if d.budget == -1 {
			d.add(n.Line, key, "document too complex: aliases expand to too many values")
		}
		return
	}
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	t := v.Type()
	switch {
	case t == durationType:
		if s, ok := d.scalar(n, key, `a duration like "10s"`); ok {
			dur, err := model.ParseDuration(s)
			if err != nil {
				why := ""
				if strings.Contains(err.Error(), "out of range") {
					why = " (out of range)"
				}
				d.fail(n, key, `expected a duration like "10s", got %s%s`, quote(s), why)
				return
			}
			v.SetInt(int64(dur))
		}
		return
	case t == pathType:
		if s, ok := d.scalar(n, key, "a file path"); ok {
			if s != "" && d.dir != "" && !filepath.IsAbs(s) {
				s = filepath.Join(d.dir, s)
			}
			v.SetString(s)
		}
		return
	case reflect.PointerTo(t).Implements(textUnmarshalerType):
		if s, ok := d.scalar(n, key, expectOf(t)); ok {
			// Decode into a copy so a failed parse keeps the default.
			tmp := reflect.New(t)
			tmp.Elem().Set(v)
			if err := tmp.Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
				d.fail(n, key, "%s", err.Error())
				return
			}
			v.Set(tmp.Elem())
		}
		return
	}

	switch t.Kind() {
	case reflect.String:
		if s, ok := d.scalar(n, key, "a string"); ok {
			v.SetString(s)
		}
	case reflect.Bool:
		if s, ok := d.scalar(n, key, "true or false"); ok {
			switch s {
			case "true", "True", "TRUE":
				v.SetBool(true)
			case "false", "False", "FALSE":
				v.SetBool(false)
			default:
				d.fail(n, key, "expected true or false, got %s", quote(s))
			}
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if s, ok := d.scalar(n, key, "an integer"); ok {
			i, err := strconv.ParseInt(s, 10, t.Bits())
			switch {
			case errors.Is(err, strconv.ErrRange):
				lo, hi := int64(-1)<<(t.Bits()-1), int64(1)<<(t.Bits()-1)-1
				d.fail(n, key, "expected an integer between %d and %d, got %s", lo, hi, quote(s))
			case err != nil:
				d.fail(n, key, "expected an integer, got %s", quote(s))
			default:
				v.SetInt(i)
			}
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if s, ok := d.scalar(n, key, "a non-negative integer"); ok {
			u, err := strconv.ParseUint(s, 10, t.Bits())
			switch {
			case errors.Is(err, strconv.ErrRange):
				d.fail(n, key, "expected an integer between 0 and %d, got %s", uint64(math.MaxUint64)>>(64-t.Bits()), quote(s))
			case err != nil:
				d.fail(n, key, "expected a non-negative integer, got %s", quote(s))
			default:
				v.SetUint(u)
			}
		}
	case reflect.Float32, reflect.Float64:
		if s, ok := d.scalar(n, key, "a number"); ok {
			f, err := strconv.ParseFloat(s, t.Bits())
			if err != nil {
				d.fail(n, key, "expected a number, got %s", quote(s))
				return
			}
			v.SetFloat(f)
		}
	case reflect.Struct:
		d.decodeStruct(n, v, key)
	case reflect.Pointer:
		if isNull(n) {
			v.SetZero()
			return
		}
		if v.IsNil() {
			p := reflect.New(t.Elem())
			applyDefaults(p.Elem())
			v.Set(p)
		}
		d.decode(n, v.Elem(), key)
	case reflect.Slice:
		d.decodeSlice(n, v, key)
	case reflect.Map:
		d.decodeMap(n, v, key)
	default:
		panic(fmt.Sprintf("config: unsupported type %s at %q", t, key)) // checkType makes this unreachable
	}
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe renders what the user wrote for "expected X, got Y" messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		if isNull(n) {
			return "null"
		}
		return quote(n.Value)
	}
	return "nothing"
}

// scalar returns the text of a scalar node. The text is used as written, so
// `password: 0123` keeps its leading zero and a string field accepts 8125.
func (d *decoder) scalar(n *yaml.Node, key, want string) (string, bool) {
	if n.Kind != yaml.ScalarNode {
		d.fail(n, key, "expected %s, got %s", want, describe(n))
		return "", false
	}
	if isNull(n) {
		if want == "a string" || want == "a file path" {
			d.fail(n, key, `expected %s, got null (write "" for an empty value)`, want)
		} else {
			d.fail(n, key, "expected %s, got null", want)
		}
		return "", false
	}
	return n.Value, true
}

func expectOf(t reflect.Type) string {
	if e, ok := reflect.New(t).Elem().Interface().(expecter); ok {
		return e.configExpect()
	}
	return "a scalar value"
}

// mapKey returns the text of a mapping key, or false after reporting why it
// cannot be one.
func (d *decoder) mapKey(kn *yaml.Node, parent string) (string, bool) {
	for kn.Kind == yaml.AliasNode && kn.Alias != nil {
		kn = kn.Alias
	}
	if kn.Kind != yaml.ScalarNode {
		d.add(kn.Line, parent, fmt.Sprintf("%sexpected a key, got %s", prefix(parent), describe(kn)))
		return "", false
	}
	if kn.ShortTag() == "!!merge" {
		d.add(kn.Line, parent, prefix(parent)+`merge keys ("<<") are not supported; repeat the keys instead`)
		return "", false
	}
	return kn.Value, true
}

func prefix(key string) string {
	if key == "" {
		return ""
	}
	return key + ": "
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value, key string) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, key, "expected a mapping, got %s", describe(n))
		return
	}
	si := structInfoOf(v.Type())
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		name, ok := d.mapKey(kn, key)
		if !ok {
			continue
		}
		full := joinKey(key, name)
		if first, dup := seen[name]; dup {
			d.add(kn.Line, full, fmt.Sprintf("duplicate key %q (first defined on line %d)", full, first))
			continue
		}
		seen[name] = kn.Line
		fi, ok := si.byName[name]
		if !ok {
			d.add(kn.Line, full, fmt.Sprintf("unknown key %q (known keys: %s)", full, si.known))
			continue
		}
		d.lines[full] = kn.Line
		d.decode(vn, v.FieldByIndex(si.fields[fi].index), full)
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value, key string) {
	if isNull(n) || (n.Kind == yaml.SequenceNode && len(n.Content) == 0) {
		v.SetZero() // empty is always nil, so a rendered "[]" parses back equal
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, key, "expected a list, got %s", describe(n))
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, en := range n.Content {
		ek := key + "[" + strconv.Itoa(i) + "]"
		d.lines[ek] = en.Line
		el := s.Index(i)
		applyDefaults(el)
		d.decode(en, el, ek)
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value, key string) {
	if isNull(n) || (n.Kind == yaml.MappingNode && len(n.Content) == 0) {
		v.SetZero() // empty is always nil, as for lists
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, key, "expected a mapping, got %s", describe(n))
		return
	}
	t := v.Type()
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		kn, vn := n.Content[i], n.Content[i+1]
		name, ok := d.mapKey(kn, key)
		if !ok {
			continue
		}
		full := joinKey(key, name)
		if first, dup := seen[name]; dup {
			d.add(kn.Line, full, fmt.Sprintf("duplicate key %q (first defined on line %d)", full, first))
			continue
		}
		seen[name] = kn.Line
		d.lines[full] = kn.Line
		ev := reflect.New(t.Elem()).Elem()
		applyDefaults(ev)
		d.decode(vn, ev, full)
		m.SetMapIndex(reflect.ValueOf(name).Convert(t.Key()), ev)
	}
	v.Set(m)
}

// validate calls Validate on every struct under v, children first.
func (d *decoder) validate(v reflect.Value, key string) {
	switch v.Kind() {
	case reflect.Struct:
		if isScalarType(v.Type()) {
			return
		}
		si := structInfoOf(v.Type())
		for _, f := range si.fields {
			d.validate(v.FieldByIndex(f.index), joinKey(key, f.name))
		}
		for _, idx := range si.inlines {
			d.callValidate(v.FieldByIndex(idx), key)
		}
		d.callValidate(v, key)
	case reflect.Pointer:
		if !v.IsNil() {
			d.validate(v.Elem(), key)
		}
	case reflect.Slice:
		for i := range v.Len() {
			d.validate(v.Index(i), key+"["+strconv.Itoa(i)+"]")
		}
	case reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		for _, k := range keys {
			// Map values are not addressable; validate a copy and store it
			// back so a Validate that normalises its struct still works.
			ev := reflect.New(v.Type().Elem()).Elem()
			ev.Set(v.MapIndex(k))
			d.validate(ev, joinKey(key, k.String()))
			v.SetMapIndex(k, ev)
		}
	}
}

func (d *decoder) callValidate(v reflect.Value, key string) {
	var val validator
	if v.CanAddr() {
		val, _ = v.Addr().Interface().(validator)
	} else {
		val, _ = v.Interface().(validator)
	}
	if val == nil {
		return
	}
	d.report(key, val.Validate())
}

// report adds the errors of a Validate of the struct at key: a
// *FieldError at its field's line and key, anything else at key's.
func (d *decoder) report(key string, verr error) {
	for _, err := range flattenErrors(verr) {
		if fe, ok := err.(*FieldError); ok {
			full := key + fe.Field
			if !strings.HasPrefix(fe.Field, "[") {
				full = joinKey(key, fe.Field)
			}
			if d.suppressed(full) {
				continue // already reported as undecodable; don't pile on
			}
			d.add(d.lineOf(full), full, full+": "+fe.Err.Error())
			continue
		}
		d.add(d.lineOf(key), key, prefix(key)+err.Error())
	}
}

// parentKey strips the last ".name" or "[i]" from a key.
func parentKey(key string) string {
	if i := strings.LastIndexAny(key, ".["); i >= 0 {
		return key[:i]
	}
	return ""
}

// lineOf finds the line of key, or of its nearest ancestor present in the
// file (a default that fails validation has no line of its own).
func (d *decoder) lineOf(key string) int {
	for key != "" {
		if l, ok := d.lines[key]; ok {
			return l
		}
		key = parentKey(key)
	}
	return 0
}

func (d *decoder) suppressed(key string) bool {
	for key != "" {
		if d.failed[key] {
			return true
		}
		key = parentKey(key)
	}
	return false
}

// applyDefaults calls SetDefaults on v and the structs nested in it,
// children first so that a parent can override its children's defaults.
func applyDefaults(v reflect.Value) {
	if v.Kind() != reflect.Struct || isScalarType(v.Type()) {
		return
	}
	si := structInfoOf(v.Type())
	for _, f := range si.fields {
		applyDefaults(v.FieldByIndex(f.index))
	}
	for _, idx := range si.inlines {
		if d, ok := v.FieldByIndex(idx).Addr().Interface().(defaulter); ok {
			d.SetDefaults()
		}
	}
	if d, ok := v.Addr().Interface().(defaulter); ok {
		d.SetDefaults()
	}
}

// isScalarType reports whether t is decoded from a single YAML scalar.
func isScalarType(t reflect.Type) bool {
	return t == durationType || t == pathType || reflect.PointerTo(t).Implements(textUnmarshalerType)
}

type fieldInfo struct {
	name  string
	index []int
}

type structInfo struct {
	fields  []fieldInfo    // config keys in declaration order
	byName  map[string]int // key -> index into fields
	inlines [][]int        // inline struct fields, for their own hooks
	known   string         // "a, b, c" for unknown-key messages
}

var structInfos sync.Map // reflect.Type -> *structInfo

func structInfoOf(t reflect.Type) *structInfo {
	if si, ok := structInfos.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{byName: map[string]int{}}
	collectFields(t, nil, si)
	names := make([]string, len(si.fields))
	for i, f := range si.fields {
		names[i] = f.name
	}
	si.known = strings.Join(names, ", ")
	actual, _ := structInfos.LoadOrStore(t, si)
	return actual.(*structInfo)
}

// collectFields panics on malformed struct declarations: they are programming
// errors that any test decoding the type finds, independent of the input.
func collectFields(t reflect.Type, parent []int, si *structInfo) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, ok := f.Tag.Lookup("yaml")
		if !ok || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		index := append(slices.Clip(parent), i)
		if !f.IsExported() {
			panic(fmt.Sprintf("config: field %s.%s has a yaml tag but is not exported", t, f.Name))
		}
		if slices.Contains(strings.Split(opts, ","), "inline") {
			if f.Type.Kind() != reflect.Struct {
				panic(fmt.Sprintf("config: inline field %s.%s must be a struct", t, f.Name))
			}
			si.inlines = append(si.inlines, index)
			collectFields(f.Type, index, si)
			continue
		}
		if name == "" {
			panic(fmt.Sprintf("config: field %s.%s needs a name in its yaml tag", t, f.Name))
		}
		if _, dup := si.byName[name]; dup {
			panic(fmt.Sprintf("config: key %q declared twice in %s", name, t))
		}
		si.byName[name] = len(si.fields)
		si.fields = append(si.fields, fieldInfo{name: name, index: index})
	}
}

var checkedTypes sync.Map // reflect.Type -> struct{}

// checkType panics if t contains a type the decoder cannot handle, so that a
// bad declaration fails on first use rather than when a user sets the key.
func checkType(t reflect.Type) {
	if _, ok := checkedTypes.Load(t); ok {
		return
	}
	checkTypeRec(t, map[reflect.Type]bool{})
	checkedTypes.Store(t, struct{}{})
}

func checkTypeRec(t reflect.Type, seen map[reflect.Type]bool) {
	if seen[t] || isScalarType(t) {
		return
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64:
	case reflect.Pointer, reflect.Slice:
		checkTypeRec(t.Elem(), seen)
	case reflect.Map:
		if t.Key().Kind() != reflect.String {
			panic(fmt.Sprintf("config: map %s must have string keys", t))
		}
		checkTypeRec(t.Elem(), seen)
	case reflect.Struct:
		for _, f := range structInfoOf(t).fields {
			checkTypeRec(t.FieldByIndex(f.index).Type, seen)
		}
	default:
		panic(fmt.Sprintf("config: unsupported type %s", t))
	}
}
