package notifiers

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/prometheus/alertmanager/alert"
	"github.com/prometheus/alertmanager/notify"
)

func TestSanitizeError(t *testing.T) {
	body := `{"echo":"POST /services/T000/B000/XXXX token=abc123"}`
	tests := []struct{ in, want string }{
		{"unexpected status code 500: " + body, "unexpected status code 500 (response body of 53 bytes not logged)"},
		{`channel "#ops": unexpected status code 404: ` + body, `channel "#ops": unexpected status code 404 (response body of 53 bytes not logged)`},
		{"unexpected status code 500", "unexpected status code 500"},
		{`could not unmarshal JSON response "` + body + `": invalid character`, "could not unmarshal JSON response (response body of"},
		{"received an error response from Slack: " + body, "received an error response from Slack (response body of 53 bytes not logged)"},
		{"error response from Slack: invalid_token", "error response from Slack: invalid_token"},
		{"error response from Slack: " + body, "error response from Slack (response body of"},
		{"Post \"<redacted>\": dial tcp: connection refused", "Post \"<redacted>\": dial tcp: connection refused"},
	}
	for _, tt := range tests {
		got := SanitizeError(errors.New(tt.in)).Error()
		if !strings.HasPrefix(got, tt.want) || strings.Contains(got, "XXXX") {
			t.Errorf("SanitizeError(%q) = %q, want %q...", tt.in, got, tt.want)
		}
	}
}

type codeError struct{ error }

type failing struct{ v notify.NotifyVerdict }

func (f failing) Notify(context.Context, ...*alert.Alert) notify.NotifyVerdict { return f.v }

// The verdict keeps retry, delay and reason; errors.As still finds the
// original error.
func TestSanitizingKeepsTheVerdict(t *testing.T) {
	orig := &codeError{errors.New("unexpected status code 503: secret-echo")}
	v := Sanitizing{failing{notify.Retry(0, orig, notify.ServerErrorReason)}}.Notify(context.Background())
	if !v.ShouldRetry() || v.Reason() != notify.ServerErrorReason || strings.Contains(v.Err().Error(), "secret-echo") {
		t.Fatalf("verdict: retry %v reason %v err %v", v.ShouldRetry(), v.Reason(), v.Err())
	}
	var ce *codeError
	if !errors.As(v.Err(), &ce) {
		t.Fatal("the original error is not reachable")
	}
	v = Sanitizing{failing{notify.Unrecoverable(errors.New("unexpected status code 400: x"), notify.ClientErrorReason)}}.Notify(context.Background())
	if v.ShouldRetry() || v.Reason() != notify.ClientErrorReason {
		t.Fatalf("unrecoverable verdict changed: %v %v", v.ShouldRetry(), v.Reason())
	}
}

func FuzzSanitizeError(f *testing.F) {
	for _, s := range []string{"unexpected status code 500: x", "unexpected status code ", "error response from Slack: ", "could not unmarshal JSON response "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = SanitizeError(errors.New(s)).Error()
	})
}
