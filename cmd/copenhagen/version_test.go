package main

import (
	"os/exec"
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildInfoText(t *testing.T) {
	setting := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	for _, tt := range []struct {
		name, linker string
		bi           *debug.BuildInfo
		want         string
	}{
		{"git checkout, modified", "dev", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"},
			Settings: setting("vcs", "git", "vcs.revision", "4484c75b78da623627d01d1cc4e4d07846c3452a", "vcs.time", "2026-12-01T10:01:02Z", "vcs.modified", "true")},
			"copenhagen, version dev (revision: 4484c75b78da623627d01d1cc4e4d07846c3452a (modified))\n  commit date: 2026-12-01T10:01:02Z\n  go version:  go1.26.8\n"},
		{"go install @version", "dev", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.0"}},
			"copenhagen, version v0.3.0 (revision: unknown)\n  go version:  go1.26.8\n"},
		{"release build with -X", "1.2.0", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.3.0"},
			Settings: setting("vcs.revision", "abc", "vcs.modified", "false")},
			"copenhagen, version 1.2.0 (revision: abc)\n  go version:  go1.26.8\n"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := fromBuildInfo(tt.linker, tt.bi).String()
			if !strings.HasPrefix(got, tt.want) || !strings.Contains(got, "platform:") {
				t.Errorf("got\n%s\nwant it to start with\n%s", got, tt.want)
			}
		})
	}
}

// TestVersionAndHelpOfTheBinary: `version` and `--version` say the same,
// what Go embedded in the binary (as `go version -m` reads it); help on
// every command goes to stdout with exit 0, and nothing to stderr.
func TestVersionAndHelpOfTheBinary(t *testing.T) {
	meta, err := exec.Command("go", "version", "-m", binary).Output()
	if err != nil {
		t.Fatal(err)
	}
	wantRev := "revision: unknown"
	for _, line := range strings.Split(string(meta), "\n") {
		if _, rev, ok := strings.Cut(strings.TrimSpace(line), "build\tvcs.revision="); ok {
			wantRev = "revision: " + rev
		}
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, errs, code := runBinary(t, t.TempDir(), args...)
		if code != 0 || errs != "" || !strings.Contains(out, wantRev) || !strings.Contains(out, "go version:  go1.") {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want %q", args, code, out, errs, wantRev)
		}
	}

	// Every command, as the long help lists them ("run [<flags>]").
	long, _, code := runBinary(t, t.TempDir(), "--help-long")
	if code != 0 {
		t.Fatalf("--help-long: exit %d", code)
	}
	_, list, _ := strings.Cut(long, "\nCommands:\n")
	var commands [][]string
	for _, line := range strings.Split(list, "\n") {
		if line == "" || line[0] == ' ' {
			continue
		}
		var words []string
		for _, w := range strings.Fields(line) {
			if strings.ContainsAny(w, "<[-=") {
				break
			}
			words = append(words, w)
		}
		if len(words) > 0 && words[0] != "help" { // kingpin's own: "help --help" is the top-level help
			commands = append(commands, words)
		}
	}
	if len(commands) < 6 {
		t.Fatalf("found only %v in --help-long:\n%s", commands, long)
	}
	commands = append(commands, []string{})
	for _, c := range commands {
		for _, flag := range []string{"--help", "-h"} {
			args := append(append([]string{}, c...), flag)
			out, errs, code := runBinary(t, t.TempDir(), args...)
			if code != 0 || errs != "" || !strings.Contains(out, "usage: copenhagen "+strings.Join(c, " ")) {
				t.Errorf("%v: exit %d, stderr %q, stdout:\n%s", args, code, errs, out)
			}
		}
	}
}
