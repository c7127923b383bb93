package board_test

import (
	"context"
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-foundation-sdk/go/cog/plugins"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	"github.com/prometheus/prometheus/util/teststorage"

	"github.com/copenhagen-obs/copenhagen/dashboards/board"
	"github.com/copenhagen-obs/copenhagen/dashboards/schema"
)

var update = flag.Bool("update", false, "rewrite testdata/*.json")

// checks of the golden board: higher and lower is worse, equal
// thresholds, a long name and one without description.
var checks = []board.Check{
	{ID: "5a1f00000000000000000001", Name: "catalog 500s", Description: "Catalog API answers 500", Warn: 1, Error: 5, WarnText: "1", ErrorText: "5", Link: "https://seyren.example.org/#/checks/5a1f00000000000000000001"},
	{ID: "5a1f00000000000000000002", Name: "catalog get_program p90", Warn: 300, Error: 800, WarnText: "300", ErrorText: "800"},
	{ID: "5a1f00000000000000000007", Name: "catalog free disk percent on the database servers", Description: "lower is worse", Warn: 20, Error: 10, WarnText: "20", ErrorText: "10"},
	{ID: "5a1f00000000000000000010", Name: "catalog heartbeat", Warn: 0.5, Error: 0.5, WarnText: "0.5", ErrorText: "0.5"},
}

type panel struct {
	ID      int `json:"id"`
	Type    string
	GridPos struct{ X, Y, W, H int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	FieldConfig struct {
		Defaults struct {
			Thresholds struct {
				Steps []struct {
					Value *float64 `json:"value"`
					Color string   `json:"color"`
				} `json:"steps"`
			} `json:"thresholds"`
		} `json:"defaults"`
	} `json:"fieldConfig"`
}

type doc struct {
	UID           string   `json:"uid"`
	Tags          []string `json:"tags"`
	Refresh       string   `json:"refresh"`
	SchemaVersion int      `json:"schemaVersion"`
	Editable      bool     `json:"editable"`
	Timepicker    struct {
		Hidden bool `json:"hidden"`
	} `json:"timepicker"`
	Templating struct {
		List []struct {
			Name, Type string
			Hide       int `json:"hide"`
		} `json:"list"`
	} `json:"templating"`
	Panels []panel `json:"panels"`
}

func generate(t *testing.T, team string, cs []board.Check) ([]byte, doc) {
	t.Helper()
	b, err := board.Team(team, cs, board.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var d doc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	return b, d
}

// The board is Grafana's model: Grafana's published JSON schemas accept
// it (dashboard, stat options, each Prometheus query), the SDK reads it
// back strictly, every query parses as PromQL, and it is kiosk-ready.
func TestBoardIsAValidKioskDashboard(t *testing.T) {
	b, d := generate(t, "catalog", checks)
	golden := filepath.Join("testdata", "catalog-tv.json")
	if *update {
		os.MkdirAll("testdata", 0o755)
		os.WriteFile(golden, b, 0o644)
	}
	if want, err := os.ReadFile(golden); err != nil || string(want) != string(b) {
		t.Errorf("board differs from %s (go test -update): %v", golden, err)
	}
	if err := schema.Validate(b); err != nil {
		t.Fatal(err)
	}
	// The SDK's model holds every field of the board: read back (with its
	// panel plugins registered, so options and queries are typed) and
	// written again, it is the same JSON. (v0.0.22's UnmarshalJSONStrict
	// cannot be used: it returns an empty cog.BuildErrors as an error and
	// leaves panels unread.)
	plugins.RegisterDefaultPlugins()
	var sdk dashboard.Dashboard
	if err := json.Unmarshal(b, &sdk); err != nil {
		t.Fatalf("the SDK does not read the board back: %v", err)
	}
	for i, pn := range sdk.Panels {
		if pn.Panel == nil || len(pn.Panel.Targets) != 2 {
			t.Fatalf("the SDK read panel %d back as %+v", i, pn)
		}
		if _, ok := pn.Panel.Options.(*stat.Options); !ok {
			t.Errorf("the SDK read panel %d's options back as %T", i, pn.Panel.Options)
		}
	}
	again, err := json.Marshal(sdk)
	if err != nil {
		t.Fatal(err)
	}
	var x, y any
	json.Unmarshal(b, &x)
	json.Unmarshal(again, &y)
	if !reflect.DeepEqual(x, y) {
		t.Errorf("the SDK's model does not hold the whole board:\n%s\n%s", b, again)
	}
	p := parser.NewParser(parser.Options{})
	for _, pn := range d.Panels {
		if len(pn.Targets) != 2 {
			t.Errorf("panel %d: %d targets", pn.ID, len(pn.Targets))
		}
		for _, tg := range pn.Targets {
			if _, err := p.ParseExpr(tg.Expr); err != nil {
				t.Errorf("panel %d %s: %q: %v", pn.ID, tg.RefID, tg.Expr, err)
			}
		}
	}
	if d.UID != "seyren-tv-catalog" || !board.IsGenerated(b) || d.Refresh == "" || d.Editable || !d.Timepicker.Hidden || d.SchemaVersion != 39 {
		t.Errorf("uid %q tags %v refresh %q editable %v timepicker hidden %v schema %d", d.UID, d.Tags, d.Refresh, d.Editable, d.Timepicker.Hidden, d.SchemaVersion)
	}
	if len(d.Templating.List) != 1 || d.Templating.List[0].Type != "datasource" || d.Templating.List[0].Hide != 2 {
		t.Errorf("templating %+v: want one hidden datasource variable", d.Templating.List)
	}
	if !strings.Contains(string(b), "kiosk&autofitpanels") || !strings.Contains(string(b), "theme=dark") {
		t.Error("the description does not give the kiosk URL")
	}
	if board.IsGenerated([]byte(`{"tags":["tv"]}`)) || board.IsGenerated([]byte(`not json`)) {
		t.Error("IsGenerated on a user's dashboard")
	}
}

// Tiles fill the 24 columns, never overlap, and are large.
func TestLayout(t *testing.T) {
	for _, n := range []int{1, 2, 3, 5, 8, 12, 20, 40, 100} {
		cs := make([]board.Check, n)
		for i := range cs {
			cs[i] = board.Check{ID: string(rune('a'+i%26)) + strings.Repeat("x", i/26), Name: "c", Warn: 1, Error: 2, WarnText: "1", ErrorText: "2"}
		}
		b, d := generate(t, "t", cs)
		if err := schema.Validate(b); err != nil {
			t.Fatalf("%d tiles: %v", n, err)
		}
		if len(d.Panels) != n {
			t.Fatalf("%d panels for %d checks", len(d.Panels), n)
		}
		for i, a := range d.Panels {
			g := a.GridPos
			if g.X < 0 || g.X+g.W > 24 || g.W < 2 || g.H < 3 {
				t.Errorf("%d tiles: panel %d at %+v", n, a.ID, g)
			}
			if n <= 12 && g.H*38 < 250 {
				t.Errorf("%d tiles: panel %d only %d rows high", n, a.ID, g.H)
			}
			for _, o := range d.Panels[i+1:] {
				h := o.GridPos
				if g.X < h.X+h.W && h.X < g.X+g.W && g.Y < h.Y+h.H && h.Y < g.Y+g.H {
					t.Errorf("%d tiles: panels %d and %d overlap", n, a.ID, o.ID)
				}
			}
		}
	}
	if long := board.UID(strings.Repeat("team", 20)); len(long) > 40 || long == board.UID(strings.Repeat("team", 19)) {
		t.Errorf("uid %q", long)
	}
}

// seyrenState is Seyren's verdict (AlertsService): inclusive thresholds,
// lower is worse when warn > error.
func seyrenState(v, warn, crit float64) string {
	if warn > crit {
		switch {
		case v <= crit:
			return "ERROR"
		case v <= warn:
			return "WARN"
		}
		return "OK"
	}
	switch {
	case v >= crit:
		return "ERROR"
	case v >= warn:
		return "WARN"
	}
	return "OK"
}

// grafanaColour is how Grafana picks a threshold colour: the last step
// whose value is <= the value (the first step is -Infinity).
func grafanaColour(steps []struct {
	Value *float64 `json:"value"`
	Color string   `json:"color"`
}, v float64) string {
	c := ""
	for _, s := range steps {
		if s.Value == nil || v >= *s.Value {
			c = s.Color
		}
	}
	return c
}

// The tile's colour is Seyren's state for every value, at and around the
// thresholds, both directions.
func TestThresholdColoursAreSeyrenStates(t *testing.T) {
	_, d := generate(t, "catalog", checks)
	colour := map[string]string{"OK": "#1f6f3a", "WARN": "#f2a900", "ERROR": "#d3202f"}
	for i, c := range checks {
		steps := d.Panels[i].FieldConfig.Defaults.Thresholds.Steps
		for _, base := range []float64{c.Warn, c.Error, 0, -1, 1e6, (c.Warn + c.Error) / 2} {
			for _, v := range []float64{base, math.Nextafter(base, math.Inf(1)), math.Nextafter(base, math.Inf(-1)), base + 0.1, base - 0.1} {
				if got, want := grafanaColour(steps, v), colour[seyrenState(v, c.Warn, c.Error)]; got != want {
					t.Errorf("check %s (warn %v error %v) value %v: colour %s, want %s (%s)", c.Name, c.Warn, c.Error, v, got, want, seyrenState(v, c.Warn, c.Error))
				}
			}
		}
	}
}

// The tile's queries, run by Prometheus's engine over ALERTS and
// seyren_check_value as the rules manager writes them: the value of the
// worst series (NaN, shown grey NO DATA, without one), and the alert
// state: CRITICAL over WARNING over OK, NO DATA when the check has no value.
func TestTileQueries(t *testing.T) {
	_, d := generate(t, "catalog", checks[:3])
	st := teststorage.New(t)
	eng := promql.NewEngine(promql.EngineOpts{MaxSamples: 1e6, Timeout: time.Minute, LookbackDelta: 5 * time.Minute})
	now := time.Now()
	add := func(v float64, ls ...string) {
		app := st.Appender(context.Background())
		if _, err := app.Append(0, labels.FromStrings(ls...), now.UnixMilli(), v); err != nil {
			t.Fatal(err)
		}
		if err := app.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	// Check 1 (higher is worse) has two series, one critical.
	add(2, "__name__", "seyren_check_value", "check_id", checks[0].ID, "route", "a")
	add(7, "__name__", "seyren_check_value", "check_id", checks[0].ID, "route", "b")
	add(1, "__name__", "ALERTS", "alertname", "SeyrenCatalog500s", "alertstate", "firing", "check_id", checks[0].ID, "severity", "critical", "route", "b")
	add(1, "__name__", "ALERTS", "alertname", "SeyrenCatalog500s", "alertstate", "firing", "check_id", checks[0].ID, "severity", "warning", "route", "a")
	// Check 3 (lower is worse) has two series, its warning is pending only.
	add(15, "__name__", "seyren_check_value", "check_id", checks[2].ID, "host", "a")
	add(50, "__name__", "seyren_check_value", "check_id", checks[2].ID, "host", "b")
	add(1, "__name__", "ALERTS", "alertname", "X", "alertstate", "pending", "check_id", checks[2].ID, "severity", "warning", "host", "a")
	// Check 2 has no value at all.
	want := []struct{ value, state float64 }{{7, 2}, {math.NaN(), -1}, {15, 0}}
	for i, w := range want {
		for _, tg := range d.Panels[i].Targets {
			q, err := eng.NewInstantQuery(context.Background(), st, nil, tg.Expr, now)
			if err != nil {
				t.Fatal(err)
			}
			r := q.Exec(context.Background())
			if r.Err != nil {
				t.Fatalf("%s: %v", tg.Expr, r.Err)
			}
			vec, _ := r.Vector()
			if len(vec) != 1 {
				t.Fatalf("%s: %d series, want one value per query: %v", tg.Expr, len(vec), vec)
			}
			got, exp := vec[0].F, w.value
			if tg.RefID == "B" {
				exp = w.state
			}
			if got != exp && !(math.IsNaN(got) && math.IsNaN(exp)) {
				t.Errorf("check %s query %s = %v, want %v", checks[i].Name, tg.RefID, got, exp)
			}
		}
	}
}
