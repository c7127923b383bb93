package logs

import "bytes"

// Level returns the normalised severity of a message, or "" when none is
// found. It looks at JSON objects (Monolog's "level_name", then "level",
// "severity") and logfmt lines (level=, lvl=, severity=). The result is one
// of a fixed set of constant strings (trace, debug, info, warn, error,
// critical, fatal), so it costs no allocation and is a bounded value.
func Level(msg []byte) string {
	if len(msg) > 0 && msg[0] == '{' {
		for _, k := range jsonLevelKeys {
			if v, ok := jsonStringField(msg, k); ok {
				return normLevel(v)
			}
		}
		return ""
	}
	for _, k := range logfmtLevelKeys {
		if v, ok := logfmtField(msg, k); ok {
			return normLevel(v)
		}
	}
	return ""
}

var (
	jsonLevelKeys   = [][]byte{[]byte(`"level_name"`), []byte(`"level"`), []byte(`"severity"`)}
	logfmtLevelKeys = [][]byte{[]byte("level="), []byte("lvl="), []byte("severity=")}
)

// jsonStringField finds "key": "value" at any depth (a cheap scan, not a
// parse: good enough for a level, and it never allocates).
func jsonStringField(msg, key []byte) ([]byte, bool) {
	i := bytes.Index(msg, key)
	if i < 0 {
		return nil, false
	}
	j := skipWS(msg, i+len(key))
	if j >= len(msg) || msg[j] != ':' {
		return nil, false
	}
	j = skipWS(msg, j+1)
	if j >= len(msg) || msg[j] != '"' {
		return nil, false
	}
	v, _, ok := rawString(msg, j)
	return v, ok
}

func logfmtField(msg, key []byte) ([]byte, bool) {
	off := 0
	for {
		i := bytes.Index(msg[off:], key)
		if i < 0 {
			return nil, false
		}
		i += off
		if i == 0 || msg[i-1] == ' ' || msg[i-1] == '\t' {
			v := msg[i+len(key):]
			if len(v) > 0 && v[0] == '"' {
				s, _, ok := rawString(v, 0)
				return s, ok
			}
			if e := bytes.IndexAny(v, " \t"); e >= 0 {
				v = v[:e]
			}
			return v, true
		}
		off = i + len(key)
	}
}

func normLevel(v []byte) string {
	if len(v) > 16 {
		return ""
	}
	var lower [16]byte
	for i, c := range v {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	switch string(lower[:len(v)]) {
	case "trace":
		return "trace"
	case "debug", "dbug":
		return "debug"
	case "info", "information", "notice":
		return "info"
	case "warn", "warning":
		return "warn"
	case "error", "err", "eror":
		return "error"
	case "critical", "crit", "alert", "emergency", "emerg":
		return "critical"
	case "fatal", "panic":
		return "fatal"
	}
	return ""
}
