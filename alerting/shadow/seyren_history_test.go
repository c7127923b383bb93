package shadow

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// historyFixture is testdata/seyren/history.json: checks and alert rows
// in the shapes of Seyren's API (the seyrentest stand-in serves it too).
type historyFixture struct {
	Checks []SeyrenCheck `json:"checks"`
	Alerts []SeyrenAlert `json:"alerts"`
}

func loadHistoryFixture(t *testing.T) historyFixture {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "seyren", "history.json"))
	must(t, err)
	var f historyFixture
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	must(t, d.Decode(&f))
	return f
}

func rowsOf(f historyFixture, checkID string) []SeyrenAlert {
	var out []SeyrenAlert
	for _, a := range f.Alerts {
		if a.CheckID == checkID {
			out = append(out, a)
		}
	}
	return out
}

// t0 is the fixture's first minute: Seyren ran at 17 s past the minute.
var t0 = time.UnixMilli(1764583200000 + 17000).UTC()

func at(min int, sec int) time.Time {
	return t0.Add(time.Duration(min)*time.Minute + time.Duration(sec)*time.Second)
}

// TestSeyrenTimelinesGolden: the fixture histories rebuilt into per-target
// segments, as a golden file (go test -run TestSeyrenTimelinesGolden
// -update rewrites it; read the diff).
func TestSeyrenTimelinesGolden(t *testing.T) {
	f := loadHistoryFixture(t)
	end := at(10, 0)
	got := map[string]History{}
	for _, c := range f.Checks {
		got[c.ID] = BuildHistory(rowsOf(f, c.ID), true, end, time.Minute)
	}
	out, err := json.MarshalIndent(got, "", " ")
	must(t, err)
	golden := filepath.Join("testdata", "seyren", "timelines.golden.json")
	if *update {
		must(t, os.WriteFile(golden, append(out, '\n'), 0o644))
	}
	want, err := os.ReadFile(golden)
	must(t, err)
	if !bytes.Equal(bytes.TrimSpace(want), bytes.TrimSpace(out)) {
		t.Errorf("timelines differ from %s (rerun with -update and read the diff):\n%s", golden, out)
	}
}

// TestSeyrenCheckAt: the state Seyren was in at an instant, from its rows
// alone.
func TestSeyrenCheckAt(t *testing.T) {
	f := loadHistoryFixture(t)
	end := at(10, 0)
	hist := func(id string, complete bool) History {
		return BuildHistory(rowsOf(f, id), complete, end, time.Minute)
	}
	for _, tc := range []struct {
		name     string
		check    string
		complete bool
		at       time.Time
		want     State
		why      string
	}{
		{"before any row, history complete: OK", "queue", true, at(0, -1), OK, ""},
		{"before any row, history cut: unknown", "queue", false, at(0, -1), Unknown, SeyrenHistoryMissing},
		{"the OK->WARN row itself", "queue", true, at(0, 0), Warn, ""},
		{"a WARN run written every minute holds between rows", "queue", true, at(1, 30), Warn, ""},
		{"worst over targets: web2 ERROR, web1 WARN", "queue", true, at(2, 30), Error, ""},
		{"ERROR still certain one interval after its last row", "queue", true, at(3, 59), Error, ""},
		{"a gap in web2's ERROR run: unknown, web1 only WARN", "queue", true, at(4, 30), Unknown, SeyrenGap},
		{"web1 back to OK, web2 still in its gap", "queue", true, at(5, 30), Unknown, SeyrenGap},
		{"web2's run resumes", "queue", true, at(7, 10), Error, ""},
		{"after X->OK rows everything is OK", "queue", true, at(8, 10), OK, ""},
		{"OK holds without rows (OK->OK writes nothing)", "queue", true, at(9, 50), OK, ""},
		{"after the history was read: unknown", "queue", true, at(10, 1), Unknown, SeyrenHistoryMissing},
		{"deleted history: the oldest row continues a run", "deleted", true, at(1, 0), Unknown, SeyrenHistoryMissing},
		{"deleted history: known from the oldest row on", "deleted", true, at(4, 0), Warn, ""},
		{"a run's end without an X->OK row: a gap up to the read", "deleted", true, at(7, 0), Unknown, SeyrenGap},
		{"threshold edit: the rows say WARN under the old thresholds", "edited", true, at(1, 0), Warn, ""},
		{"a check without rows is OK", "none", true, at(3, 0), OK, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, why, _ := hist(tc.check, tc.complete).CheckAt(tc.at)
			if got != tc.want || why != tc.why {
				t.Errorf("at %s: %s (%q), want %s (%q)", tc.at.Format(time.TimeOnly), got, why, tc.want, tc.why)
			}
		})
	}
	// The thresholds of the rows are kept: the edit is visible.
	_, _, segs := hist("edited", true).CheckAt(at(1, 0))
	th, err := ParseThresholds("150", "300")
	must(t, err)
	if len(segs) != 1 || sameThresholds(segs[0], th) {
		t.Errorf("edited at m1: segments %+v, want one under the old thresholds 100/200", segs)
	}
	_, _, segs = hist("edited", true).CheckAt(at(5, 0))
	if len(segs) != 1 || !sameThresholds(segs[0], th) {
		t.Errorf("edited at m5: segments %+v, want one under the current thresholds 150/300", segs)
	}
}

func TestSeyrenPhase(t *testing.T) {
	f := loadHistoryFixture(t)
	if p := Phase(f.Alerts, time.Minute); p != 17*time.Second {
		t.Errorf("phase %s, want 17s (the fixture's rows at :17 with up to 160 ms of jitter)", p)
	}
	if p := Phase(nil, time.Minute); p != -1 {
		t.Errorf("phase without rows %s, want -1", p)
	}
}
