package graphite

import "github.com/copenhagen-obs/copenhagen/ingest/reason"

// ParseError says why a line, a pickled point or a pickle frame was
// rejected. Reason is a short, stable snake_case word for the reason label
// of copenhagen_graphite_points_rejected_total: it never contains input
// bytes, so garbage cannot grow the label set. Every ParseError is one of
// the package-level Err values, so rejecting allocates nothing and callers
// may compare with == or errors.Is. It is ingest/reason's Error, shared
// with the StatsD parser.
type ParseError = reason.Error

// The rejection reasons. The Reason strings are part of the self-metrics
// contract: dashboards and alerts depend on them, so they must not be
// renamed.
var (
	// ErrMissingValue: a line with a path only ("foo.bar").
	ErrMissingValue = newParseError("missing_value", "graphite: missing value")
	// ErrTooManyFields: more than three whitespace-separated fields
	// ("a b 1 2", "a.b c 1 1700000000"); carbon rejects these too.
	ErrTooManyFields = newParseError("too_many_fields", "graphite: more than three fields")
	// ErrBadValue: a value that is not a number as Python's float() reads
	// it ("1o", "0x10", "1_000", "").
	ErrBadValue = newParseError("bad_value", "graphite: value is not a number")
	// ErrNaNValue: a NaN value. Carbon discards NaN points (Graphite has
	// no NaN, only missing points), and so do we, counted.
	ErrNaNValue = newParseError("nan_value", "graphite: NaN value (discarded, as carbon does)")
	// ErrBadTimestamp: a timestamp that is not a number, negative (other
	// than -1, which means now), or past the year 2286 (a timestamp in
	// milliseconds sent by mistake).
	ErrBadTimestamp = newParseError("bad_timestamp", "graphite: timestamp is not unix seconds")
	// ErrEmptyName: a tagged path with nothing before the first ';'
	// (";host=a").
	ErrEmptyName = newParseError("empty_name", "graphite: empty metric name")
	// ErrMalformedTags: a tag without '=', with an empty name or value, a
	// name holding one of ";!^=", or a value starting with '~' (Graphite
	// 1.1 rules).
	ErrMalformedTags = newParseError("malformed_tags", "graphite: malformed tag")
	// ErrInvalidUTF8: the path is not valid UTF-8 (labels must be).
	ErrInvalidUTF8 = newParseError("invalid_utf8", "graphite: path is not valid UTF-8")
	// ErrLineTooLong: a line longer than the Processor's MaxLineLength.
	ErrLineTooLong = newParseError("line_too_long", "graphite: line too long")
	// ErrBadPickle: a pickle frame that is not a carbon list of
	// (path, (timestamp, value)) tuples: an opcode outside the small set
	// carbon senders use, a truncated frame, a wrong overall shape. The
	// whole frame is rejected and counted once.
	ErrBadPickle = newParseError("bad_pickle", "graphite: pickle is not a list of (path, (timestamp, value)) tuples")
	// ErrBadPickleItem: one element of an otherwise good pickle list does
	// not have the (path, (timestamp, value)) shape; the other elements
	// are kept, as carbon keeps them.
	ErrBadPickleItem = newParseError("bad_pickle_item", "graphite: pickle element is not (path, (timestamp, value))")
)

// reasons are the rejection reasons of this package, in declaration
// order.
var reasons reason.Set

func newParseError(r, msg string) *ParseError { return reasons.New(r, msg) }

// Reasons returns every rejection reason, so that counters can be created
// for all of them up front: a rate() over a series that appears only on the
// first bad line misses that line.
func Reasons() []string { return reasons.Reasons() }
