package graphite

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

// parseNumber reads a value or timestamp as carbon does with Python's
// float(): an optionally signed decimal number with optional fraction and
// exponent ("12", "-0.5", "1.5e3", ".5", "5."), or nan, inf, infinity in
// any case and with a sign. A number too large for a float64 is ±Inf, as
// in Python. Hexadecimal floats and digit separators ("0x1p4", "1_000"),
// which strconv.ParseFloat also takes, are rejected: Python's float()
// rejects the first, and no carbon client sends the second.
//
// The fast path is the exact case strconv.ParseFloat takes first (mantissa
// below 2^52, at most 22 fraction digits), so results are bit-for-bit
// those of ParseFloat. It never allocates, except for the ParseFloat range
// error of numbers beyond ±1e308.
func parseNumber(b []byte) (float64, bool) {
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
				return parseNumberSlow(b)
			}
			continue
		}
		if c == '.' && dot < 0 {
			dot = i
			continue
		}
		return parseNumberSlow(b)
	}
	if digits == 0 || mant >= 1<<52 {
		return parseNumberSlow(b)
	}
	f := float64(mant)
	if neg {
		f = -f
	}
	if dot >= 0 {
		frac := len(b) - dot - 1
		if frac > 22 {
			return parseNumberSlow(b)
		}
		f /= float64pow10[frac]
	}
	return f, true
}

// parseNumberSlow validates the grammar and only then calls ParseFloat.
func parseNumberSlow(b []byte) (float64, bool) {
	i := 0
	if i < len(b) && (b[i] == '-' || b[i] == '+') {
		i++
	}
	if isSpecial(b[i:]) {
		return parseFloatUnsafe(b)
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
	return parseFloatUnsafe(b)
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

func parseFloatUnsafe(b []byte) (float64, bool) {
	// Safe: ParseFloat keeps no reference to its input (its error copies).
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(b), len(b)), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true // ±Inf or 0, as Python's float()
		}
		return 0, false
	}
	return f, true
}

// maxTimestamp is the largest accepted timestamp in seconds (year 2286).
// Larger ones are almost always milliseconds sent where carbon expects
// seconds; they would land 50 000 years in the future.
const maxTimestamp = 9_999_999_999

// parseTimestamp reads a carbon timestamp in seconds and returns it in
// milliseconds. Integers take a fast path; fractions are kept to the
// millisecond. -1 (any number whose integer part is -1, as carbon's
// int(ts) == -1 test) means "now" and returns now.
func parseTimestamp(b []byte, now int64) (int64, bool) {
	if n := len(b); n > 0 && n <= 10 {
		var ts int64
		ok := true
		for _, c := range b {
			if c-'0' > 9 {
				ok = false
				break
			}
			ts = ts*10 + int64(c-'0')
		}
		if ok {
			if ts > maxTimestamp {
				return 0, false
			}
			return ts * 1000, true
		}
	}
	f, ok := parseNumber(b)
	return floatTimestamp(f, ok, now)
}

// floatTimestamp applies the timestamp rules to a number already parsed.
func floatTimestamp(f float64, ok bool, now int64) (int64, bool) {
	if !ok || f != f {
		return 0, false
	}
	if f <= -1 && f > -2 {
		return now, true
	}
	if f < 0 || f > maxTimestamp {
		return 0, false
	}
	return int64(f*1000 + 0.5), true
}
