package convert

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/copenhagen-obs/copenhagen/dashboards/grafanaapi"
)

// Input is one dashboard to convert and where it came from.
type Input struct {
	Source string // file path or Grafana URL, for messages
	Name   string // file name without .json, when the dashboard has no uid
	JSON   []byte
}

// ReadPath reads a dashboard file, or every *.json file of a directory
// (sorted by name).
func ReadPath(path string, maxBytes int64) ([]Input, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	files := []string{path}
	if st.IsDir() {
		files, err = filepath.Glob(filepath.Join(path, "*.json"))
		if err != nil {
			return nil, err
		}
		sort.Strings(files)
		if len(files) == 0 {
			return nil, fmt.Errorf("%s: no *.json dashboard files", path)
		}
	}
	var out []Input
	for _, f := range files {
		fst, err := os.Stat(f)
		if err != nil {
			return nil, err
		}
		if fst.Size() > maxBytes {
			return nil, fmt.Errorf("%s: %d bytes, more than the limit of %d", f, fst.Size(), maxBytes)
		}
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, Input{Source: f, Name: strings.TrimSuffix(filepath.Base(f), ".json"), JSON: data})
	}
	return out, nil
}

// ReadGrafana reads every dashboard of a Grafana instance.
func ReadGrafana(ctx context.Context, c *grafanaapi.Client) ([]Input, error) {
	hits, err := c.Search(ctx)
	if err != nil {
		return nil, err
	}
	var out []Input
	for _, h := range hits {
		d, err := c.Dashboard(ctx, h.UID)
		if err != nil {
			return nil, err
		}
		out = append(out, Input{Source: strings.TrimRight(c.BaseURL, "/") + "/d/" + h.UID, Name: h.UID, JSON: d.JSON})
	}
	return out, nil
}

// Result is what Import wrote.
type Result struct {
	Reports []*Report
	Files   []string
	Skipped []string // dashboards with nothing on Graphite, and why
}

var unsafeName = regexp.MustCompile(`[^A-Za-z0-9_.-]`)

// Import converts every input and writes OUT/<uid>.json, OUT/report.md
// and OUT/report.json. Dashboards with nothing on Graphite are skipped
// (and listed); a dashboard that cannot be converted fails the import,
// naming its source, before anything is written.
func Import(inputs []Input, outDir string, opts Options) (*Result, error) {
	res := &Result{}
	type file struct {
		name string
		data []byte
	}
	var files []file
	seen := map[string]string{}
	for _, in := range inputs {
		out, rep, err := Convert(in.JSON, opts)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", in.Source, err)
		}
		if !rep.HasGraphite() {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s (%s): no Graphite target, variable or annotation", in.Source, rep.Title))
			continue
		}
		name := rep.UID
		if name == "" {
			name = in.Name
		}
		name = unsafeName.ReplaceAllString(name, "_")
		if prev, ok := seen[name]; ok {
			return nil, fmt.Errorf("%s and %s both have uid %q", prev, in.Source, name)
		}
		seen[name] = in.Source
		files = append(files, file{name + ".json", out})
		res.Reports = append(res.Reports, rep)
	}
	var md bytes.Buffer
	if err := WriteMarkdown(&md, res.Reports, res.Skipped); err != nil {
		return nil, err
	}
	js, err := json.MarshalIndent(struct {
		Totals     map[Status]int `json:"totals"`
		Dashboards []*Report      `json:"dashboards"`
		Skipped    []string       `json:"skipped,omitempty"`
	}{Totals(res.Reports), res.Reports, res.Skipped}, "", "  ")
	if err != nil {
		return nil, err
	}
	files = append(files, file{"report.md", md.Bytes()}, file{"report.json", append(js, '\n')})
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	for _, f := range files {
		p := filepath.Join(outDir, f.name)
		if err := os.WriteFile(p, f.data, 0o644); err != nil {
			return nil, err
		}
		res.Files = append(res.Files, p)
	}
	return res, nil
}
