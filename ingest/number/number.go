// Package number parses the numbers of the ingest protocols from bytes,
// without allocating: StatsD values and sample rates, carbon values and
// timestamps. Both protocols write decimal numbers the same way; they
// differ only at the edges (NaN, infinities, overflow), so the fast path
// is shared and each protocol is a Dialect for the rest.
//
// Parse is generic over the dialect so that each protocol gets its own
// compiled copy, with its slow path called directly: StatsD and Python
// have different underlying types, hence different GC shapes, and the Go
// compiler stencils one instantiation per shape (no dictionary, no
// indirect call). A shared function taking the dialect as a value or a
// func would cost a few nanoseconds per value on the hottest line of
// ingestion.
//
// Results are bit-for-bit those of strconv.ParseFloat: the fast path is
// the exact case ParseFloat takes first (a mantissa below 2^52 and at
// most 22 fraction digits: one correctly rounded IEEE division), and every
// other valid input goes to ParseFloat once the dialect has checked its
// grammar (ParseFloat allocates its *NumError for every input it rejects,
// and accepts hexadecimal floats and digit separators, which no client
// sends).
package number

import (
	"strconv"
	"unsafe"
)

// Dialect is how a protocol reads what the fast path does not settle:
// StatsD or Python.
type Dialect interface {
	StatsD | Python
	slow(b []byte) (float64, bool)
}

// StatsD reads values and sample rates as StatsD servers must: finite
// decimal numbers only. NaN and Inf in any spelling (a non-finite sample
// poisons every sum it reaches) and values that overflow a float64
// ("1e400") are refused.
type StatsD uint8

// Python reads numbers as carbon does with Python's float(): nan, inf and
// infinity in any case and with a sign are accepted, and a number too
// large for a float64 is ±Inf.
type Python uint16

// float64pow10 holds the powers of ten that are exact in a float64.
var float64pow10 = [...]float64{
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
	1e20, 1e21, 1e22,
}

// Parse parses b as an optionally signed decimal number with an optional
// fraction and exponent ("12", "-0.5", "1.5e3", ".5", "5."), plus what
// the dialect D accepts besides. It returns false for anything else.
func Parse[D Dialect](b []byte) (float64, bool) {
	i := 0
	neg := false
	if len(b) > 0 && (b[0] == '-' || b[0] == '+') {
		neg = b[0] == '-'
		i = 1
	}
	var mant uint64
	digits := 0
	dot := -1
	for ; i < len(b); i++ {
		c := b[i]
		if c-'0' <= 9 {
			mant = mant*10 + uint64(c-'0')
			digits++
			if digits > 18 {
				var d D
				return d.slow(b)
			}
			continue
		}
		if c == '.' && dot < 0 {
			dot = i
			continue
		}
		var d D
		return d.slow(b)
	}
	if digits == 0 || mant >= 1<<52 {
		var d D
		return d.slow(b)
	}
	f := float64(mant)
	if neg {
		f = -f
	}
	if dot >= 0 {
		frac := len(b) - dot - 1
		if frac > 22 {
			var d D
			return d.slow(b)
		}
		f /= float64pow10[frac]
	}
	return f, true
}

// slow validates the decimal grammar, rules out overflow from the decimal
// exponent, and only then calls strconv.ParseFloat. The one allocation
// left is ParseFloat's range error for a number within a factor of ten of
// the float64 maximum (1e308 to 1e309), where only ParseFloat can tell.
func (StatsD) slow(b []byte) (float64, bool) {
	i := 0
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		i++
	}
	// mag is the decimal exponent of the leading non-zero digit, before the
	// explicit exponent is added: 0 for "1.5", 2 for "123", -3 for "0.001".
	mag := 0
	digits := 0
	fracZeros := 0
	nonZero := false
	sawDot := false
	for ; i < len(b); i++ {
		c := b[i]
		if c-'0' <= 9 {
			digits++
			switch {
			case nonZero:
				if !sawDot {
					mag++
				}
			case c != '0':
				nonZero = true
				if sawDot {
					mag = -(fracZeros + 1)
				}
			case sawDot:
				fracZeros++
			}
			continue
		}
		if c == '.' && !sawDot {
			sawDot = true
			continue
		}
		break
	}
	if digits == 0 {
		return 0, false
	}
	exp := 0
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		eneg := false
		if i < len(b) && (b[i] == '-' || b[i] == '+') {
			eneg = b[i] == '-'
			i++
		}
		start := i
		for ; i < len(b) && b[i]-'0' <= 9; i++ {
			if exp < 1_000_000_000 {
				exp = exp*10 + int(b[i]-'0')
			}
		}
		if i == start {
			return 0, false
		}
		if eneg {
			exp = -exp
		}
	}
	if i != len(b) {
		return 0, false
	}
	if nonZero && mag+exp >= 309 {
		return 0, false // at least 1e309: certain overflow
	}
	f, err := strconv.ParseFloat(unsafeString(b), 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// slow validates the grammar (with nan, inf, infinity) and only then
// calls ParseFloat; a range error is ±Inf or 0, as in Python.
func (Python) slow(b []byte) (float64, bool) {
	i := 0
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		i++
	}
	if isSpecial(b[i:]) {
		return parsePython(b)
	}
	digits := 0
	sawDot := false
	for ; i < len(b); i++ {
		c := b[i]
		if c-'0' <= 9 {
			digits++
			continue
		}
		if c == '.' && !sawDot {
			sawDot = true
			continue
		}
		break
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '-' || b[i] == '+') {
			i++
		}
		start := i
		for i < len(b) && b[i]-'0' <= 9 {
			i++
		}
		if i == start {
			return 0, false
		}
	}
	if i != len(b) {
		return 0, false
	}
	return parsePython(b)
}

// isSpecial reports whether b (without sign) is nan, inf or infinity in
// any case.
func isSpecial(b []byte) bool {
	switch len(b) {
	case 3:
		return lowerEq(b, "nan") || lowerEq(b, "inf")
	case 8:
		return lowerEq(b, "infinity")
	}
	return false
}

func lowerEq(b []byte, s string) bool {
	for i := range len(s) {
		if b[i]|0x20 != s[i] {
			return false
		}
	}
	return true
}

func parsePython(b []byte) (float64, bool) {
	f, err := strconv.ParseFloat(unsafeString(b), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true // ±Inf or 0, as Python's float()
		}
		return 0, false
	}
	return f, true
}

// unsafeString views b as a string for ParseFloat. Safe: b is only read
// during the call and ParseFloat keeps no reference to it (its error, the
// one case that would, copies the string).
func unsafeString(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }
