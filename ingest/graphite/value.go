package graphite

import numbers "github.com/copenhagen-obs/copenhagen/ingest/number"

// parseNumber reads a value or timestamp as carbon does with Python's
// float(): an optionally signed decimal number with optional fraction and
// exponent ("12", "-0.5", "1.5e3", ".5", "5."), or nan, inf, infinity in
// any case and with a sign. A number too large for a float64 is ±Inf, as
// in Python. Hexadecimal floats and digit separators ("0x1p4", "1_000"),
// which strconv.ParseFloat also takes, are rejected: Python's float()
// rejects the first, and no carbon client sends the second.
//
// It is ingest/number's parser in its Python dialect (shared with
// StatsD's numbers, compiled for each): bit-for-bit strconv.ParseFloat's
// result, without allocating except for the range error of numbers
// beyond ±1e308.
func parseNumber(b []byte) (float64, bool) { return numbers.Parse[numbers.Python](b) }

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
