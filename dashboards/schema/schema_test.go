package schema

import (
	"errors"
	"os"
	"strings"
	"testing"
)

const validBoard = `{
  "__inputs": [{"name": "DS_PROMETHEUS", "type": "datasource", "pluginId": "prometheus"}],
  "uid": "x", "title": "x", "schemaVersion": 39,
  "annotations": {"list": []}, "templating": {"list": []},
  "panels": [
    {"type": "row", "id": 1, "collapsed": true, "panels": [
      {"type": "stat", "id": 2, "datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"},
       "targets": [{"refId": "A", "expr": "up"}],
       "options": {"graphMode": "none", "colorMode": "background", "justifyMode": "auto", "textMode": "auto",
         "wideLayout": true, "showPercentChange": false, "percentChangeColorMode": "standard", "orientation": "auto",
         "reduceOptions": {"calcs": ["lastNotNull"]}}}
    ]}
  ]
}`

func TestValidate(t *testing.T) {
	if err := Validate([]byte(validBoard)); err != nil {
		t.Fatalf("valid board: %v", err)
	}
	cases := []struct {
		name, from, to, want string
	}{
		{"stat option not in its enum", `"orientation": "auto"`, `"orientation": ""`, "/panels/0/panels/0/options/orientation"},
		{"prometheus target without expr", `"expr": "up"`, `"exprx": "up"`, "/panels/0/panels/0/targets/0"},
		{"legacy string data source", `"datasource": {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}`, `"datasource": "graphite"`, "/panels/0/panels/0/datasource"},
		{"no annotations", `"annotations": {"list": []},`, ``, "annotations"},
	}
	for _, c := range cases {
		doc := strings.Replace(validBoard, c.from, c.to, 1)
		if doc == validBoard {
			t.Fatalf("%s: replacement did not apply", c.name)
		}
		err := Validate([]byte(doc))
		var errs Errors
		if !errors.As(err, &errs) {
			t.Errorf("%s: %v, want schema errors", c.name, err)
			continue
		}
		if !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want a violation at %s", c.name, err, c.want)
		}
	}
	if err := Validate([]byte(`[1]`)); err == nil || errors.As(err, new(Errors)) {
		t.Errorf("non-object: %v", err)
	}
}

// The legacy Graphite dashboard does not pass: string data sources,
// singlestat/graph options, no annotations.
func TestValidateLegacy(t *testing.T) {
	data, err := os.ReadFile("testdata/legacy-team-catalog-tv.json")
	if err != nil {
		t.Fatal(err)
	}
	err = Validate(data)
	var errs Errors
	if !errors.As(err, &errs) {
		t.Fatalf("legacy dashboard: %v", err)
	}
	for _, want := range []string{"annotations", "/panels/0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("no violation about %s in %v", want, err)
		}
	}
	t.Logf("%v", err)
}

func FuzzValidate(f *testing.F) {
	f.Add([]byte(validBoard))
	f.Add([]byte(`{"panels":[{"type":"row","panels":[{"type":"stat"}]}]}`))
	f.Fuzz(func(t *testing.T, doc []byte) {
		_ = Validate(doc)
	})
}
