package storagetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

// recorder is a testing.TB that records how a helper stopped the test.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *recorder) Skipf(format string, args ...any)  { r.skip = fmt.Sprintf(format, args...) }

func TestNeedSkipsLocallyAndFailsUnderCI(t *testing.T) {
	missing := errors.New("exec: \"amtool\": executable file not found in $PATH")
	for _, tt := range []struct {
		ci          string
		err         error
		fatal, skip bool
	}{
		{"true", missing, true, false},
		{"", missing, false, true},
		{"false", missing, false, true},
		{"true", nil, false, false},
		{"", nil, false, false},
	} {
		t.Setenv("CI", tt.ci)
		r := &recorder{TB: t}
		Need(r, "amtool", "bash .ci/deps.d/routing.sh", tt.err)
		if (r.fatal != "") != tt.fatal || (r.skip != "") != tt.skip {
			t.Errorf("CI=%q err=%v: fatal %q, skip %q", tt.ci, tt.err, r.fatal, r.skip)
		}
		for _, msg := range []string{r.fatal, r.skip} {
			if msg != "" && (!strings.Contains(msg, "amtool") || !strings.Contains(msg, ".ci/deps.d/routing.sh")) {
				t.Errorf("message %q does not say what is missing and how to get it", msg)
			}
		}
	}
}
