package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// loadDocument is Load without CheckFiles, for the tests of decoding whose
// configurations name files that do not exist here.
func loadDocument(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	return parse(data, path, dir, false)
}

// TestRootChecks: the problems no section sees alone, each reported at the
// line and key of the field to change, by Load (what check config and run
// use); Parse reports the cross-section ones but does not touch the disk.
func TestRootChecks(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("a-file", "x")
	write("rules/ok.yml", "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: up\n")
	write("rules/bad.yml", "groups:\n  - name: g\n    rules:\n      - record: r\n        expr: sum(\n")
	write("mapping-bad.yml", "mappings:\n  - match: a..b\n    name: x\n")
	write("am-bad.yml", "route:\n  receiver: nobody\nreceivers: []\n")
	write("web-bad.yml", "tls_server_config:\n  cert_file: missing.crt\n")
	if err := os.Mkdir(filepath.Join(dir, "a-dir"), 0o755); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		body string
		want string // the whole message, after "<file>:"
		disk bool   // found only by Load (CheckFiles), not by Parse
	}{
		{"remote_write names", "remote_write:\n  - name: vm\n    url: http://a:1/w\n  - name: vm\n    url: http://b:1/w\n",
			`4: remote_write[1].name: "vm" is already used by remote_write[0]`, false},
		{"rules in agent mode", "storage:\n  mode: agent\nrules:\n  files: [rules/ok.yml]\n",
			"4: rules.files: storage.mode agent keeps no queryable data; set rules.query_url to evaluate rules against a remote query API, or use storage.mode server", false},
		{"storage.path is a file", "storage:\n  path: a-file\n",
			"2: storage.path: " + filepath.Join(dir, "a-file") + " is a file, not a directory", true},
		{"storage.path under a file", "storage:\n  path: a-file/data\n",
			"2: storage.path: cannot create " + filepath.Join(dir, "a-file/data") + ": " + filepath.Join(dir, "a-file") + " is a file, not a directory", true},
		{"alerting.data_dir is a file", "alerting:\n  config_file: am-ok.yml\n  data_dir: a-file\n",
			"3: alerting.data_dir: " + filepath.Join(dir, "a-file") + " is a file, not a directory", true},
		{"positions_file is a directory", "loki:\n  url: http://loki:3100/loki/api/v1/push\nlogs:\n  positions_file: a-dir\n",
			"4: logs.positions_file: " + filepath.Join(dir, "a-dir") + " is a directory, not a file", true},
		{"statsd mapping", "statsd:\n  mapping_file: mapping-bad.yml\n", "2: statsd.mapping_file: " + filepath.Join(dir, "mapping-bad.yml") + ":2: ", true},
		{"graphite mapping", "graphite:\n  mapping_file: mapping-bad.yml\n", "2: graphite.mapping_file: " + filepath.Join(dir, "mapping-bad.yml") + ":2: ", true},
		{"rule file", "rules:\n  files: [rules/*.yml]\n", "2: rules.files: ", true},
		{"alertmanager config", "alerting:\n  config_file: am-bad.yml\n", "2: alerting.config_file: ", true},
		{"web config", "http:\n  web_config_file: web-bad.yml\n", "2: http.web_config_file: " + filepath.Join(dir, "web-bad.yml") + ": ", true},
	}
	write("am-ok.yml", "route:\n  receiver: r\nreceivers:\n  - name: r\n")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := filepath.Join(dir, "copenhagen.yml")
			write("copenhagen.yml", tt.body)
			_, err := Load(file)
			var list ErrorList
			if err == nil || !asList(err, &list) || len(list) != 1 {
				t.Fatalf("Load: %v, want one error", err)
			}
			if got := strings.TrimPrefix(list[0].Error(), file+":"); !strings.HasPrefix(got, tt.want) {
				t.Errorf("Load:\n got %s\nwant %s...", got, tt.want)
			}
			if list[0].Key == "" || list[0].Line == 0 {
				t.Errorf("error without key or line: %+v", list[0])
			}
			_, perr := Parse([]byte(tt.body), file)
			if tt.disk && perr != nil {
				t.Errorf("Parse touched the disk: %v", perr)
			}
			if !tt.disk && (perr == nil || perr.Error() != err.Error()) {
				t.Errorf("Parse: %v, want what Load says", perr)
			}
		})
	}

	// What is right passes, directories to be created included.
	write("copenhagen.yml", "storage:\n  path: data/tsdb\nrules:\n  files: [rules/ok.yml]\nalerting:\n  config_file: am-ok.yml\n"+
		"loki:\n  url: http://loki:3100/loki/api/v1/push\nlogs:\n  positions_file: state/positions.json\n")
	if _, err := Load(filepath.Join(dir, "copenhagen.yml")); err != nil {
		t.Fatalf("good configuration refused: %v", err)
	}
}

func asList(err error, list *ErrorList) bool {
	l, ok := err.(ErrorList)
	*list = l
	return ok
}

// TestCheckWritableDirReadOnly: a directory the process may not write
// (here: a read-only bind of what systemd's ProtectSystem=strict makes of
// /etc) is refused. Root writes anywhere but on a read-only mount, so the
// test uses /proc/self, which no one may create directories in.
func TestCheckWritableDirReadOnly(t *testing.T) {
	err := checkWritableDir("storage.path", "/proc/self/copenhagen-data")
	if err == nil || !strings.Contains(err.Error(), "cannot create /proc/self/copenhagen-data: directory /proc/self is not writable") {
		t.Fatalf("got %v", err)
	}
}
