package seyren

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// Tools are the Prometheus and Alertmanager command-line checkers an
// output directory is verified with.
type Tools struct {
	Promtool string // path of promtool
	Amtool   string // path of amtool
}

// CheckDir runs, on an output directory, `promtool check rules` on every
// rule file (disabled ones included), `promtool test rules` on the
// generated unit tests and `amtool check-config` on alertmanager.yml.
// Alertmanager < 0.26 has no webhook url_file: with such an amtool the
// configuration is checked with the URLs read from their files and
// inlined (in a temporary file), as --inline-webhook-urls writes it.
func (t Tools) CheckDir(ctx context.Context, dir string) error {
	rules, _ := filepath.Glob(filepath.Join(dir, "rules", "*.yml"))
	disabled, _ := filepath.Glob(filepath.Join(dir, "rules", "disabled", "*.yml"))
	rules = append(rules, disabled...)
	if len(rules) > 0 {
		if err := runTool(ctx, t.Promtool, append([]string{"check", "rules"}, rules...)...); err != nil {
			return err
		}
	}
	tests, _ := filepath.Glob(filepath.Join(dir, "tests", "*.yml"))
	if len(tests) > 0 {
		if err := runTool(ctx, t.Promtool, append([]string{"test", "rules"}, tests...)...); err != nil {
			return err
		}
	}
	amFile := filepath.Join(dir, "alertmanager.yml")
	old, err := t.amtoolBefore026(ctx)
	if err != nil {
		return err
	}
	if old {
		data, err := os.ReadFile(amFile)
		if err != nil {
			return err
		}
		inlined, err := inlineURLFiles(string(data), dir)
		if err != nil {
			return err
		}
		tmp, err := os.MkdirTemp("", "seyren-amtool")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		amFile = filepath.Join(tmp, "alertmanager.yml")
		if err := os.WriteFile(amFile, []byte(inlined), 0o600); err != nil {
			return err
		}
	}
	return runTool(ctx, t.Amtool, "check-config", amFile)
}

func runTool(ctx context.Context, bin string, args ...string) error {
	out, err := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w\n%s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return nil
}

var amtoolVersion = regexp.MustCompile(`version 0\.(\d+)\.`)

func (t Tools) amtoolBefore026(ctx context.Context) (bool, error) {
	out, err := exec.CommandContext(ctx, t.Amtool, "--version").CombinedOutput()
	if err != nil {
		return false, fmt.Errorf("amtool --version: %w\n%s", err, out)
	}
	m := amtoolVersion.FindSubmatch(out)
	if m == nil {
		return false, nil
	}
	minor := 0
	fmt.Sscan(string(m[1]), &minor)
	return minor < 26, nil
}

// inlineURLFiles replaces "url_file: F" by "url: <content of F>". A file
// that does not exist where alertmanager.yml says is looked for under
// dir/secrets (the example output names /etc/alertmanager/secrets).
func inlineURLFiles(am, dir string) (string, error) {
	lines := strings.Split(am, "\n")
	for i, l := range lines {
		idx := strings.Index(l, "url_file:")
		if idx < 0 || strings.Contains(l[:idx], "_") || strings.Contains(l[:idx], "#") {
			continue
		}
		file := strings.TrimSpace(l[idx+len("url_file:"):])
		data, err := os.ReadFile(file)
		if errors.Is(err, os.ErrNotExist) {
			data, err = os.ReadFile(filepath.Join(dir, "secrets", filepath.Base(file)))
		}
		if err != nil {
			// Validation only: any URL keeps the structure checkable.
			data = []byte("https://placeholder.invalid/")
		}
		lines[i] = l[:idx] + "url: " + strings.TrimSpace(string(data))
	}
	return strings.Join(lines, "\n"), nil
}
