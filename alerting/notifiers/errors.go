package notifiers

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/notify"
)

// bodyMarkers are where Alertmanager's notifiers start quoting the
// receiver's response in an error: everything after them is the body
// (notify.Retrier.Check, the Slack notifier). The dispatcher logs these
// errors at every attempt, so a receiver (or a proxy in front of it) that
// echoes the request would put the webhook URL and tokens into the log.
var bodyMarkers = []string{
	"unexpected status code ",                 // "unexpected status code 500: <body>"
	"could not unmarshal JSON response ",      // "... %q: %w"
	"received an error response from Slack: ", // "<body>"
	"error response from Slack: ",             // "<error field of the body>"
}

// SanitizeError is err with the receiver's response body cut out: the
// status code stays (and a Slack error code, a short word), the body is
// reported by its length only. Other errors pass unchanged; the log
// handler still redacts known secrets in them.
func SanitizeError(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, m := range bodyMarkers {
		i := strings.Index(msg, m)
		if i < 0 {
			continue
		}
		head, rest := msg[:i+len(m)], msg[i+len(m):]
		if m == "unexpected status code " {
			code, body, _ := strings.Cut(rest, ":")
			if body == "" {
				return err
			}
			return &sanitized{msg: fmt.Sprintf("%s%s (response body of %d bytes not logged)", head, code, len(strings.TrimSpace(body))), err: err}
		}
		if m == "error response from Slack: " && len(rest) <= 64 && !strings.ContainsAny(rest, " /\"{}:") {
			return err // a Slack error code such as invalid_token
		}
		return &sanitized{msg: fmt.Sprintf("%s (response body of %d bytes not logged)", strings.TrimRight(head, ": "), len(rest)), err: err}
	}
	return err
}

// sanitized keeps the original error reachable for errors.Is/As (the
// notify.ErrorWithReason a pipeline counts by) but shows the short text.
type sanitized struct {
	msg string
	err error
}

func (s *sanitized) Error() string { return s.msg }
func (s *sanitized) Unwrap() error { return s.err }

// Sanitizing wraps a notifier so that its errors go through
// SanitizeError before the pipeline logs them.
type Sanitizing struct{ notify.Notifier }

// Notify implements notify.Notifier.
func (s Sanitizing) Notify(ctx context.Context, alerts ...*alert.Alert) notify.NotifyVerdict {
	v := s.Notifier.Notify(ctx, alerts...)
	err := v.Err()
	if err == nil {
		return v
	}
	clean := SanitizeError(err)
	if clean == err {
		return v
	}
	if v.ShouldRetry() {
		return notify.Retry(v.Delay(), clean, v.Reason())
	}
	return notify.Unrecoverable(clean, v.Reason())
}
