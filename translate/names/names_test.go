package names

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestMap(t *testing.T) {
	m, err := Load(filepath.Join("testdata", "good.yml"))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name   string
		typ    MetricType
		want   string
		labels map[string]string
		drop   bool
		mapped bool
	}{
		{"api.shop.get.response_time", Observer, "api_response_time_seconds", map[string]string{"app": "shop", "route": "get"}, false, true},
		{"app.debug.x", Counter, "", nil, true, true},
		{"jobs.import.done", Counter, "jobs_done_total", map[string]string{"job": "import"}, false, true},
		// match_metric_type: counter does not match a gauge: escaped instead.
		{"jobs.import.done", Gauge, "jobs_import_done", nil, false, false},
		{"unmapped.name-with.dash", Counter, "unmapped_name_with_dash", nil, false, false},
		{"1st.metric", Counter, "_1st_metric", nil, false, false},
	}
	for _, c := range cases {
		r := m.Map(c.name, c.typ)
		if r.Name != c.want || r.Drop != c.drop || r.Mapped() != c.mapped {
			t.Errorf("Map(%q, %s) = name %q drop %v mapped %v; want %q %v %v", c.name, c.typ, r.Name, r.Drop, r.Mapped(), c.want, c.drop, c.mapped)
		}
		if len(c.labels) > 0 && !reflect.DeepEqual(r.Labels, c.labels) {
			t.Errorf("Map(%q) labels = %v, want %v", c.name, r.Labels, c.labels)
		}
	}
}

func TestParseErrorsNameFileAndLine(t *testing.T) {
	cases := []struct{ file, want string }{
		{"bad_match.yml", `testdata/bad_match.yml:4: mappings[1] (match "bad..match"): invalid match: bad..match`},
		{"unknown_key.yml", `testdata/unknown_key.yml:4: field lables not found`},
		{"bad_regex.yml", `testdata/bad_regex.yml:4: mappings[1] (match "(unclosed"): invalid regex (unclosed`},
	}
	for _, c := range cases {
		_, err := Load(filepath.Join("testdata", c.file))
		if err == nil {
			t.Fatalf("%s: no error", c.file)
		}
		if !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s:\n got %s\nwant prefix %s", c.file, err, c.want)
		}
	}
}

func TestEmptyEscapesEverything(t *testing.T) {
	r := Empty().Map("a.b-c", Counter)
	if r.Name != "a_b_c" || r.Mapped() {
		t.Fatalf("got %+v", r)
	}
}
