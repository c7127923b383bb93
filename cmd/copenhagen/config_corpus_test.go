package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBadConfigCorpus runs every configuration of testdata/badconfig
// through the built binary twice, as `check config FILE` and as
// `run --config FILE`: both must refuse it with exit code 1 and the same
// message, which names the file, the line and the key of the problem
// (the file's "# want:" line). A check that said OK to a file that run
// then refuses is how a systemd unit crash-loops behind a passing
// ExecStartPre.
func TestBadConfigCorpus(t *testing.T) {
	dir := t.TempDir()
	// Copy the corpus: storage paths are relative to the file, and a run
	// that wrongly starts must not write into the source tree.
	if err := os.CopyFS(dir, os.DirFS("testdata/badconfig")); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.yml"))
	if err != nil || len(files) < 10 {
		t.Fatalf("corpus: %d files, %v", len(files), err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := strings.Cut(string(data), "\n")
			want, ok := strings.CutPrefix(first, "# want: ")
			if !ok {
				t.Fatalf("first line %q is not a \"# want: \" line", first)
			}
			want = dir + string(filepath.Separator) + want // messages name the file as given

			checkOut, checkErr, checkCode := runBinary(t, dir, "check", "config", file)
			if checkCode != 1 || !strings.Contains(checkErr, want) {
				t.Errorf("check config: exit %d, stderr:\n%s\nstdout:\n%s\nwant exit 1 and %q", checkCode, checkErr, checkOut, want)
			}
			_, runErr, runCode := runBinary(t, dir, "run", "--config", file)
			if runCode != 1 || !strings.Contains(runErr, want) {
				t.Errorf("run: exit %d, stderr:\n%s\nwant exit 1 and %q", runCode, runErr, want)
			}
			if got := strings.TrimPrefix(runErr, "copenhagen: "); got != checkErr {
				t.Errorf("run and check refuse differently:\nrun:   %q\ncheck: %q", runErr, checkErr)
			}
		})
	}
}

// runBinary runs the built binary to its end (at most 20 s: a run that
// starts instead of refusing is killed and reported) and returns its
// stdout, stderr and exit code.
func runBinary(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Errorf("%v: still running after 20 s (it started instead of refusing)\n%s", args, errb.String())
		return out.String(), errb.String(), -1
	}
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatal(err)
	}
	return out.String(), errb.String(), cmd.ProcessState.ExitCode()
}
