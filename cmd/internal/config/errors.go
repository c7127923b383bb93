package config

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Error is one problem found in a config file. It carries the position
// separately from the text so that tools (an editor integration, `copenhagen
// check config`) can point at the line without parsing the message.
type Error struct {
	File string // file name as given to Load or Parse; may be empty
	Line int    // 1-based line; 0 when the problem has no position in the file
	Key  string // full dotted key, e.g. "statsd.relay[1]"; empty for the whole document
	Msg  string // the message without the position prefix
}

func (e *Error) Error() string {
	return location(e.File, e.Line) + e.Msg
}

// location renders the "file:line: " prefix, degrading gracefully when the
// input has no name (Parse called with "") or the problem has no line.
func location(file string, line int) string {
	switch {
	case file != "" && line > 0:
		return file + ":" + strconv.Itoa(line) + ": "
	case file != "":
		return file + ": "
	case line > 0:
		return "line " + strconv.Itoa(line) + ": "
	}
	return ""
}

// ErrorList is every problem found in one config file. Load and Parse return
// all of them at once, ordered by line, because fixing a config one error per
// restart is miserable.
type ErrorList []*Error

// Error renders one problem per line.
func (l ErrorList) Error() string {
	var b strings.Builder
	for i, e := range l {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(e.Error())
	}
	return b.String()
}

// Unwrap lets errors.As find an individual *Error.
func (l ErrorList) Unwrap() []error {
	errs := make([]error, len(l))
	for i, e := range l {
		errs[i] = e
	}
	return errs
}

// sortByLine orders problems as they appear in the file; problems without a
// line go last. The sort is stable so that problems on one line keep the
// order they were found in.
func (l ErrorList) sortByLine() {
	slices.SortStableFunc(l, func(a, b *Error) int {
		return lineKey(a.Line) - lineKey(b.Line)
	})
}

func lineKey(line int) int {
	if line <= 0 {
		return int(^uint(0) >> 2) // after every real line, without overflow in the subtraction
	}
	return line
}

// FieldError is returned by a Validate method to blame one field of its
// struct rather than the struct as a whole; the decoder then reports the
// field's own line and full key. Field is the yaml name relative to the
// struct and may go deeper ("relay[2]", "tls.ca_file").
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }
func (e *FieldError) Unwrap() error { return e.Err }

// Fieldf is a shorthand for a *FieldError with a formatted message.
func Fieldf(field, format string, args ...any) error {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// flattenErrors expands errors.Join trees so that each Validate problem gets
// its own line in the report.
func flattenErrors(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flattenErrors(e)...)
		}
		return out
	}
	return []error{err}
}
