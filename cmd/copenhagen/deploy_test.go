package main

import (
	"github.com/copenhagen-obs/copenhagen/translate/storage/storagetest"

	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/copenhagen-obs/copenhagen/cmd/internal/config"
)

const (
	unitFile      = "../../deploy/systemd/copenhagen.service"
	exampleConfig = "../../deploy/examples/copenhagen.yml"
	// shutdownBudget is Copenhagen's default graceful shutdown budget
	// (shutdown_timeout); the unit must wait longer before SIGKILL.
	shutdownBudget = 25 * time.Second
	// maxExposure is the highest `systemd-analyze security` score
	// accepted: Debian's prometheus.service level.
	maxExposure = 2.5
)

// The example configuration shipped in deploy/ must stay valid.
func TestDeployExampleConfigIsValid(t *testing.T) {
	out, errs, code := cli(t, "check", "config", exampleConfig)
	if code != 0 || !strings.Contains(out, "OK") {
		t.Fatalf("code %d\n%s%s", code, out, errs)
	}
}

// unitDirectives reads the [Service] directives of the unit, every
// value of repeated keys in order.
func unitDirectives(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if line[0] == '[' {
			section = line
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if ok {
			out[section+k] = append(out[section+k], v)
		}
	}
	return out
}

// The shipped example, installed as the unit's comments say, writes only
// under the unit's StateDirectory: ProtectSystem=strict makes everything
// else read-only (issue 10: a config writing under /etc/copenhagen made
// the service crash-loop while its check config pre-start passed).
func TestDeployExampleConfigWritesUnderStateDirectory(t *testing.T) {
	d := unitDirectives(t)
	if got := d["[Service]ProtectSystem"]; len(got) != 1 || got[0] != "strict" {
		t.Fatalf("ProtectSystem = %v", got)
	}
	if len(d["[Service]ReadWritePaths"]) > 0 {
		t.Fatalf("ReadWritePaths %v: the test assumes StateDirectory is the only writable place", d["[Service]ReadWritePaths"])
	}
	sd := d["[Service]StateDirectory"]
	if len(sd) != 1 {
		t.Fatalf("StateDirectory = %v", sd)
	}
	state := filepath.Join("/var/lib", sd[0])
	if wd := d["[Service]WorkingDirectory"]; len(wd) != 1 || wd[0] != state {
		t.Errorf("WorkingDirectory = %v, want %s", wd, state)
	}
	installed := "/etc/copenhagen/copenhagen.yml"
	for _, k := range []string{"ExecStartPre", "ExecStart"} {
		if v := d["[Service]"+k]; len(v) != 1 || !strings.HasSuffix(v[0], " "+installed) {
			t.Errorf("%s = %v, want it to read %s", k, v, installed)
		}
	}
	// Load the example as if installed: relative paths resolve against
	// /etc/copenhagen.
	dir := t.TempDir()
	etc := filepath.Join(dir, "etc", "copenhagen")
	os.MkdirAll(etc, 0o755)
	for _, f := range []string{"copenhagen.yml", "statsd-mapping.yml"} {
		b, err := os.ReadFile(filepath.Join("../../deploy/examples", f))
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(etc, f), b, 0o644)
	}
	cfg, err := config.Load(filepath.Join(etc, "copenhagen.yml"))
	if err != nil {
		t.Fatal(err)
	}
	writes := map[string]string{
		"storage.path":         string(cfg.Storage.Path),
		"alerting.data_dir":    alertingDataDir(cfg),
		"logs.positions_file":  string(cfg.Logs.PositionsFile),
		"statsd.unixgram":      string(cfg.StatsD.Unixgram),
		"graphite (no writes)": "",
	}
	for key, p := range writes {
		if p == "" {
			continue
		}
		if !filepath.IsAbs(p) || !strings.HasPrefix(filepath.Clean(p)+"/", state+"/") {
			t.Errorf("%s = %s: not under the unit's StateDirectory %s", key, p, state)
		}
	}
}

// systemdAnalyze returns the path of systemd-analyze, skipping (failing
// under CI) without it.
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p := storagetest.NeedTool(t, "systemd-analyze", ".ci/deps.d/container.sh")
	return p
}

// unitForAnalysis copies the unit into a temp dir with ExecStart and
// ExecStartPre pointing at the binary under test (verify refuses a
// missing executable).
func unitForAnalysis(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(unitFile)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "copenhagen.service")
	if err := os.WriteFile(p, bytes.ReplaceAll(b, []byte("/usr/local/bin/copenhagen"), []byte(binary)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// `systemd-analyze verify` exits 0 on unknown keys and bad values and
// only warns: any line naming the unit is a failure.
func TestSystemdUnitVerify(t *testing.T) {
	sa := systemdAnalyze(t)
	unit := unitForAnalysis(t)
	cmd := exec.Command(sa, "verify", unit)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	err := cmd.Run()
	var problems []string
	for _, l := range strings.Split(stderr.String(), "\n") {
		if strings.Contains(l, "copenhagen.service") || strings.Contains(l, unit) {
			problems = append(problems, l)
		}
	}
	if err != nil || len(problems) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, stderr.String())
	}
}

var exposureRE = regexp.MustCompile(`Overall exposure level for \S+: (\d+\.\d+)`)

// The unit is hardened to Debian's prometheus.service level without
// taking what Copenhagen needs.
func TestSystemdUnitSecurity(t *testing.T) {
	sa := systemdAnalyze(t)
	unit := unitForAnalysis(t)
	out, err := exec.Command(sa, "security", "--offline=yes", "--no-pager", unit).CombinedOutput()
	m := exposureRE.FindSubmatch(out)
	if m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	score, _ := strconv.ParseFloat(string(m[1]), 64)
	t.Logf("exposure %.1f", score)
	if score > maxExposure {
		t.Errorf("exposure %.1f > %.1f:\n%s", score, maxExposure, out)
	}
	// The threshold is in tenths, as a CI gate would use it.
	if err := exec.Command(sa, "security", "--offline=yes", "--threshold=25", unit).Run(); err != nil {
		t.Errorf("systemd-analyze security --threshold=25: %v", err)
	}

	d := unitDirectives(t)
	has := func(key, want string) bool {
		for _, v := range d["[Service]"+key] {
			for _, f := range strings.Fields(v) {
				if f == want {
					return true
				}
			}
		}
		return false
	}
	// What must stay possible.
	if has("ProcSubset", "pid") {
		t.Error("ProcSubset=pid hides /proc/net/udp, which the UDP drop counter reads")
	}
	if len(d["[Service]PrivateUsers"]) > 0 && !has("PrivateUsers", "no") && !has("PrivateUsers", "false") {
		t.Error("PrivateUsers= hides the adm group that root:adm log files need")
	}
	if !has("SupplementaryGroups", "adm") {
		t.Error("SupplementaryGroups=adm is needed to read root:adm log files (logs.files)")
	}
	if !has("RestrictAddressFamilies", "AF_NETLINK") || !has("RestrictAddressFamilies", "AF_INET") || !has("RestrictAddressFamilies", "AF_UNIX") {
		t.Errorf("RestrictAddressFamilies = %v: needs AF_INET/AF_INET6 (listeners), AF_UNIX (statsd.unixgram), AF_NETLINK (cluster advertise address)", d["[Service]RestrictAddressFamilies"])
	}
	stop := d["[Service]TimeoutStopSec"]
	if len(stop) != 1 {
		t.Fatalf("TimeoutStopSec = %v", stop)
	}
	ts, err := time.ParseDuration(stop[0])
	if err != nil || ts <= shutdownBudget {
		t.Errorf("TimeoutStopSec=%s must exceed Copenhagen's shutdown budget %s", stop[0], shutdownBudget)
	}
}
