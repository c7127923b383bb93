package seyren

import (
	"os"
	"path/filepath"
	"testing"
)

func TestWriteReplacesOnlyGeneratedFiles(t *testing.T) {
	dir := t.TempDir()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(dir, "rules"), 0o755))
	must(os.MkdirAll(filepath.Join(dir, "secrets"), 0o755))
	stale := filepath.Join(dir, "rules", "gone-team.yml")
	mine := filepath.Join(dir, "rules", "handwritten.yml")
	must(os.WriteFile(stale, []byte(rulesHeader+"; regenerate rather than edit.\ngroups: []\n"), 0o644))
	must(os.WriteFile(mine, []byte("groups: []\n"), 0o644))
	// A secret file left readable by an earlier tool must end up 0600.
	must(os.WriteFile(filepath.Join(dir, "secrets", "pagerduty-1.key"), []byte("old"), 0o644))

	out, err := Import(loadFixture(t), fixtureOptions())
	must(err)
	must(out.Write(dir))
	if _, err := os.Stat(stale); !os.IsNotExist(err) {
		t.Errorf("stale generated rule file kept: %v", err)
	}
	if _, err := os.Stat(mine); err != nil {
		t.Errorf("hand-written rule file removed: %v", err)
	}
	info, err := os.Stat(filepath.Join(dir, "secrets", "pagerduty-1.key"))
	must(err)
	if info.Mode().Perm() != 0o600 {
		t.Errorf("secret mode %o", info.Mode().Perm())
	}
	data, err := os.ReadFile(filepath.Join(dir, "secrets", "pagerduty-1.key"))
	must(err)
	if string(data) != "pd-catalog-service-key\n" {
		t.Errorf("secret content %q", data)
	}
}
