package logs

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func TestParseCRI(t *testing.T) {
	ts := time.Date(2026, 11, 26, 5, 0, 1, 123456789, time.UTC)
	cases := []struct {
		line    string
		err     bool
		stream  Stream
		partial bool
		msg     string
		time    time.Time
	}{
		{line: "2026-11-26T05:00:01.123456789Z stdout F hello world\n", stream: StreamStdout, msg: "hello world", time: ts},
		{line: "2026-11-26T05:00:01.123456789Z stderr P piece ", stream: StreamStderr, partial: true, msg: "piece ", time: ts},
		{line: "2026-11-26T05:00:01.123456789Z stdout F", stream: StreamStdout, msg: "", time: ts},
		{line: "2026-11-26T05:00:01.123456789Z stdout F:x future tags", stream: StreamStdout, msg: "future tags", time: ts},
		{line: "2026-11-26T05:00:01.1Z stdout F short fraction", stream: StreamStdout, msg: "short fraction", time: ts.Truncate(time.Second).Add(100 * time.Millisecond)},
		{line: "2026-11-26T06:00:01.123456789+01:00 stdout F offset", stream: StreamStdout, msg: "offset", time: ts},
		{line: "2026-11-26T05:00:01Z stdout F  two spaces", stream: StreamStdout, msg: " two spaces", time: ts.Truncate(time.Second)},
		{line: "not a cri line at all", err: true},
		{line: "2026-11-26T05:00:01.123456789Z stdin F x", err: true},
		{line: "2026-11-26T05:00:01.123456789Z stdout X x", err: true},
		{line: "2026-13-26T05:00:01.123456789Z stdout F x", err: true},
	}
	for _, c := range cases {
		var p Piece
		err := ParseCRI([]byte(c.line), &p)
		if (err != nil) != c.err {
			t.Errorf("%q: err %v", c.line, err)
			continue
		}
		if c.err {
			continue
		}
		if p.Stream != c.stream || p.Partial != c.partial || string(p.Msg) != c.msg || !p.Time.Equal(c.time) {
			t.Errorf("%q: got %v %v %q %v", c.line, p.Stream, p.Partial, p.Msg, p.Time)
		}
	}
}

func TestParseDocker(t *testing.T) {
	cases := []struct {
		line    string
		err     bool
		stream  Stream
		partial bool
		msg     string
	}{
		{line: `{"log":"hello\n","stream":"stdout","time":"2026-11-26T05:00:01.123456789Z"}`, stream: StreamStdout, msg: "hello"},
		{line: `{"log":"piece","stream":"stderr","time":"2026-11-26T05:00:01.123456789Z"}`, stream: StreamStderr, partial: true, msg: "piece"},
		{line: `{"log":"tab\there \"q\" \\ \u00e9 \ud83d\ude00 \/\r\n","stream":"stdout","time":"2026-11-26T05:00:01Z"}`, stream: StreamStdout, msg: "tab\there \"q\" \\ é 😀 /"},
		{line: `{"stream":"stdout","attrs":{"a":"b","n":[1,2]},"log":"x\n","time":"2026-11-26T05:00:01Z"}`, stream: StreamStdout, msg: "x"},
		{line: `{ "log" : "spaces\n" , "stream" : "stdout" }`, stream: StreamStdout, msg: "spaces"},
		{line: `{"log":"bad \ud800 lone\n"}`, msg: "bad \uFFFD lone"},
		{line: `{"stream":"stdout"}`, err: true},
		{line: `{"log":"unterminated}`, err: true},
		{line: `{"log":"x\n","time":"yesterday"}`, err: true},
		{line: `{"log":"bad escape \q"}`, err: true},
		{line: `plain text`, err: true},
	}
	var buf []byte
	for _, c := range cases {
		var p Piece
		var err error
		buf, err = ParseDocker([]byte(c.line), buf, &p)
		if (err != nil) != c.err {
			t.Errorf("%s: err %v", c.line, err)
			continue
		}
		if c.err {
			continue
		}
		if p.Stream != c.stream || p.Partial != c.partial || string(p.Msg) != c.msg {
			t.Errorf("%s: got %v %v %q", c.line, p.Stream, p.Partial, p.Msg)
		}
	}
}

func TestDetect(t *testing.T) {
	for line, want := range map[string]Format{
		"2026-11-26T05:00:01.123456789Z stdout F hello":                   FormatCRI,
		`{"log":"x\n","stream":"stdout","time":"2026-11-26T05:00:01Z"}`:   FormatDocker,
		`{"level_name":"ERROR","message":"monolog"}`:                      FormatPlain,
		`127.0.0.1 - - [26/Nov/2026:05:00:01 +0000] "GET / HTTP/1.1" 200`: FormatPlain,
	} {
		if got := Detect([]byte(line)); got != want {
			t.Errorf("Detect(%q) = %v, want %v", line, got, want)
		}
	}
}

func TestLevel(t *testing.T) {
	for msg, want := range map[string]string{
		`{"message":"Payment failed","context":{},"level":400,"level_name":"ERROR","channel":"app"}`: "error",
		`{"level":"warning","msg":"x"}`:                 "warn",
		`ts=2026-11-26 level=info msg="started"`:        "info",
		`time=x lvl=DEBUG msg=y`:                        "debug",
		`msg="no level here" mylevel=error`:             "",
		`level="CRITICAL" msg=x`:                        "critical",
		`PHP Fatal error:  Uncaught Exception in x.php`: "",
		`{"level_name":"NOTICE"}`:                       "info",
		`level=verbose`:                                 "",
	} {
		if got := Level([]byte(msg)); got != want {
			t.Errorf("Level(%q) = %q, want %q", msg, got, want)
		}
	}
}

// FuzzParseCRI checks that no input panics and that an accepted line's
// message is a suffix of it.
func FuzzParseCRI(f *testing.F) {
	f.Add([]byte("2026-11-26T05:00:01.123456789Z stdout F hello\n"))
	f.Add([]byte("2026-11-26T05:00:01Z stderr P x"))
	f.Add([]byte("2026-11-26T06:00:01.1+01:00 stdout F:a:b y"))
	f.Fuzz(func(t *testing.T, line []byte) {
		var p Piece
		if ParseCRI(line, &p) == nil && !bytes.HasSuffix(trimEOL(line), p.Msg) {
			t.Fatalf("message %q is not the end of %q", p.Msg, line)
		}
	})
}

// FuzzParseDocker compares the hand-written unescaping with
// encoding/json on every line both accept.
func FuzzParseDocker(f *testing.F) {
	f.Add([]byte(`{"log":"hello\n","stream":"stdout","time":"2026-11-26T05:00:01.123456789Z"}`))
	f.Add([]byte(`{"log":"\u00e9\ud83d\ude00\t","stream":"stderr"}`))
	f.Add([]byte(`{"attrs":{"a":[1,{"b":"}"}]},"log":"x"}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		var p Piece
		buf, err := ParseDocker(line, nil, &p)
		if err != nil {
			return
		}
		var v struct {
			Log *string `json:"log"`
		}
		if json.Unmarshal(line, &v) != nil || v.Log == nil {
			return // we are more lenient (e.g. duplicate keys, no validation of other values)
		}
		want := *v.Log
		if w, ok := strings.CutSuffix(want, "\n"); ok {
			want = strings.TrimSuffix(w, "\r")
		}
		if !p.Partial && *v.Log != "" && !strings.HasSuffix(*v.Log, "\n") {
			t.Fatalf("partial flag wrong for %q", *v.Log)
		}
		// encoding/json replaces invalid UTF-8 with U+FFFD where we keep
		// the bytes, and treats surrogate escapes slightly differently:
		// compare where neither applies.
		lower := strings.ToLower(string(line))
		if utf8.Valid(line) && !strings.Contains(lower, `\ud`) && string(buf) != want {
			t.Fatalf("message %q, encoding/json says %q", buf, want)
		}
	})
}
