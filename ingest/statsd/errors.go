package statsd

import "github.com/copenhagen-obs/copenhagen/ingest/reason"

// ParseError says why a line was rejected. Reason is a short, stable
// snake_case word meant for the reason label of a rejection counter: it
// never contains input bytes, so a flood of garbage cannot grow the label
// set. Every ParseError is one of the package-level Err values below, so
// rejecting a line allocates nothing, and callers may compare with == or
// errors.Is. It is ingest/reason's Error, shared with the carbon parser.
type ParseError = reason.Error

// The reasons a line is rejected. The Reason strings are part of the
// self-metrics contract (copenhagen_statsd_lines_rejected_total{reason}):
// dashboards and alerts depend on them, so they must not be renamed.
var (
	// ErrEmptyName: nothing before the first ':' (":1|c"), or nothing left
	// once the tags are removed ("[a=b]:1|c", ",a=b:1|c").
	ErrEmptyName = newParseError("empty_name", "statsd: empty metric name")
	// ErrMissingValue: no ':' at all ("foo"), or an empty value ("foo:|c",
	// "foo:1::2|ms").
	ErrMissingValue = newParseError("missing_value", "statsd: missing value")
	// ErrBadValue: a value that is not a finite decimal number ("NaN",
	// "Inf", "1e400", "1o", "0x10", " 1").
	ErrBadValue = newParseError("bad_value", "statsd: value is not a finite decimal number")
	// ErrMissingType: a value without "|type" ("foo:1").
	ErrMissingType = newParseError("missing_type", "statsd: missing metric type")
	// ErrUnknownType: a type other than c, g, ms, h, d, s.
	ErrUnknownType = newParseError("unknown_type", "statsd: unknown metric type")
	// ErrBadSampleRate: "|@" followed by anything but a number in (0, 1],
	// or more than one "|@" section.
	ErrBadSampleRate = newParseError("bad_sample_rate", "statsd: sample rate is not a number in (0, 1]")
	// ErrBadSection: an empty section ("foo:1|c|", "foo:1|c||#a:b"), an
	// unknown one ("foo:1|c|x"), a malformed container ID ("|c", "|c:") or
	// a repeated "|c:" or "|T" section, or more than four sections.
	ErrBadSection = newParseError("bad_section", "statsd: empty, unknown, repeated or excess section after the type")
	// ErrMalformedTags: a tag with a value but no key ("|#:v", ",=v"), a
	// name-dialect tag without '=' ("foo,bar:1|c"), or unbalanced,
	// misordered or repeated SignalFX brackets.
	ErrMalformedTags = newParseError("malformed_tags", "statsd: malformed tags")
	// ErrMixedTagging: tags in the name (InfluxDB, Librato, SignalFX) and
	// DogStatsD "|#" tags on one line, or SignalFX brackets together with
	// InfluxDB or Librato tags ("foo,a=b[c=d]").
	ErrMixedTagging = newParseError("mixed_tagging_styles", "statsd: more than one tagging style on one line")
	// ErrBadPacking: several ':'-packed values for a type that cannot be
	// packed (only ms, h and d can: "foo:1:2|c" is rejected).
	ErrBadPacking = newParseError("bad_packing", "statsd: packed values are only allowed for ms, h and d")
	// ErrMultiMetric: the etsy multi-metric form "foo:1|c:2|c".
	ErrMultiMetric = newParseError("multi_metric", "statsd: several value|type samples on one line are not supported")
	// ErrInvalidUTF8: the line is not valid UTF-8.
	ErrInvalidUTF8 = newParseError("invalid_utf8", "statsd: line is not valid UTF-8")
	// ErrLineTooLong: the line exceeds the Processor's MaxLineLength.
	ErrLineTooLong = newParseError("line_too_long", "statsd: line too long")
)

// reasons are the rejection reasons of this package, in declaration
// order.
var reasons reason.Set

func newParseError(r, msg string) *ParseError { return reasons.New(r, msg) }

// Reasons returns every rejection reason, so that counters can be created
// for all of them up front: a rate() over a series that appears only on the
// first bad line misses that line.
func Reasons() []string { return reasons.Reasons() }
