package seyren

import (
	"context"
	"testing"

	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"
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
	return storagetest.NeedTool(t, name, ".ci/deps.d/seyren.sh")
}
