package seyren

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/copenhagen-obs/copenhagen/dashboards/board"
)

// BoardsDir is where the import writes the teams' Grafana TV boards,
// relative to the output directory; deploy/grafana's dashboards provider
// reads it.
const BoardsDir = "dashboards"

// BoardFile is the path of a team's TV board in the output.
func BoardFile(team string) string { return BoardsDir + "/" + team + "-tv.json" }

// tvBoards builds one Grafana TV board per team from its enabled checks
// that have rules (dashboards/board): disabled and untranslated checks
// raise no alert, so they get no tile.
func tvBoards(plans []*checkPlan) ([]File, error) {
	byTeam := map[string][]board.Check{}
	var teams []string
	for _, p := range plans {
		if p.group == nil || !p.check.Enabled {
			continue
		}
		if byTeam[p.team] == nil {
			teams = append(teams, p.team)
		}
		byTeam[p.team] = append(byTeam[p.team], board.Check{
			ID: p.check.ID, Name: p.check.Name, Description: p.check.Description,
			Warn: p.warn, Error: p.crit, WarnText: p.check.Warn.Text, ErrorText: p.check.Error.Text,
			Link: p.report.Link,
		})
	}
	slices.Sort(teams)
	var files []File
	for _, team := range teams {
		cs := byTeam[team]
		slices.SortStableFunc(cs, func(a, b board.Check) int { return cmp.Compare(a.Name, b.Name) })
		data, err := board.Team(team, cs, board.Options{})
		if err != nil {
			return nil, err
		}
		files = append(files, File{Path: BoardFile(team), Data: data, Mode: 0o644})
	}
	return files, nil
}

// removeStaleBoards removes the TV boards an earlier import wrote
// (recognised by board.Tag) before the new ones are written, so a team
// left without checks does not keep its board. A user's own dashboards in
// the directory are left alone.
func removeStaleBoards(dir string) error {
	old, _ := filepath.Glob(filepath.Join(dir, BoardsDir, "*-tv.json"))
	for _, f := range old {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		if !board.IsGenerated(data) {
			continue
		}
		if err := os.Remove(f); err != nil {
			return fmt.Errorf("removing stale %s: %w", f, err)
		}
	}
	return nil
}
