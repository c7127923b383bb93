package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestTranslateNameShowsNativeLayout: `copenhagen translate name` says
// when a timer becomes a native histogram (and its schema), and which
// classic buckets are kept beside it, so a mapping can be checked before
// it changes the series.
func TestTranslateNameShowsNativeLayout(t *testing.T) {
	mapping := filepath.Join(t.TempDir(), "mapping.yml")
	if err := os.WriteFile(mapping, []byte(`mappings:
- match: api.*.response_time
  observer_type: histogram
  name: api_response_time_seconds
  labels: {route: "$1"}
  histogram_options:
    native_histogram_bucket_factor: 1.1
- match: both.*
  observer_type: histogram
  name: both_$1
  histogram_options:
    buckets: [0.1, 1]
    native_histogram_bucket_factor: 2
- match: classic.*
  observer_type: histogram
  name: classic_$1
`), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ name, want string }{
		{"api.get.response_time", `api.get.response_time (ms) -> api_response_time_seconds{route="get"} histogram, native (schema 3), value /1000 (ms to seconds) (rule match "api.*.response_time")` + "\n"},
		{"both.x", `both.x (ms) -> both_x histogram, native (schema 0) and classic buckets [0.1 1], value /1000 (ms to seconds) (rule match "both.*")` + "\n"},
		{"classic.x", `classic.x (ms) -> classic_x histogram, value /1000 (ms to seconds) (rule match "classic.*")` + "\n"},
	} {
		var out, errs bytes.Buffer
		if code := translateNames(mapping, "ms", []string{tt.name}, &out, &errs); code != 0 {
			t.Fatalf("%s: exit %d: %s", tt.name, code, errs.String())
		}
		if out.String() != tt.want {
			t.Errorf("got  %q\nwant %q", out.String(), tt.want)
		}
	}
}
