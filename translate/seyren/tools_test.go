package seyren

import (
	"context"
	"os"
	"os/exec"
	"testing"
)

// checkWithTools runs promtool and amtool on an output directory. Under
// CI=true a missing tool fails the test (.ci/deps.d/seyren.sh installs
// them); elsewhere it skips.
func checkWithTools(t *testing.T, dir string) {
	t.Helper()
	tools := Tools{Promtool: lookTool(t, "promtool"), Amtool: lookTool(t, "amtool")}
	if err := tools.CheckDir(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
}

func lookTool(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found (install it with .ci/deps.d/seyren.sh): %v", name, err)
		}
		t.Skipf("%s not installed (.ci/deps.d/seyren.sh installs it)", name)
	}
	return p
}
