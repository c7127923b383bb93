// Package graphite parses what carbon clients send: plaintext lines
// ("path value timestamp", over TCP or UDP, :2003) and pickle frames (a
// 4-byte length and a pickled list of (path, (timestamp, value)) tuples,
// :2004), including Graphite 1.1 tagged paths ("cpu.load;host=web01").
//
// Parsing works on the caller's bytes and never allocates: a Point's
// fields alias the input and are only valid until the next parse. The
// Processor splits blocks into lines or frames, counts rejections by
// reason in plain fields, and hands accepted points to a Sink; one
// Processor belongs to one reader goroutine or connection, like the StatsD
// one in ingest/statsd.
//
// What is accepted follows carbon (lib/carbon/protocols.py and util.py)
// where carbon is strict and VictoriaMetrics where carbon is not defined:
//
//   - fields are separated by runs of spaces or tabs, with leading and
//     trailing whitespace ignored (carbon's line.strip().split());
//   - values are what Python's float() reads, including exponents, inf;
//     NaN values are discarded and counted (nan_value), as carbon does;
//   - a timestamp of -1 means "now", as in carbon; a missing timestamp
//     ("path value") also means now, as VictoriaMetrics and most relays
//     accept (carbon itself rejects the line);
//   - timestamps may have a fraction, kept to the millisecond;
//   - tagged paths follow Graphite 1.1: tag names are non-empty and
//     contain none of ";!^=", values are non-empty and do not start with
//     '~'; a repeated tag keeps its last value, and a tag called "name" is
//     ignored because Graphite's "name" tag is the path itself.
package graphite

import (
	"bytes"
	"unicode/utf8"
)

// Tag is one Graphite tag of a tagged path. Both slices alias the input.
type Tag struct {
	Key, Value []byte
}

// Point is one parsed data point. Its slices alias the parsed input and are
// only valid until the next parse into the same Point.
type Point struct {
	// Path is the whole path as sent, tags included ("cpu;host=a").
	Path []byte
	// Name is the part before the first ';' (all of Path when untagged).
	Name []byte
	// Tags are the tags in the order sent, with repeated keys and the
	// reserved "name" tag already removed. The backing array is reused.
	Tags []Tag
	// Value is the sample value, never NaN.
	Value float64
	// Timestamp is in Unix milliseconds.
	Timestamp int64

	tagIdx []int32 // dedupTags' scratch
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' }

// nextField returns the next whitespace-separated field of b and the rest.
func nextField(b []byte) (field, rest []byte) {
	i := 0
	for i < len(b) && isSpace(b[i]) {
		i++
	}
	j := i
	for j < len(b) && !isSpace(b[j]) {
		j++
	}
	return b[i:j], b[j:]
}

// ParseLine parses one plaintext line without its newline. now, in Unix
// milliseconds, is the timestamp of points sent with -1 or none. On error
// the Point holds garbage.
func (p *Point) ParseLine(line []byte, now int64) error {
	path, rest := nextField(line)
	val, rest := nextField(rest)
	ts, rest := nextField(rest)
	if len(val) == 0 {
		return ErrMissingValue
	}
	if extra, _ := nextField(rest); len(extra) > 0 {
		return ErrTooManyFields
	}
	if err := p.ParsePath(path); err != nil {
		return err
	}
	v, ok := parseNumber(val)
	if !ok {
		return ErrBadValue
	}
	if v != v {
		return ErrNaNValue
	}
	p.Value = v
	if len(ts) == 0 {
		p.Timestamp = now
		return nil
	}
	t, ok := parseTimestamp(ts, now)
	if !ok {
		return ErrBadTimestamp
	}
	p.Timestamp = t
	return nil
}

// ParsePath splits a path into its name and tags and checks them. It is
// shared by plaintext and pickle, which carry the same paths.
func (p *Point) ParsePath(path []byte) error {
	p.Path = path
	p.Tags = p.Tags[:0]
	ascii := true
	for _, c := range path {
		if c >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii && !utf8.Valid(path) {
		return ErrInvalidUTF8
	}
	i := bytes.IndexByte(path, ';')
	if i < 0 {
		p.Name = path
		if len(path) == 0 {
			return ErrEmptyName
		}
		return nil
	}
	p.Name = path[:i]
	if i == 0 {
		return ErrEmptyName
	}
	rest := path[i+1:]
	for {
		var seg []byte
		if j := bytes.IndexByte(rest, ';'); j >= 0 {
			seg, rest = rest[:j], rest[j+1:]
		} else {
			seg, rest = rest, nil
		}
		eq := bytes.IndexByte(seg, '=')
		if eq <= 0 || eq == len(seg)-1 {
			return ErrMalformedTags
		}
		k, v := seg[:eq], seg[eq+1:]
		if bytes.ContainsAny(k, "!^") || v[0] == '~' {
			return ErrMalformedTags
		}
		if string(k) != "name" {
			// carbon overwrites a "name" tag with the path's name
			p.Tags = append(p.Tags, Tag{Key: k, Value: v})
		}
		if rest == nil {
			p.dedupTags()
			return nil
		}
	}
}
