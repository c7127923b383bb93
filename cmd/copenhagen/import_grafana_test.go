package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/copenhagen-obs/copenhagen/dashboards/schema"
)

const (
	grafanaFixtures = "../../dashboards/convert/testdata/in"
	grafanaStatsd   = "../../dashboards/convert/testdata/statsd_mapping.yml"
	grafanaCarbon   = "../../dashboards/convert/testdata/graphite_mapping.yml"
)

// A directory of dashboards: one file per dashboard uid, both reports,
// every output valid for Grafana.
func TestImportGrafanaDir(t *testing.T) {
	out := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := runCLI([]string{"import", "grafana", "--from", grafanaFixtures, "--out", out,
		"--statsd-mapping", grafanaStatsd, "--graphite-mapping", grafanaCarbon}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for _, uid := range []string{"catalog-tv", "catalog-overview", "thumbnails-tv", "graphite-names"} {
		data, err := os.ReadFile(filepath.Join(out, uid+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := schema.Validate(data); err != nil {
			t.Errorf("%s: %v", uid, err)
		}
	}
	var rep struct {
		Totals     map[string]int
		Dashboards []struct{ UID string }
	}
	data, err := os.ReadFile(filepath.Join(out, "report.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Dashboards) != 4 || rep.Totals["untranslated"] != 1 || rep.Totals["translated"]+rep.Totals["partial"] != 40 {
		t.Errorf("report totals %v over %d dashboards", rep.Totals, len(rep.Dashboards))
	}
	md, _ := os.ReadFile(filepath.Join(out, "report.md"))
	for _, want := range []string{"holtWintersForecast has no PromQL equivalent", "| Panel | Ref | Status |", "## Catalog overview (`catalog-overview`)"} {
		if !strings.Contains(string(md), want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
	if !strings.Contains(stdout.String(), "4 dashboards converted") {
		t.Errorf("stdout %q", stdout.String())
	}
}

// URL mode against a stand-in for Grafana's HTTP API serving the fixtures
// with the API's exact shapes: the token from --token-file is sent as a
// bearer token, a dashboard without Graphite is skipped, and a wrong token
// fails without being printed.
func TestImportGrafanaURL(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(grafanaFixtures, "*.json"))
	boards := map[string]json.RawMessage{}
	var hits []map[string]any
	for i, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var head struct{ UID, Title string }
		json.Unmarshal(data, &head)
		boards[head.UID] = data
		hits = append(hits, map[string]any{"id": i + 1, "uid": head.UID, "title": head.Title, "uri": "db/" + head.UID,
			"url": "/d/" + head.UID + "/x", "type": "dash-db", "tags": []string{}, "isStarred": false, "folderUid": "f", "folderTitle": "Teams"})
	}
	boards["prom-only"] = json.RawMessage(`{"uid":"prom-only","title":"Already Prometheus","schemaVersion":39,"panels":[{"type":"timeseries","id":1,"datasource":{"type":"prometheus","uid":"p"},"targets":[{"refId":"A","expr":"up"}]}]}`)
	hits = append(hits, map[string]any{"uid": "prom-only", "title": "Already Prometheus", "type": "dash-db"})
	hits = append(hits, map[string]any{"uid": "folder1", "title": "Teams", "type": "dash-folder"})
	const token = "glsa_0123456789abcdef"
	var requests []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests = append(requests, r.Method+" "+r.URL.Path)
		if r.Header.Get("Authorization") != "Bearer "+token {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"message":"Unauthorized"}`)
			return
		}
		switch {
		case r.URL.Path == "/api/search":
			if r.URL.Query().Get("type") != "dash-db" {
				t.Errorf("search without type=dash-db: %s", r.URL.RawQuery)
			}
			// The search API of Grafana filters by type itself; the
			// folder hit checks the client does too.
			json.NewEncoder(w).Encode(hits)
		case strings.HasPrefix(r.URL.Path, "/api/dashboards/uid/"):
			uid := strings.TrimPrefix(r.URL.Path, "/api/dashboards/uid/")
			b, ok := boards[uid]
			if !ok {
				w.WriteHeader(http.StatusNotFound)
				fmt.Fprint(w, `{"message":"Dashboard not found"}`)
				return
			}
			fmt.Fprintf(w, `{"dashboard":%s,"meta":{"type":"db","canSave":true,"slug":"x","url":"/d/%s/x","folderTitle":"Teams"}}`, b, uid)
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	tokenFile := filepath.Join(dir, "token")
	os.WriteFile(tokenFile, []byte(token+"\n"), 0o600)
	out := filepath.Join(dir, "out")
	var stdout, stderr bytes.Buffer
	code := runCLI([]string{"import", "grafana", "--from", srv.URL, "--out", out, "--token-file", tokenFile,
		"--statsd-mapping", grafanaStatsd, "--graphite-mapping", grafanaCarbon}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	for uid := range boards {
		_, err := os.Stat(filepath.Join(out, uid+".json"))
		if uid == "prom-only" {
			if err == nil {
				t.Errorf("a dashboard without Graphite was written")
			}
			continue
		}
		if err != nil {
			t.Errorf("%s not written: %v", uid, err)
		}
	}
	if !strings.Contains(stdout.String(), "4 dashboards converted (1 skipped") {
		t.Errorf("stdout %q", stdout.String())
	}
	for _, r := range requests {
		if strings.Contains(r, "folder1") {
			t.Errorf("a folder was read as a dashboard: %s", r)
		}
	}

	os.WriteFile(tokenFile, []byte("wrong"), 0o600)
	stdout.Reset()
	stderr.Reset()
	code = runCLI([]string{"import", "grafana", "--from", srv.URL, "--out", filepath.Join(dir, "out2"), "--token-file", tokenFile}, &stdout, &stderr)
	if code == 0 || !strings.Contains(stderr.String(), "401") || strings.Contains(stderr.String(), "wrong") {
		t.Errorf("wrong token: exit %d, stderr %q", code, stderr.String())
	}
}
