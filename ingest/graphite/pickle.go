package graphite

import (
	"encoding/binary"
	"math"
	"unicode/utf8"
)

// PickleItem is one element of a decoded pickle list. Path aliases the
// frame or the decoder's scratch buffer and is valid until the next Decode.
type PickleItem struct {
	Path []byte
	// Timestamp and Value are the numbers as floats, converted as carbon
	// converts them with float(): ints, floats and numeric strings.
	// TimestampOK and ValueOK say whether the conversion succeeded.
	Timestamp, Value     float64
	TimestampOK, ValueOK bool
	// Err is ErrBadPickleItem when the element did not have the
	// (path, (timestamp, value)) shape; the other fields are then unset.
	Err *ParseError
}

// PickleDecoder decodes carbon pickle payloads: a list of
// (path, (timestamp, value)) tuples written by Python's pickle with
// protocol 0, 1 or 2 (and the FRAME and MEMOIZE opcodes of protocol 4,
// which Python 3.8's default protocol writes).
//
// It is deliberately not an unpickler: it knows the opcodes that Python
// emits for lists, tuples, strings, ints, floats, booleans and None, and nothing that
// could build another object or call anything (GLOBAL, REDUCE, BUILD,
// INST, OBJ, PERSID, dicts, sets). Such a pickle is rejected as a whole
// (bad_pickle). The work of a Decode is linear in the payload's length,
// which the Processor bounds with MaxPickleFrame, and so is its memory,
// with a small factor: the values it holds at once (stack, marks, memo,
// tuple and list elements, lists) are at most one per two bytes of
// payload (plus a constant), 24 bytes each, or the frame is refused as
// pickle_too_complex. A real carbon pickle needs about one value per five
// bytes; a frame of 4 MiB of EMPTY_LIST opcodes, which took 300 MB, is
// refused after 2 MiB of values (48 MB).
//
// A PickleDecoder reuses its buffers between calls: it is not safe for
// concurrent use, and decoding allocates nothing once they have grown.
// Buffers grown beyond what an ordinary frame needs are released after
// the call, so that an idle connection does not hold what its largest
// frame took.
type PickleDecoder struct {
	stack     []pval
	marks     []int32
	memo      []pval
	memoLen   int // entries set, for MEMOIZE
	maxMemo   int64
	elems     []pval
	lists     [][]pval
	nlists    int
	listElems int // elements in all lists
	maxUnits  int // bound of the values held at once
	scratch   []byte
	items     []PickleItem
	frame     []byte
	emit      func(*PickleItem)
	appendFn  func(*PickleItem)
	item      PickleItem
}

func (d *PickleDecoder) appendItem(it *PickleItem) { d.items = append(d.items, *it) }

type pkind uint8

const (
	kUnset pkind = iota
	kInt
	kFloat
	kStr     // bytes of the frame: frame[off:off+n]
	kScratch // decoded bytes: scratch[off:off+n]
	kTuple
	kList
	kNone
)

// pval is a decoded Python value, 24 bytes: x holds an int or the bits
// of a float; strings are frame[off:off+n] or scratch[off:off+n]; tuples
// are elems[off:off+n]; lists are lists[off], shared by every reference
// so APPENDS through a memo GET reaches the same list, as in Python.
type pval struct {
	x   uint64
	off int32
	n   int32
	k   pkind
}

func intVal(i int64) pval     { return pval{k: kInt, x: uint64(i)} }
func floatVal(f float64) pval { return pval{k: kFloat, x: math.Float64bits(f)} }

// str returns the bytes of a kStr or kScratch value.
func (d *PickleDecoder) str(v pval) []byte {
	if v.k == kScratch {
		return d.scratch[v.off : v.off+v.n : v.off+v.n]
	}
	return d.frame[v.off : v.off+v.n : v.off+v.n]
}

// maxMemoIndex bounds PUT indexes; Python numbers its memo from 0, so a
// large index is not a pickle Python wrote.
const maxMemoIndex = 1 << 22

// Decode decodes one pickle payload (without its length prefix). It
// returns the elements of the list, in order, valid until the next call;
// a payload that is not a list of tuples returns ErrBadPickle (or
// ErrPickleTooComplex) and no items.
func (d *PickleDecoder) Decode(b []byte) ([]PickleItem, error) {
	d.items = d.items[:0]
	if d.appendFn == nil {
		d.appendFn = d.appendItem // bound once: no allocation per call
	}
	err := d.DecodeFunc(b, d.appendFn)
	items := d.items
	if cap(d.items) > keepItems {
		d.items = nil
	}
	if err != nil {
		return nil, err
	}
	return items, nil
}

// DecodeFunc is Decode without the list of items: f is called for each
// element of the list, in order, once the whole payload decoded; the item
// and its Path are only valid during the call. Nothing is called for a
// payload that Decode would refuse.
func (d *PickleDecoder) DecodeFunc(b []byte, f func(*PickleItem)) error {
	d.frame, d.emit = b, f
	defer d.release()
	d.stack = d.stack[:0]
	d.marks = d.marks[:0]
	clear(d.memo[:min(d.memoLen, len(d.memo))])
	d.memoLen = 0
	d.elems = d.elems[:0]
	for i := range d.nlists {
		d.lists[i] = d.lists[i][:0]
	}
	d.nlists = 0
	d.listElems = 0
	d.scratch = d.scratch[:0]
	// Every PUT takes at least two bytes: no payload needs more entries.
	d.maxMemo = min(int64(len(b)), maxMemoIndex)
	d.maxUnits = len(b)/2 + minUnits
	return d.run(b)
}

func (d *PickleDecoder) push(v pval) { d.stack = append(grow(d.stack, 1, d.maxUnits), v) }

func (d *PickleDecoder) pop() (pval, bool) {
	n := len(d.stack)
	if n == 0 || (len(d.marks) > 0 && int(d.marks[len(d.marks)-1]) == n) {
		return pval{}, false
	}
	v := d.stack[n-1]
	d.stack = d.stack[:n-1]
	return v, true
}

// popMark returns the values pushed since the last MARK and removes them
// and the mark.
func (d *PickleDecoder) popMark() ([]pval, bool) {
	if len(d.marks) == 0 {
		return nil, false
	}
	m := int(d.marks[len(d.marks)-1])
	d.marks = d.marks[:len(d.marks)-1]
	vals := d.stack[m:]
	d.stack = d.stack[:m]
	return vals, true
}

func (d *PickleDecoder) newList(items []pval) pval {
	if d.nlists == len(d.lists) {
		d.lists = append(grow(d.lists, 1, d.maxUnits), nil)
	}
	d.lists[d.nlists] = append(d.lists[d.nlists][:0], items...)
	d.nlists++
	d.listElems += len(items)
	return pval{k: kList, off: int32(d.nlists - 1)}
}

func (d *PickleDecoder) newTuple(items []pval) pval {
	off := len(d.elems)
	d.elems = append(grow(d.elems, len(items), d.maxUnits), items...)
	return pval{k: kTuple, off: int32(off), n: int32(len(items))}
}

func (d *PickleDecoder) memoPut(idx int64) bool {
	// Python numbers memo entries 0, 1, 2... (the memo's length at each
	// PUT), so an index may only overwrite an entry or add the next one:
	// a sparse index would let a 5-byte opcode allocate megabytes, and
	// keeps Decode's clearing of the memo exact.
	if idx < 0 || idx > int64(d.memoLen) || idx >= d.maxMemo || len(d.stack) == 0 {
		return false
	}
	for int64(len(d.memo)) <= idx {
		d.memo = append(grow(d.memo, 1, d.maxUnits), pval{})
	}
	if d.memo[idx].k == kUnset {
		d.memoLen++
	}
	d.memo[idx] = d.stack[len(d.stack)-1]
	return true
}

func (d *PickleDecoder) memoGet(idx int64) bool {
	if idx < 0 || idx >= int64(len(d.memo)) || d.memo[idx].k == kUnset {
		return false
	}
	d.push(d.memo[idx])
	return true
}

// readLine returns the bytes up to the next '\n' after position i, and the
// position after it.
func readLine(b []byte, i int) ([]byte, int, bool) {
	for j := i; j < len(b); j++ {
		if b[j] == '\n' {
			return b[i:j], j + 1, true
		}
	}
	return nil, 0, false
}

// parseDecimal parses an optionally signed decimal integer.
func parseDecimal(b []byte) (int64, bool) {
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c-'0' > 9 {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

func (d *PickleDecoder) run(b []byte) error {
	i := 0
	need := func(n int) bool { return n >= 0 && len(b)-i >= n }
	for i < len(b) {
		op := b[i]
		i++
		switch op {
		case 0x80: // PROTO
			if !need(1) || b[i] > 5 {
				return ErrBadPickle
			}
			i++
		case 0x95: // FRAME (protocol 4): an 8-byte length we do not need
			if !need(8) {
				return ErrBadPickle
			}
			i += 8
		case '.': // STOP
			if i != len(b) || len(d.marks) != 0 || len(d.stack) != 1 || d.stack[0].k != kList {
				return ErrBadPickle
			}
			d.collect(d.lists[d.stack[0].off])
			return nil
		case '(': // MARK
			d.marks = append(d.marks, int32(len(d.stack)))
		case ']': // EMPTY_LIST
			d.push(d.newList(nil))
		case 'l': // LIST
			vals, ok := d.popMark()
			if !ok {
				return ErrBadPickle
			}
			d.push(d.newList(vals))
		case 'a': // APPEND
			v, ok := d.pop()
			if !ok || len(d.stack) == 0 || d.stack[len(d.stack)-1].k != kList {
				return ErrBadPickle
			}
			l := d.stack[len(d.stack)-1].off
			d.lists[l] = append(grow(d.lists[l], 1, d.maxUnits), v)
			d.listElems++
		case 'e': // APPENDS
			vals, ok := d.popMark()
			if !ok || len(d.stack) == 0 || d.stack[len(d.stack)-1].k != kList {
				return ErrBadPickle
			}
			l := d.stack[len(d.stack)-1].off
			d.lists[l] = append(grow(d.lists[l], len(vals), d.maxUnits), vals...)
			d.listElems += len(vals)
		case ')': // EMPTY_TUPLE
			d.push(d.newTuple(nil))
		case 0x85, 0x86, 0x87: // TUPLE1, TUPLE2, TUPLE3
			n := int(op - 0x84)
			if len(d.stack) < n || (len(d.marks) > 0 && len(d.stack)-n < int(d.marks[len(d.marks)-1])) {
				return ErrBadPickle
			}
			t := d.newTuple(d.stack[len(d.stack)-n:])
			d.stack = d.stack[:len(d.stack)-n]
			d.push(t)
		case 't': // TUPLE
			vals, ok := d.popMark()
			if !ok {
				return ErrBadPickle
			}
			d.push(d.newTuple(vals))
		case 'p': // PUT
			line, next, ok := readLine(b, i)
			if !ok {
				return ErrBadPickle
			}
			i = next
			idx, ok := parseDecimal(line)
			if !ok || !d.memoPut(idx) {
				return ErrBadPickle
			}
		case 'q': // BINPUT
			if !need(1) || !d.memoPut(int64(b[i])) {
				return ErrBadPickle
			}
			i++
		case 'r': // LONG_BINPUT
			if !need(4) || !d.memoPut(int64(binary.LittleEndian.Uint32(b[i:]))) {
				return ErrBadPickle
			}
			i += 4
		case 0x94: // MEMOIZE
			if !d.memoPut(int64(d.memoLen)) {
				return ErrBadPickle
			}
		case 'g': // GET
			line, next, ok := readLine(b, i)
			if !ok {
				return ErrBadPickle
			}
			i = next
			idx, ok := parseDecimal(line)
			if !ok || !d.memoGet(idx) {
				return ErrBadPickle
			}
		case 'h': // BINGET
			if !need(1) || !d.memoGet(int64(b[i])) {
				return ErrBadPickle
			}
			i++
		case 'j': // LONG_BINGET
			if !need(4) || !d.memoGet(int64(binary.LittleEndian.Uint32(b[i:]))) {
				return ErrBadPickle
			}
			i += 4
		case 'I', 'L': // INT, LONG: decimal text ("I01" is True, "12L" a long)
			line, next, ok := readLine(b, i)
			if !ok {
				return ErrBadPickle
			}
			i = next
			if op == 'L' && len(line) > 0 && line[len(line)-1] == 'L' {
				line = line[:len(line)-1]
			}
			n, ok := parseDecimal(line)
			if !ok {
				return ErrBadPickle
			}
			d.push(intVal(n))
		case 'N': // NONE: not a number, but not a reason to refuse the frame
			d.push(pval{k: kNone})
		case 0x88, 0x89: // NEWTRUE, NEWFALSE: float(True) is 1.0
			d.push(intVal(int64(0x89 - op)))
		case 'J': // BININT
			if !need(4) {
				return ErrBadPickle
			}
			d.push(intVal(int64(int32(binary.LittleEndian.Uint32(b[i:])))))
			i += 4
		case 'K': // BININT1
			if !need(1) {
				return ErrBadPickle
			}
			d.push(intVal(int64(b[i])))
			i++
		case 'M': // BININT2
			if !need(2) {
				return ErrBadPickle
			}
			d.push(intVal(int64(binary.LittleEndian.Uint16(b[i:]))))
			i += 2
		case 0x8a: // LONG1: n bytes of little-endian two's complement
			if !need(1) {
				return ErrBadPickle
			}
			n := int(b[i])
			i++
			if n > 8 || !need(n) {
				return ErrBadPickle
			}
			var u uint64
			for k := n - 1; k >= 0; k-- {
				u = u<<8 | uint64(b[i+k])
			}
			if n > 0 && n < 8 && b[i+n-1]&0x80 != 0 {
				u |= ^uint64(0) << (8 * n) // sign-extend
			}
			i += n
			d.push(intVal(int64(u)))
		case 'F': // FLOAT: repr text
			line, next, ok := readLine(b, i)
			if !ok {
				return ErrBadPickle
			}
			i = next
			f, ok := parseNumber(line)
			if !ok {
				return ErrBadPickle
			}
			d.push(floatVal(f))
		case 'G': // BINFLOAT: 8 bytes big-endian
			if !need(8) {
				return ErrBadPickle
			}
			d.push(floatVal(math.Float64frombits(binary.BigEndian.Uint64(b[i:]))))
			i += 8
		case 'U', 'C', 0x8c: // SHORT_BINSTRING, SHORT_BINBYTES, SHORT_BINUNICODE
			if !need(1) {
				return ErrBadPickle
			}
			n := int(b[i])
			i++
			if !need(n) {
				return ErrBadPickle
			}
			d.push(pval{k: kStr, off: int32(i), n: int32(n)})
			i += n
		case 'T', 'B', 'X': // BINSTRING, BINBYTES, BINUNICODE
			if !need(4) {
				return ErrBadPickle
			}
			n := int(binary.LittleEndian.Uint32(b[i:]))
			i += 4
			if !need(n) {
				return ErrBadPickle
			}
			d.push(pval{k: kStr, off: int32(i), n: int32(n)})
			i += n
		case 'S': // STRING: a Python 2 repr, quoted and escaped
			line, next, ok := readLine(b, i)
			if !ok {
				return ErrBadPickle
			}
			i = next
			start := len(d.scratch)
			if !d.unquote(line) {
				return ErrBadPickle
			}
			d.push(pval{k: kScratch, off: int32(start), n: int32(len(d.scratch) - start)})
		case 'V': // UNICODE: raw-unicode-escape text
			line, next, ok := readLine(b, i)
			if !ok {
				return ErrBadPickle
			}
			i = next
			start := len(d.scratch)
			if !d.rawUnicode(line) {
				return ErrBadPickle
			}
			d.push(pval{k: kScratch, off: int32(start), n: int32(len(d.scratch) - start)})
		default:
			return ErrBadPickle
		}
		if d.units() > d.maxUnits {
			return ErrPickleTooComplex
		}
	}
	return ErrBadPickle // no STOP
}

// collect turns the elements of the top-level list into items.
func (d *PickleDecoder) collect(list []pval) {
	for _, v := range list {
		it := PickleItem{Err: ErrBadPickleItem}
		if el := d.seq(v); len(el) == 2 && (el[0].k == kStr || el[0].k == kScratch) {
			if pt := d.seq(el[1]); len(pt) == 2 {
				it = PickleItem{Path: d.str(el[0])}
				it.Timestamp, it.TimestampOK = d.number(pt[0])
				it.Value, it.ValueOK = d.number(pt[1])
			}
		}
		d.item = it
		d.emit(&d.item)
	}
}

// seq returns the elements of a tuple or list (carbon's
// "for path, (ts, value) in points" unpacks either), nil otherwise.
func (d *PickleDecoder) seq(v pval) []pval {
	switch v.k {
	case kTuple:
		return d.elems[v.off : v.off+v.n]
	case kList:
		return d.lists[v.off]
	}
	return nil
}

// number converts as Python's float() does for the types carbon gets.
func (d *PickleDecoder) number(v pval) (float64, bool) {
	switch v.k {
	case kInt:
		return float64(int64(v.x)), true
	case kFloat:
		return math.Float64frombits(v.x), true
	case kStr, kScratch:
		return parseNumber(trimSpace(d.str(v)))
	}
	return 0, false
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (isSpace(b[0]) || b[0] == '\n' || b[0] == '\r') {
		b = b[1:]
	}
	for len(b) > 0 && (isSpace(b[len(b)-1]) || b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// unquote decodes a Python 2 string repr ('abc', "it's", 'a\x00\n') into
// the scratch buffer, as pickle's STRING does with codecs.escape_decode:
// unknown escapes stay as they are.
func (d *PickleDecoder) unquote(q []byte) bool {
	if len(q) < 2 || (q[0] != '\'' && q[0] != '"') || q[len(q)-1] != q[0] {
		return false
	}
	q = q[1 : len(q)-1]
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c != '\\' || i+1 == len(q) {
			d.scratch = append(d.scratch, c)
			continue
		}
		i++
		switch e := q[i]; e {
		case '\\', '\'', '"':
			d.scratch = append(d.scratch, e)
		case 'n':
			d.scratch = append(d.scratch, '\n')
		case 'r':
			d.scratch = append(d.scratch, '\r')
		case 't':
			d.scratch = append(d.scratch, '\t')
		case 'a':
			d.scratch = append(d.scratch, 7)
		case 'b':
			d.scratch = append(d.scratch, 8)
		case 'f':
			d.scratch = append(d.scratch, 12)
		case 'v':
			d.scratch = append(d.scratch, 11)
		case 'x':
			if i+2 >= len(q) {
				return false
			}
			h, ok1 := unhex(q[i+1])
			l, ok2 := unhex(q[i+2])
			if !ok1 || !ok2 {
				return false
			}
			d.scratch = append(d.scratch, h<<4|l)
			i += 2
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(e - '0')
			for k := 0; k < 2 && i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '7'; k++ {
				i++
				v = v*8 + int(q[i]-'0')
			}
			d.scratch = append(d.scratch, byte(v))
		default:
			d.scratch = append(d.scratch, '\\', e)
		}
	}
	return true
}

// rawUnicode decodes Python's raw-unicode-escape (what protocol 0 writes
// for str) into UTF-8 in the scratch buffer: bytes are Latin-1 code
// points, and \uXXXX and \UXXXXXXXX are escapes.
func (d *PickleDecoder) rawUnicode(s []byte) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\\' && i+1 < len(s) && (s[i+1] == 'u' || s[i+1] == 'U') {
			n := 4
			if s[i+1] == 'U' {
				n = 8
			}
			if i+2+n > len(s) {
				return false
			}
			var r rune
			for _, h := range s[i+2 : i+2+n] {
				v, ok := unhex(h)
				if !ok {
					return false
				}
				r = r<<4 | rune(v)
			}
			if r > utf8.MaxRune {
				return false
			}
			d.scratch = utf8.AppendRune(d.scratch, r)
			i += 1 + n
			continue
		}
		d.scratch = utf8.AppendRune(d.scratch, rune(c))
	}
	return true
}
