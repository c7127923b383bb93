package statsd

import (
	"strconv"
	"unsafe"
)

// float64pow10 holds the powers of ten that are exact in a float64.
var float64pow10 = [...]float64{
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9,
	1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19,
	1e20, 1e21, 1e22,
}

// parseFloat parses a StatsD value or sample rate: an optionally signed
// decimal number with an optional fraction and exponent ("12", "-0.5",
// "1.5e3", ".5", "5."). It returns false for anything else, including what
// strconv.ParseFloat would also accept: NaN and Inf in any spelling (a
// non-finite sample poisons every sum it reaches), values that overflow a
// float64 ("1e400", which ParseFloat turns into ±Inf), hexadecimal floats
// ("0x1p4") and digit separators ("1_000"). No StatsD client emits the last
// two; on the wire they are garbage that happens to be Go syntax.
//
// The result is bit-for-bit what strconv.ParseFloat returns: the fast path
// below is the exact-arithmetic case ParseFloat itself takes first
// (mantissa below 2^52, at most 22 fraction digits: one correctly rounded
// IEEE division), and every other valid input goes to ParseFloat.
//
// It never allocates. ParseFloat allocates a *NumError for every input it
// rejects, so the input is validated here first and ParseFloat only sees
// well-formed numbers whose magnitude cannot overflow; the one exception is
// a number within a factor of ten of the float64 maximum (1e308 to 1e309),
// where only ParseFloat can tell, and the error allocates.
func parseFloat(b []byte) (float64, bool) {
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
				return parseFloatSlow(b)
			}
			continue
		}
		if c == '.' && dot < 0 {
			dot = i
			continue
		}
		return parseFloatSlow(b)
	}
	if digits == 0 || mant >= 1<<52 {
		return parseFloatSlow(b)
	}
	f := float64(mant)
	if neg {
		f = -f
	}
	if dot >= 0 {
		frac := len(b) - dot - 1
		if frac > 22 {
			return parseFloatSlow(b)
		}
		f /= float64pow10[frac]
	}
	return f, true
}

// parseFloatSlow validates the decimal grammar, rules out overflow from the
// decimal exponent, and only then calls strconv.ParseFloat.
func parseFloatSlow(b []byte) (float64, bool) {
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
	// Safe: b is only read during the call and ParseFloat keeps no reference
	// to it (its error, the one case that would, copies the string).
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil {
		return 0, false
	}
	return f, true
}
