package logs

import (
	"bytes"
	"errors"
	"time"
	"unicode/utf8"
)

// Format is the on-disk format of a log file, detected from its first line.
type Format uint8

// Formats of container and plain log files.
const (
	FormatUnknown Format = iota // not detected yet (empty file)
	FormatPlain                 // one line per entry, no envelope
	FormatCRI                   // containerd/CRI-O: "<time> <stream> <P|F> <msg>"
	FormatDocker                // Docker json-file: {"log":"...","stream":"...","time":"..."}
)

func (f Format) String() string {
	switch f {
	case FormatPlain:
		return "plain"
	case FormatCRI:
		return "cri"
	case FormatDocker:
		return "docker"
	}
	return "unknown"
}

// Stream is the output stream a container line was written to.
type Stream uint8

// Streams; StreamNone for plain files.
const (
	StreamNone Stream = iota
	StreamStdout
	StreamStderr
)

func (s Stream) String() string {
	switch s {
	case StreamStdout:
		return "stdout"
	case StreamStderr:
		return "stderr"
	}
	return ""
}

// Piece is one parsed line of a container log: a whole message or, when
// Partial, a piece the runtime split off a longer one (16 KiB by default)
// that continues on the next line of the same stream.
type Piece struct {
	Time    time.Time
	Stream  Stream
	Partial bool
	// Msg aliases the input line (CRI) or the caller's buffer (Docker);
	// it is valid until either is reused. The trailing newline is removed.
	Msg []byte
}

// Detect tells the format of a file from its first complete line.
func Detect(line []byte) Format {
	var p Piece
	if len(line) > 0 && line[0] == '{' {
		if _, err := ParseDocker(line, nil, &p); err == nil {
			return FormatDocker
		}
		return FormatPlain
	}
	if ParseCRI(line, &p) == nil {
		return FormatCRI
	}
	return FormatPlain
}

// Errors of the container line parsers. The line is then shipped as it is
// (nothing is lost) and counted.
var (
	ErrCRI    = errors.New("not a CRI log line")
	ErrDocker = errors.New("not a Docker json-file log line")
)

// ParseCRI parses a CRI log line into p without allocating. p.Msg aliases
// line.
func ParseCRI(line []byte, p *Piece) error {
	line = trimEOL(line)
	sp := bytes.IndexByte(line, ' ')
	if sp < 20 || sp > 40 {
		return ErrCRI
	}
	t, err := parseTime(line[:sp])
	if err != nil {
		return ErrCRI
	}
	rest := line[sp+1:]
	switch {
	case bytes.HasPrefix(rest, []byte("stdout ")):
		p.Stream, rest = StreamStdout, rest[7:]
	case bytes.HasPrefix(rest, []byte("stderr ")):
		p.Stream, rest = StreamStderr, rest[7:]
	default:
		return ErrCRI
	}
	// The tag field: "P" or "F", possibly followed by more ':'-separated
	// tags in future runtimes. Only the first one is defined.
	sp = bytes.IndexByte(rest, ' ')
	tags := rest
	if sp >= 0 {
		tags, rest = rest[:sp], rest[sp+1:]
	} else {
		rest = rest[len(rest):] // empty message: "... stdout F"
	}
	if len(tags) == 0 || (len(tags) > 1 && tags[1] != ':') {
		return ErrCRI
	}
	switch tags[0] {
	case 'P':
		p.Partial = true
	case 'F':
		p.Partial = false
	default:
		return ErrCRI
	}
	p.Time, p.Msg = t, rest
	return nil
}

// ParseDocker parses a Docker json-file line into p. The unescaped message
// is appended to buf[:0], which is returned for reuse, so steady-state
// parsing does not allocate. A "log" value without a trailing newline is a
// partial piece.
func ParseDocker(line, buf []byte, p *Piece) ([]byte, error) {
	line = trimEOL(line)
	if len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' {
		return buf, ErrDocker
	}
	i := 1
	var haveLog bool
	var tsRaw []byte
	p.Stream = StreamNone
	buf = buf[:0]
	for {
		i = skipWS(line, i)
		if i >= len(line) {
			return buf, ErrDocker
		}
		if line[i] == '}' {
			break
		}
		if line[i] != '"' {
			return buf, ErrDocker
		}
		kEnd := bytes.IndexByte(line[i+1:], '"')
		if kEnd < 0 {
			return buf, ErrDocker
		}
		key := line[i+1 : i+1+kEnd]
		i = skipWS(line, i+2+kEnd)
		if i >= len(line) || line[i] != ':' {
			return buf, ErrDocker
		}
		i = skipWS(line, i+1)
		if i >= len(line) || line[i] != '"' {
			// Only string values are defined; skip others (attrs objects
			// are possible with --log-opt labels).
			j, ok := skipValue(line, i)
			if !ok {
				return buf, ErrDocker
			}
			i = j
		} else {
			var ok bool
			var val []byte
			var j int
			switch string(key) {
			case "log":
				buf, j, ok = unquote(line, i, buf)
				haveLog = ok
			default:
				val, j, ok = rawString(line, i)
				switch string(key) {
				case "stream":
					switch string(val) {
					case "stdout":
						p.Stream = StreamStdout
					case "stderr":
						p.Stream = StreamStderr
					}
				case "time":
					tsRaw = val
				}
			}
			if !ok {
				return buf, ErrDocker
			}
			i = j
		}
		i = skipWS(line, i)
		if i < len(line) && line[i] == ',' {
			i++
			continue
		}
		if i < len(line) && line[i] == '}' {
			break
		}
		return buf, ErrDocker
	}
	if !haveLog {
		return buf, ErrDocker
	}
	p.Time = time.Time{}
	if tsRaw != nil {
		t, err := parseTime(tsRaw)
		if err != nil {
			return buf, ErrDocker
		}
		p.Time = t
	}
	p.Partial = true
	if n := len(buf); n > 0 && buf[n-1] == '\n' {
		p.Partial = false
		buf = buf[:n-1]
		if n := len(buf); n > 0 && buf[n-1] == '\r' {
			buf = buf[:n-1]
		}
	}
	p.Msg = buf
	return buf, nil
}

func skipWS(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t') {
		i++
	}
	return i
}

// skipValue skips a non-string JSON value (number, literal, object or
// array, possibly nested, strings inside honoured).
func skipValue(b []byte, i int) (int, bool) {
	depth := 0
	for i < len(b) {
		switch c := b[i]; c {
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return i, true
			}
			depth--
			if depth == 0 {
				return i + 1, true
			}
		case ',':
			if depth == 0 {
				return i, true
			}
		case '"':
			_, j, ok := rawString(b, i)
			if !ok {
				return 0, false
			}
			i = j
			continue
		}
		i++
	}
	return 0, false
}

// rawString returns the content of the JSON string starting at b[i]=='"'
// without unescaping it, and the index after its closing quote.
func rawString(b []byte, i int) ([]byte, int, bool) {
	for j := i + 1; j < len(b); j++ {
		switch b[j] {
		case '\\':
			j++
		case '"':
			return b[i+1 : j], j + 1, true
		}
	}
	return nil, 0, false
}

// unquote appends the unescaped JSON string starting at b[i]=='"' to dst.
func unquote(b []byte, i int, dst []byte) ([]byte, int, bool) {
	j := i + 1
	for j < len(b) {
		// Copy the run up to the next quote or backslash at once.
		k := j
		for k < len(b) && b[k] != '"' && b[k] != '\\' {
			k++
		}
		dst = append(dst, b[j:k]...)
		if k >= len(b) {
			return dst, 0, false
		}
		if b[k] == '"' {
			return dst, k + 1, true
		}
		if k+1 >= len(b) {
			return dst, 0, false
		}
		switch c := b[k+1]; c {
		case '"', '\\', '/':
			dst = append(dst, c)
			j = k + 2
		case 'n':
			dst, j = append(dst, '\n'), k+2
		case 't':
			dst, j = append(dst, '\t'), k+2
		case 'r':
			dst, j = append(dst, '\r'), k+2
		case 'b':
			dst, j = append(dst, '\b'), k+2
		case 'f':
			dst, j = append(dst, '\f'), k+2
		case 'u':
			r, ok := hex4(b, k+2)
			if !ok {
				return dst, 0, false
			}
			j = k + 6
			if utf8.RuneLen(r) < 0 || (r >= 0xD800 && r < 0xE000) {
				// A surrogate: combine with the low half if it follows.
				if r < 0xDC00 && j+6 <= len(b) && b[j] == '\\' && b[j+1] == 'u' {
					if lo, ok := hex4(b, j+2); ok && lo >= 0xDC00 && lo < 0xE000 {
						r = (r-0xD800)<<10 + (lo - 0xDC00) + 0x10000
						j += 6
					} else {
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			dst = utf8.AppendRune(dst, r)
		default:
			return dst, 0, false
		}
	}
	return dst, 0, false
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	return r, true
}

func trimEOL(b []byte) []byte {
	if n := len(b); n > 0 && b[n-1] == '\n' {
		b = b[:n-1]
		if n := len(b); n > 0 && b[n-1] == '\r' {
			b = b[:n-1]
		}
	}
	return b
}

// parseTime parses an RFC 3339 timestamp with optional fraction, the form
// both runtimes write. The common UTC form "2006-01-02T15:04:05.999999999Z"
// is parsed by hand (time.Parse costs several times more); others fall
// back to time.Parse.
func parseTime(b []byte) (time.Time, error) {
	if len(b) >= 20 && b[len(b)-1] == 'Z' && b[4] == '-' && b[7] == '-' && b[10] == 'T' && b[13] == ':' && b[16] == ':' {
		y, ok1 := digits(b[0:4])
		mo, ok2 := digits(b[5:7])
		d, ok3 := digits(b[8:10])
		h, ok4 := digits(b[11:13])
		mi, ok5 := digits(b[14:16])
		s, ok6 := digits(b[17:19])
		frac := b[19 : len(b)-1]
		ns := 0
		ok7 := true
		if len(frac) > 0 {
			if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
				ok7 = false
			} else {
				n, ok := digits(frac[1:])
				for k := len(frac) - 1; k < 9; k++ {
					n *= 10
				}
				ns, ok7 = n, ok
			}
		}
		if ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && mo >= 1 && mo <= 12 && d >= 1 && d <= 31 && h < 24 && mi < 60 && s < 61 {
			return time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC), nil
		}
	}
	return time.Parse(time.RFC3339Nano, string(b))
}

func digits(b []byte) (int, bool) {
	n := 0
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, len(b) > 0
}
