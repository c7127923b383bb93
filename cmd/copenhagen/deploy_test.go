package main

import (
	"strings"
	"testing"
)

// The example configuration shipped in deploy/ must stay valid.
func TestDeployExampleConfigIsValid(t *testing.T) {
	out, errs, code := cli(t, "check", "config", "../../deploy/examples/copenhagen.yml")
	if code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("code %d\n%s%s", code, out, errs)
	}
}
