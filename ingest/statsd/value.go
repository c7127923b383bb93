package statsd

import "github.com/copenhagen-obs/copenhagen/ingest/number"

// parseFloat parses a StatsD value or sample rate: an optionally signed
// decimal number with an optional fraction and exponent ("12", "-0.5",
// "1.5e3", ".5", "5."). It returns false for anything else, including what
// strconv.ParseFloat would also accept: NaN and Inf in any spelling (a
// non-finite sample poisons every sum it reaches), values that overflow a
// float64 ("1e400", which ParseFloat turns into ±Inf), hexadecimal floats
// ("0x1p4") and digit separators ("1_000"). No StatsD client emits the last
// two; on the wire they are garbage that happens to be Go syntax.
//
// It is ingest/number's parser in its StatsD dialect (shared with carbon's
// numbers, compiled for each): bit-for-bit strconv.ParseFloat's result,
// without allocating.
func parseFloat(b []byte) (float64, bool) { return number.Parse[number.StatsD](b) }
