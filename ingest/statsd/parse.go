package statsd

import (
	"bytes"
	"unicode/utf8"

	"github.com/copenhagen-obs/copenhagen/ingest/reason"
)

// Parse parses one StatsD line into l, replacing what l held before and
// reusing the capacity of l.Values and l.Members, so a Line that lives as
// long as its reader parses valid input without allocating.
//
// b is one line without its '\n'; a trailing '\r' (CRLF senders) is
// ignored. Every slice in l aliases b afterwards, so b must stay unchanged
// while l is in use. On error l is in an unspecified state and the error is
// always one of the package's *ParseError values.
//
// DogStatsD events ("_e{...") and service checks ("_sc|...") are accepted
// without further checks: Parse sets l.Kind and returns nil, because a
// client sending them is not broken even though they carry no series.
//
// Parse accepts every line statsd_exporter v0.31.0 (pkg/line, with all four
// tag dialects enabled, its default) turns into events without an error,
// with the same name, values and labels, except where the exporter
// silently mangles data; there Parse rejects the line (see the Err values)
// or differs as follows:
//
//   - Sets ("|s"), events and service checks are accepted; the exporter
//     rejects them.
//   - A trailing '\r' is ignored; the exporter reads "foo:1|c\r" as the
//     unknown type "c\r".
//   - Sample rates: the exporter treats a rate it cannot parse, and 0, as
//     1, divides counters by rates above 1 and emits no timer samples for
//     them, and multiplies a negative rate into counters. Parse rejects
//     any rate outside (0, 1], and a second "|@" section (the exporter
//     would divide twice).
//   - Parse does not apply the rate: it reports it in l.SampleRate (see
//     there for what the exporter does with it).
//   - Name-dialect tags without '=' ("foo,bar:1|c", "foo.[a,b]bar:1|c")
//     and tags with an empty key ("|#:v") are rejected: the exporter drops
//     the tag, so "foo,bar" and "foo,baz" silently become one series "foo".
//     Value-less DogStatsD tags ("|#flag") and empty values ("k:") are
//     dropped exactly like the exporter does, and counted in
//     l.DroppedTags.
//   - SignalFX brackets that are unbalanced, misordered or repeated are
//     rejected: the exporter keeps them in the metric name (or, for "]"
//     before "[", panics and takes the process down), and it keeps
//     InfluxDB or Librato tags outside the brackets in the name
//     ("foo,a=b[c=d]" becomes the name "foo,a=b"); Parse rejects those as
//     mixed tagging styles.
//   - At most four sections may follow the type, as in the exporter; the
//     "|#" section may repeat within that limit, the others may not.
//   - The "|c:<container-id>" section is validated like the exporter
//     does, but ignored: the exporter turns it into a container_id label,
//     a new series per container restart. It is also accepted on lines
//     without "|#" tags, which the exporter mis-splits and rejects.
//   - A packed line with one bad value ("foo:1:x|ms") is rejected as a
//     whole; the exporter keeps the other values.
//   - "foo:1|c:2|c" (etsy multi-metric) is rejected as multi_metric: the
//     exporter splits it into one sample per "value|type" pair, a form no
//     current client emits and one Line cannot represent.
//   - Values must be plain decimal numbers (see parseFloat): "0x1p4" and
//     "1_000" are rejected; the exporter accepts them as Go syntax.
func (l *Line) Parse(b []byte) error {
	l.Kind = KindMetric
	l.Name = nil
	l.NameSection = nil
	l.Type = TypeUnknown
	l.Values = l.Values[:0]
	l.Members = l.Members[:0]
	l.Relative = false
	l.SampleRate = 1
	l.DogTags = nil
	l.DroppedTags = 0
	l.nameTags = nil

	if n := len(b); n > 0 && b[n-1] == '\r' {
		b = b[:n-1]
	}
	if len(b) == 0 {
		return ErrEmptyName
	}
	if b[0] == '_' && len(b) >= 3 {
		if b[1] == 'e' && b[2] == '{' {
			l.Kind = KindEvent
			return nil
		}
		if len(b) >= 4 && b[1] == 's' && b[2] == 'c' && b[3] == '|' {
			l.Kind = KindServiceCheck
			return nil
		}
	}
	// The whole line, as statsd_exporter checks it: names and tags become
	// label values, and a set member becomes a map key downstream.
	// utf8.Valid checks 8 ASCII bytes per step, a few ns for a typical line.
	if !utf8.Valid(b) {
		return ErrInvalidUTF8
	}
	// One pass over the name finds the ':' and any tag-dialect byte; the
	// common untagged name needs nothing else.
	colon := 0
	for colon < len(b) && nameClass[b[colon]] == 0 {
		colon++
	}
	if colon == len(b) {
		return ErrMissingValue
	}
	nameTags := 0
	if b[colon] == ':' {
		l.Name = b[:colon]
	} else {
		first := colon
		if colon = bytes.IndexByte(b[first:], ':'); colon < 0 {
			return ErrMissingValue
		}
		colon += first
		var err error
		if nameTags, err = l.parseName(b[:colon], first); err != nil {
			return err
		}
	}
	if colon == 0 {
		return ErrEmptyName
	}
	l.NameSection = b[:colon]

	rest := b[colon+1:]
	bar := bytes.IndexByte(rest, '|')
	if bar < 0 {
		if len(rest) == 0 {
			return ErrMissingValue
		}
		return ErrMissingType
	}
	value := rest[:bar]
	rest = rest[bar+1:]
	// Every type is one or two bytes: look for the '|' after it directly.
	switch {
	case len(rest) == 0 || rest[0] == '|':
		bar = 0
	case len(rest) == 1 || len(rest) > 1 && rest[1] == '|':
		bar = 1
	case len(rest) == 2 || len(rest) > 2 && rest[2] == '|':
		bar = 2
	default:
		bar = bytes.IndexByte(rest, '|')
	}
	typ := rest
	if bar >= 0 && bar < len(rest) {
		typ = rest[:bar]
	} else {
		bar = -1
	}
	if l.Type = parseType(typ); l.Type == TypeUnknown {
		switch {
		case len(typ) == 0:
			return ErrMissingType
		case bytes.IndexByte(typ, ':') >= 0:
			return ErrMultiMetric
		}
		return ErrUnknownType
	}
	if bar >= 0 {
		if err := l.parseSections(rest[bar+1:], nameTags > 0); err != nil {
			return err
		}
	}
	if len(value) == 0 {
		return ErrMissingValue
	}
	return l.parseValues(value)
}

func parseType(t []byte) Type {
	switch len(t) {
	case 1:
		switch t[0] {
		case 'c':
			return TypeCounter
		case 'g':
			return TypeGauge
		case 'h':
			return TypeHistogram
		case 'd':
			return TypeDistribution
		case 's':
			return TypeSet
		}
	case 2:
		if t[0] == 'm' && t[1] == 's' {
			return TypeTimer
		}
	}
	return TypeUnknown
}

// Byte classes in a name section.
const (
	classTagStart = 1 // ',' InfluxDB, '#' Librato
	classBracket  = 2 // '[' ']' SignalFX
	classColon    = 3 // end of the name section
)

var nameClass = [256]uint8{
	',': classTagStart, '#': classTagStart,
	'[': classBracket, ']': classBracket,
	':': classColon,
}

// parseName sets l.Name and l.nameTags from the name section ns, whose
// first tag-dialect byte is at i, and returns how many name-dialect tags
// yield a label. Precedence is statsd_exporter's: a bracket anywhere makes
// the name SignalFX; otherwise the first ',' or '#' starts InfluxDB or
// Librato tags, and the rest, up to the ':', is a ','-separated list of
// k=v (so a tag value may contain '#' or '=').
func (l *Line) parseName(ns []byte, i int) (int, error) {
	if nameClass[ns[i]] == classTagStart {
		tags := ns[i+1:]
		_, valid, dropped, err := scanTags(tags, false)
		if err == errBracket || (err != nil && bytes.IndexByte(tags, '[')|bytes.IndexByte(tags, ']') != -1) {
			return l.parseSignalFX(ns) // a bracket anywhere makes it SignalFX
		}
		switch {
		case i == 0:
			return 0, ErrEmptyName
		case err != nil:
			return 0, err
		}
		l.Name = ns[:i]
		l.nameTags = tags
		l.DroppedTags += dropped
		return valid, nil
	}
	return l.parseSignalFX(ns)
}

// parseSignalFX handles "prefix[k=v,...]suffix", whose name is
// prefix+suffix.
func (l *Line) parseSignalFX(ns []byte) (int, error) {
	open := bytes.IndexByte(ns, '[')
	end := bytes.IndexByte(ns, ']')
	if open < 0 || end < open {
		return 0, ErrMalformedTags
	}
	prefix, inner, suffix := ns[:open], ns[open+1:end], ns[end+1:]
	// prefix holds no bracket: open is the first '[' and end the first ']'.
	for _, c := range inner {
		if c == '[' {
			return 0, ErrMalformedTags
		}
	}
	for _, c := range suffix {
		if nameClass[c] == classBracket {
			return 0, ErrMalformedTags
		}
	}
	for _, part := range [2][]byte{prefix, suffix} {
		for _, c := range part {
			if nameClass[c] == classTagStart {
				return 0, ErrMixedTagging
			}
		}
	}
	if len(prefix)+len(suffix) == 0 {
		return 0, ErrEmptyName
	}
	_, valid, dropped, err := scanTags(inner, false)
	if err != nil {
		return 0, err
	}
	switch {
	case len(suffix) == 0:
		l.Name = prefix
	case len(prefix) == 0:
		l.Name = suffix
	default:
		l.nameBuf = append(append(l.nameBuf[:0], prefix...), suffix...)
		l.Name = l.nameBuf
	}
	l.nameTags = inner
	l.DroppedTags += dropped
	return valid, nil
}

// Byte classes in a tag list.
const (
	tagSep   = 1 // between key and value
	tagComma = 2 // between tags
	tagEnd   = 3 // end of a DogStatsD section
	tagBrack = 4 // '[' or ']' in InfluxDB or Librato tags: it is SignalFX
)

// errBracket tells parseName that InfluxDB or Librato tags contain a
// bracket; it never leaves the package.
// It is in a Set of its own, so it has no counter.
var errBracket = new(reason.Set).New("bracket", "statsd: bracket in tags")

var (
	nameTagClass = [256]uint8{'=': tagSep, ',': tagComma, '[': tagBrack, ']': tagBrack}
	dogTagClass  = [256]uint8{':': tagSep, ',': tagComma, '|': tagEnd}
)

// scanTags validates a ','-separated tag list without building anything,
// in one pass with one table lookup per byte. It returns where the list
// ends (a '|' for DogStatsD, else len(list)), how many tags yield a label
// and how many are dropped for having no value. Empty entries (",,", a
// trailing ',') are skipped: they are what clients that join tag strings
// produce, and nothing is lost. dog selects DogStatsD rules: ':' separates
// key and value, an optional '#' may precede each tag (the PHP client
// sends "|#a:b,#c:d") and value-less tags are allowed; in the name
// dialects '=' separates and a tag without one is an error. appendTags
// must accept exactly the same lists.
func scanTags(list []byte, dog bool) (end, valid, dropped int, err error) {
	class := &nameTagClass
	if dog {
		class = &dogTagClass
	}
	start, k, i := 0, -1, 0
	if dog && len(list) > 0 && list[0] == '#' {
		start, i = 1, 1
	}
	for ; i < len(list); i++ {
		cl := class[list[i]]
		if cl == 0 {
			continue
		}
		if cl == tagSep {
			if k < 0 {
				if i == start {
					return 0, 0, 0, ErrMalformedTags
				}
				k = i
			}
			continue
		}
		if cl == tagBrack {
			return 0, 0, 0, errBracket
		}
		// ',' or '|' ends the tag list[start:i].
		switch {
		case i == start:
		case k < 0:
			if !dog {
				return 0, 0, 0, ErrMalformedTags
			}
			dropped++
		case k == i-1:
			dropped++
		default:
			valid++
		}
		if cl == tagEnd {
			return i, valid, dropped, nil
		}
		start, k = i+1, -1
		if dog && start < len(list) && list[start] == '#' {
			start++
			i++
		}
	}
	switch {
	case i == start:
	case k < 0:
		if !dog {
			return 0, 0, 0, ErrMalformedTags
		}
		dropped++
	case k == i-1:
		dropped++
	default:
		valid++
	}
	return len(list), valid, dropped, nil
}

// maxSections is statsd_exporter's limit: it rejects a line with more than
// six '|'-separated parts, value and type included. Only repeated "|#"
// sections can exceed it.
const maxSections = 4

// parseSections handles what follows the type: "|@rate", "|#tags",
// "|c:container-id" and "|T<timestamp>", in any order. nameTagged reports
// whether the name carried tags, which statsd_exporter refuses to mix with
// DogStatsD tags.
func (l *Line) parseSections(s []byte, nameTagged bool) error {
	var seenRate, seenContainer, seenTimestamp bool
	dogStart, dogEnd := -1, -1
	pos := 0
	for n := 1; ; n++ {
		if n > maxSections || pos == len(s) || s[pos] == '|' {
			return ErrBadSection
		}
		var end int
		if s[pos] == '#' {
			if nameTagged {
				return ErrMixedTagging
			}
			m, _, dropped, err := scanTags(s[pos+1:], true)
			if err != nil {
				return err
			}
			end = pos + 1 + m
			l.DroppedTags += dropped
			if dogStart < 0 {
				dogStart = pos + 1
			}
			dogEnd = end
		} else {
			if end = bytes.IndexByte(s[pos:], '|'); end < 0 {
				end = len(s)
			} else {
				end += pos
			}
			sec := s[pos:end]
			switch sec[0] {
			case '@':
				if seenRate {
					return ErrBadSampleRate
				}
				seenRate = true
				r, ok := parseFloat(sec[1:])
				if !ok || r <= 0 || r > 1 {
					return ErrBadSampleRate
				}
				l.SampleRate = r
			case 'c':
				// DogStatsD 1.2 container ID: accepted and ignored.
				if len(sec) < 3 || sec[1] != ':' || seenContainer {
					return ErrBadSection
				}
				seenContainer = true
			case 'T':
				// DogStatsD 1.3 timestamp: a pull-based exposition cannot
				// use it, and statsd_exporter does not validate it either.
				if seenTimestamp {
					return ErrBadSection
				}
				seenTimestamp = true
			default:
				return ErrBadSection
			}
		}
		if end == len(s) {
			break
		}
		pos = end + 1
	}
	if dogStart >= 0 {
		l.DogTags = s[dogStart:dogEnd]
	}
	return nil
}

// parseValues parses the value part: one number for c and g, one or more
// ':'-packed numbers for ms, h and d (DogStatsD 1.1 value packing, the only
// types statsd_exporter unpacks), the raw member for s.
func (l *Line) parseValues(v []byte) error {
	switch l.Type {
	case TypeTimer, TypeHistogram, TypeDistribution:
		for {
			j := bytes.IndexByte(v, ':')
			piece := v
			if j >= 0 {
				piece = v[:j]
			}
			if len(piece) == 0 {
				return ErrMissingValue
			}
			f, ok := parseFloat(piece)
			if !ok {
				return ErrBadValue
			}
			l.Values = append(l.Values, f)
			if j < 0 {
				return nil
			}
			v = v[j+1:]
		}
	case TypeSet:
		if bytes.IndexByte(v, ':') >= 0 {
			return ErrBadPacking
		}
		l.Members = append(l.Members, v)
		return nil
	}
	f, ok := parseFloat(v)
	if !ok {
		if bytes.IndexByte(v, ':') >= 0 {
			return ErrBadPacking
		}
		return ErrBadValue
	}
	if l.Type == TypeGauge {
		l.Relative = v[0] == '+' || v[0] == '-'
	}
	l.Values = append(l.Values, f)
	return nil
}
