package seyren

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/copenhagen-obs/copenhagen/dashboards/board"
	"github.com/copenhagen-obs/copenhagen/dashboards/schema"
)

// The import writes one TV board per team with a tile per enabled check
// that has rules, on the check's value and alert, valid for Grafana; a
// new import removes the board of a team that has no checks left, and
// leaves the user's own dashboards alone.
func TestImportWritesTeamBoards(t *testing.T) {
	opts := fixtureOptions()
	opts.Teams = map[string]string{
		"5a1f00000000000000000001": "catalog", "5a1f00000000000000000002": "catalog",
		"5a1f00000000000000000003": "thumbnails",
	}
	checks := loadFixture(t)
	out, err := Import(checks, opts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{} // board -> check ids
	for _, r := range out.Report.Checks {
		if r.Status == StatusTranslated || r.Status == StatusPartial {
			want[BoardFile(r.Team)] = append(want[BoardFile(r.Team)], r.ID)
		}
	}
	if len(want["dashboards/catalog-tv.json"]) != 2 || len(want["dashboards/thumbnails-tv.json"]) != 1 {
		t.Fatalf("fixture changed: %v", want)
	}
	var got []string
	for _, f := range out.Files {
		if filepath.Dir(f.Path) != BoardsDir {
			continue
		}
		got = append(got, f.Path)
		if err := schema.Validate(f.Data); err != nil {
			t.Errorf("%s: %v", f.Path, err)
		}
		var d struct {
			Panels []struct {
				Title   string
				Targets []struct{ Expr string }
			}
		}
		if err := json.Unmarshal(f.Data, &d); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, p := range d.Panels {
			for _, c := range checks {
				if p.Title == c.Name && len(p.Targets) == 2 && p.Targets[0].Expr != "" && p.Targets[1].Expr != "" {
					ids = append(ids, c.ID)
				}
			}
		}
		slices.Sort(ids)
		w := slices.Clone(want[f.Path])
		slices.Sort(w)
		if !slices.Equal(ids, w) {
			t.Errorf("%s: tiles of %v, want the team's enabled translated checks %v", f.Path, ids, w)
		}
	}
	if len(got) != len(want) {
		t.Errorf("boards %v, want one per team with checks: %v", got, want)
	}

	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, BoardsDir), 0o755))
	gone := filepath.Join(dir, BoardFile("gone"))
	mine := filepath.Join(dir, BoardsDir, "mine-tv.json")
	stale, err := board.Team("gone", nil, board.Options{})
	must(err)
	must(os.WriteFile(gone, stale, 0o644))
	must(os.WriteFile(mine, []byte(`{"title":"my own","tags":["tv"]}`), 0o644))
	must(out.Write(dir))
	if _, err := os.Stat(gone); !os.IsNotExist(err) {
		t.Errorf("the board of a team without checks was kept: %v", err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("a user's dashboard was removed: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "dashboards/catalog-tv.json")); err != nil {
		t.Error(err)
	}
}
