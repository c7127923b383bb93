package config

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"strconv"
	"strings"
)

// ByteSize is a size in bytes. Buffer sizes are easier to read and harder to
// get wrong as "32MiB" than as 33554432, so the config accepts both.
//
// Accepted forms: a plain integer ("1400") or a number with a unit suffix,
// binary KiB, MiB, GiB, TiB (powers of 1024) or decimal KB, MB, GB, TB
// (powers of 1000, as in VictoriaMetrics flags; note that Prometheus treats
// KB as 1024) or B. The number may have a fraction ("1.5MiB") as long as the
// result is a whole number of bytes. Suffixes are case-sensitive: "mb" could
// mean megabits and is rejected rather than guessed.
type ByteSize int64

var byteUnits = []struct {
	suffix string
	mult   int64
}{
	// Longest suffixes first so "KiB" is not taken for "B".
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
	{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
	{"B", 1},
}

// ParseByteSize parses s as described on ByteSize.
func ParseByteSize(s string) (ByteSize, error) {
	num, mult := s, int64(1)
	for _, u := range byteUnits {
		if strings.HasSuffix(s, u.suffix) {
			num, mult = s[:len(s)-len(u.suffix)], u.mult
			break
		}
	}
	if !isDecimal(num) {
		return 0, byteSizeError(s, "")
	}
	if !strings.Contains(num, ".") {
		n, err := strconv.ParseInt(num, 10, 64)
		if err != nil || n > math.MaxInt64/mult {
			return 0, byteSizeError(s, "out of range")
		}
		return ByteSize(n * mult), nil
	}
	// Fractions are rare in configs; exact rational arithmetic keeps
	// "1.1B" from silently rounding.
	r, ok := new(big.Rat).SetString(num)
	if !ok {
		return 0, byteSizeError(s, "")
	}
	r.Mul(r, new(big.Rat).SetInt64(mult))
	if !r.IsInt() {
		return 0, byteSizeError(s, "not a whole number of bytes")
	}
	if !r.Num().IsInt64() {
		return 0, byteSizeError(s, "out of range")
	}
	return ByteSize(r.Num().Int64()), nil
}

// isDecimal reports whether s is digits with at most one '.' that has digits
// on both sides. The length cap keeps absurd inputs from costing big.Rat time.
func isDecimal(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	intPart, frac, hasDot := strings.Cut(s, ".")
	return allDigits(intPart) && (!hasDot || allDigits(frac))
}

func allDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func byteSizeError(s, why string) error {
	if why != "" {
		return fmt.Errorf(`expected a byte size like "32MiB" or "1400", got %s (%s)`, quote(s), why)
	}
	return fmt.Errorf(`expected a byte size like "32MiB" or "1400", got %s`, quote(s))
}

// String renders the size with the largest binary unit that divides it
// exactly, so the effective config shows "32MiB" back rather than 33554432.
func (b ByteSize) String() string {
	if b > 0 {
		for i := 3; i >= 0; i-- {
			u := byteUnits[i]
			if int64(b)%u.mult == 0 {
				return strconv.FormatInt(int64(b)/u.mult, 10) + u.suffix
			}
		}
	}
	return strconv.FormatInt(int64(b), 10)
}

// MarshalYAML renders unit-less sizes as YAML integers and the rest as
// strings, so the dump reads naturally and parses back to the same value.
func (b ByteSize) MarshalYAML() (any, error) {
	if s := b.String(); !strings.HasSuffix(s, "B") {
		return int64(b), nil
	}
	return b.String(), nil
}

// MarshalText makes JSON and other text encoders show the same form as YAML.
func (b ByteSize) MarshalText() ([]byte, error) { return []byte(b.String()), nil }

// UnmarshalText is how the decoder (and anything else) parses a ByteSize.
func (b *ByteSize) UnmarshalText(text []byte) error {
	v, err := ParseByteSize(string(text))
	if err != nil {
		return err
	}
	*b = v
	return nil
}

func (ByteSize) configExpect() string { return `a byte size like "32MiB" or "1400"` }

// redacted is what every rendering of a non-empty Secret shows.
const redacted = "<secret>"

// Secret is a string that must never appear in logs, in the output of
// `copenhagen check config` or in error messages. Every rendering (String,
// fmt verbs including %#v, YAML, JSON, text, slog) shows "<secret>"; an unset
// (empty) Secret renders as "" so that the effective config still tells
// whether it was set. Use string(s) to get the value where it is needed.
//
// Only exported struct fields are protected in %v of a containing struct:
// fmt cannot call methods on unexported fields.
type Secret string

func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// Format covers every fmt verb, so neither %x nor %#v leak the value.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		io.WriteString(f, strconv.Quote(s.String()))
		return
	}
	io.WriteString(f, s.String())
}

// MarshalYAML keeps the value out of config dumps.
func (s Secret) MarshalYAML() (any, error) { return s.String(), nil }

// MarshalJSON keeps the value out of JSON renderings (e.g. a future
// /api/v1/status/config endpoint).
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(strconv.Quote(s.String())), nil }

// MarshalText keeps the value out of text encoders.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// LogValue keeps the value out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// Path is a file path written in the config file. A relative Path is resolved
// against the directory of the config file when the file is parsed, so that a
// config and the files it refers to (mapping file, web config) can be moved
// or deployed together regardless of the working directory. Absolute paths
// and "" are kept as they are.
type Path string

func (p Path) String() string { return string(p) }

// quote renders a user value for an error message, shortened so that a
// pasted blob does not drown the report.
func quote(s string) string {
	const max = 64
	if len(s) > max {
		cut := max
		for cut > 0 && s[cut]&0xC0 == 0x80 { // don't split a UTF-8 sequence
			cut--
		}
		return strconv.Quote(s[:cut]) + "..."
	}
	return strconv.Quote(s)
}
