package convert

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/copenhagen-obs/copenhagen/dashboards/schema"
	"github.com/copenhagen-obs/copenhagen/translate/graphiteql"
	"github.com/copenhagen-obs/copenhagen/translate/names"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func testResolver(t testing.TB) *graphiteql.Resolver {
	t.Helper()
	sm, err := names.Load(filepath.Join("testdata", "statsd_mapping.yml"))
	if err != nil {
		t.Fatal(err)
	}
	gm, err := names.Load(filepath.Join("testdata", "graphite_mapping.yml"))
	if err != nil {
		t.Fatal(err)
	}
	return graphiteql.NewResolver(sm, gm, graphiteql.DefaultOptions())
}

// Golden conversions of dashboards of several Grafana eras. Each output
// must equal its golden file, pass Grafana's schemas, have every PromQL
// parse, and keep every field the conversion does not own.
func TestGolden(t *testing.T) {
	ins, err := filepath.Glob(filepath.Join("testdata", "in", "*.json"))
	if err != nil || len(ins) == 0 {
		t.Fatalf("no inputs: %v", err)
	}
	r := testResolver(t)
	for _, in := range ins {
		base := strings.TrimSuffix(filepath.Base(in), ".json")
		t.Run(base, func(t *testing.T) {
			data, err := os.ReadFile(in)
			if err != nil {
				t.Fatal(err)
			}
			out, rep, err := Convert(data, Options{Resolver: r})
			if err != nil {
				t.Fatal(err)
			}
			repJSON, _ := json.MarshalIndent(rep, "", "  ")
			repJSON = append(repJSON, '\n')
			golden := filepath.Join("testdata", "golden", base+".json")
			goldenRep := filepath.Join("testdata", "golden", base+".report.json")
			if *update {
				os.WriteFile(golden, out, 0o644)
				os.WriteFile(goldenRep, repJSON, 0o644)
			}
			want, _ := os.ReadFile(golden)
			if !bytes.Equal(out, want) {
				t.Errorf("output differs from %s (go test -update to accept):\n%s", golden, out)
			}
			wantRep, _ := os.ReadFile(goldenRep)
			if !bytes.Equal(repJSON, wantRep) {
				t.Errorf("report differs from %s:\n%s", goldenRep, repJSON)
			}
			if err := schema.Validate(out); err != nil {
				t.Errorf("output fails Grafana's schema: %v", err)
			}
			again, _, err := Convert(data, Options{Resolver: r})
			if err != nil || !bytes.Equal(again, out) {
				t.Errorf("conversion is not deterministic")
			}
			checkPromQL(t, out)
			t.Logf("%s: %v", base, rep.Counts)
		})
	}
}

// checkPromQL parses every expr of the output with Prometheus's parser.
func checkPromQL(t *testing.T, out []byte) {
	t.Helper()
	var d any
	if err := json.Unmarshal(out, &d); err != nil {
		t.Fatal(err)
	}
	n := 0
	var walk func(x any)
	walk = func(x any) {
		switch v := x.(type) {
		case map[string]any:
			for k, y := range v {
				if k == "expr" {
					s, _ := y.(string)
					n++
					if err := graphiteql.CheckPromQL(s); err != nil {
						t.Errorf("PromQL %q does not parse: %v", s, err)
					}
				}
				if k == "query" {
					if q, ok := y.(map[string]any); ok {
						if s, _ := q["query"].(string); strings.HasPrefix(s, "label_values(") {
							sel := strings.TrimSuffix(strings.TrimPrefix(s, "label_values("), ")")
							sel = sel[:strings.LastIndex(sel, ",")]
							if err := graphiteql.CheckPromQL(sel); err != nil {
								t.Errorf("variable selector %q does not parse: %v", sel, err)
							}
						}
					}
				}
				walk(y)
			}
		case []any:
			for _, y := range v {
				walk(y)
			}
		}
	}
	walk(d)
	if n == 0 {
		t.Errorf("no PromQL in the output")
	}
}
