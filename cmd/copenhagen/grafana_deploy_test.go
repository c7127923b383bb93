package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/copenhagen-obs/copenhagen/translate/seyren"
	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
)

// Grafana's provisioning file formats (Grafana docs, "Provision
// Grafana"), only the keys deploy/grafana uses: decoding with known
// fields only catches a misspelt key Grafana would silently ignore.
type grafanaDatasources struct {
	APIVersion  int `yaml:"apiVersion"`
	Datasources []struct {
		Name      string `yaml:"name"`
		UID       string `yaml:"uid"`
		Type      string `yaml:"type"`
		Access    string `yaml:"access"`
		URL       string `yaml:"url"`
		IsDefault bool   `yaml:"isDefault"`
		Editable  bool   `yaml:"editable"`
		JSONData  struct {
			HTTPMethod     string `yaml:"httpMethod"`
			TimeInterval   string `yaml:"timeInterval"`
			PrometheusType string `yaml:"prometheusType"`
			CacheLevel     string `yaml:"cacheLevel"`
		} `yaml:"jsonData"`
	} `yaml:"datasources"`
}

type grafanaDashboards struct {
	APIVersion int `yaml:"apiVersion"`
	Providers  []struct {
		Name                  string `yaml:"name"`
		OrgID                 int    `yaml:"orgId"`
		Folder                string `yaml:"folder"`
		FolderUID             string `yaml:"folderUid"`
		Type                  string `yaml:"type"`
		DisableDeletion       bool   `yaml:"disableDeletion"`
		AllowUIUpdates        bool   `yaml:"allowUiUpdates"`
		UpdateIntervalSeconds int    `yaml:"updateIntervalSeconds"`
		Options               struct {
			Path                      string `yaml:"path"`
			FoldersFromFilesStructure bool   `yaml:"foldersFromFilesStructure"`
		} `yaml:"options"`
	} `yaml:"providers"`
}

func decodeStrict(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// tileQueries are the PromQL queries of a generated board's tiles, by
// tile title, in refId order (A: the value, B: the alert state).
func tileQueries(t *testing.T, board string) (map[string][]string, string) {
	t.Helper()
	data, err := os.ReadFile(board)
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Templating struct {
			List []struct {
				Name    string
				Current struct{ Value string } `json:"current"`
			}
		}
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			out[p.Title] = append(out[p.Title], tg.Expr)
		}
	}
	uid := ""
	for _, v := range d.Templating.List {
		if v.Name == "datasource" {
			uid = v.Current.Value
		}
	}
	return out, uid
}

// instant runs a query as Grafana's Prometheus data source does with
// httpMethod POST, and returns the one value it expects (NaN for NaN),
// or ok false when the answer has no series.
func instant(t *testing.T, base, q string) (float64, bool) {
	t.Helper()
	resp, err := http.PostForm(base+"/api/v1/query", url.Values{"query": {q}, "time": {strconv.FormatInt(time.Now().Unix(), 10)}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var r struct {
		Status string
		Data   struct {
			ResultType string
			Result     json.RawMessage
		}
	}
	if err := json.Unmarshal(body, &r); err != nil || r.Status != "success" {
		t.Fatalf("%s: %q: %s", base, q, body)
	}
	var v []struct{ Value [2]any }
	if r.Data.ResultType == "scalar" {
		var s [2]any
		json.Unmarshal(r.Data.Result, &s)
		v = append(v, struct{ Value [2]any }{s})
	} else {
		json.Unmarshal(r.Data.Result, &v)
	}
	if len(v) == 0 {
		return 0, false
	}
	if len(v) > 1 {
		t.Fatalf("%s: %q: %d series, a tile wants one", base, q, len(v))
	}
	f, err := strconv.ParseFloat(v[0].Value[1].(string), 64)
	if err != nil {
		t.Fatalf("%s: %q: value %v", base, q, v[0].Value)
	}
	return f, true
}

// TestGrafanaProvisioning: deploy/grafana's files are in Grafana's
// provisioning format, name the data source uid the generated boards
// query and the directory the import writes them to; and the boards'
// tile queries give a tile's value and alert state on what the data
// sources point at: Copenhagen's query API (the binary, running the
// imported rules) and a real VictoriaMetrics it remote-writes to.
func TestGrafanaProvisioning(t *testing.T) {
	var cph, vmds grafanaDatasources
	decodeStrict(t, "../../deploy/grafana/provisioning/datasources/copenhagen.yml", &cph)
	decodeStrict(t, "../../deploy/grafana/victoriametrics/datasource.yml", &vmds)
	var dash grafanaDashboards
	decodeStrict(t, "../../deploy/grafana/provisioning/dashboards/copenhagen-tv.yml", &dash)
	queries, boardUID := tileQueries(t, "../../rules/seyren-example/dashboards/thumbnails-tv.json")
	for name, f := range map[string]grafanaDatasources{"copenhagen": cph, "victoriametrics": vmds} {
		if f.APIVersion != 1 || len(f.Datasources) != 1 {
			t.Fatalf("%s: %+v", name, f)
		}
		ds := f.Datasources[0]
		if ds.UID != boardUID || ds.Type != "prometheus" || ds.Access != "proxy" || ds.JSONData.HTTPMethod != "POST" {
			t.Errorf("%s: %+v; the boards query uid %q", name, ds, boardUID)
		}
	}
	if u, _ := url.Parse(cph.Datasources[0].URL); u.Port() != "9095" { // http.listen's default
		t.Errorf("Copenhagen data source %s", cph.Datasources[0].URL)
	}
	if u, _ := url.Parse(vmds.Datasources[0].URL); u.Port() != "8428" { // victoria-metrics' -httpListenAddr default
		t.Errorf("VictoriaMetrics data source %s", vmds.Datasources[0].URL)
	}
	if len(dash.Providers) != 1 || dash.Providers[0].Type != "file" || filepath.Base(dash.Providers[0].Options.Path) != seyren.BoardsDir ||
		dash.Providers[0].AllowUIUpdates || dash.Providers[0].UpdateIntervalSeconds <= 0 {
		t.Errorf("dashboards provider %+v", dash.Providers)
	}
	backlog := queries["thumbnails resize backlog"]
	other := queries["thumbnails cache hit ratio"]
	if len(backlog) != 2 || len(other) != 2 {
		t.Fatalf("tiles of the thumbnails board: %v", queries)
	}

	vm := storagetest.StartVictoriaMetrics(t)
	dir := t.TempDir()
	rulesDir := filepath.Join(dir, "rules")
	must(t, os.Mkdir(rulesDir, 0o755))
	rules := fastSeyrenRules(t, rulesDir)
	httpPort, udpPort := freePort(t), freePort(t)
	cfg := filepath.Join(dir, "copenhagen.yml")
	must(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`http:
  listen: 127.0.0.1:%d
graphite: {tcp: "", udp: "", pickle: ""}
statsd:
  udp: 127.0.0.1:%d
  tcp: ""
  mapping_file: %s
  flush_interval: 200ms
storage:
  path: %s
remote_write:
  - url: %s/api/v1/write
rules:
  files: [%q]
`, httpPort, udpPort, mappingFile(t), filepath.Join(dir, "data"), vm.URL, rules)), 0o644))
	p := startBinary(t, "run", "--config", cfg)
	p.http = fmt.Sprintf("127.0.0.1:%d", httpPort)
	waitHTTP(t, p, "/-/ready", func(code int, _ string) bool { return code == 200 })
	base := "http://" + p.http

	// Grafana's "Save & test" of a Prometheus data source.
	for _, b := range []string{base, vm.URL} {
		if v, ok := instant(t, b, "1+1"); !ok || v != 2 {
			t.Errorf("%s: 1+1 = %v %v", b, v, ok)
		}
	}
	sendUDP(t, fmt.Sprintf("127.0.0.1:%d", udpPort), "thumbnails.worker.queue.resize.size:6000|g")
	for _, b := range []string{base, vm.URL} {
		waitLong(t, "the backlog tile critical at "+b, 30*time.Second, func() bool {
			v, ok := instant(t, b, backlog[0])
			s, _ := instant(t, b, backlog[1])
			return ok && v == 6000 && s == 2
		})
		// A check without data: its value is NaN or nothing (both
		// NO DATA in Grafana), its state -1 (NO DATA), never OK.
		v, ok := instant(t, b, other[0])
		s, _ := instant(t, b, other[1])
		if (ok && !math.IsNaN(v)) || s != -1 {
			t.Errorf("%s: tile without data: value %v (%v), state %v; want NaN or none, -1", b, v, ok, s)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", strings.TrimSpace(stoppedLog(p)))
	}
}
