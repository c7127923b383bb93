package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/prometheus/exporter-toolkit/web"

	"github.com/copenhagen-obs/copenhagen/alerting/evaluate"
	"github.com/copenhagen-obs/copenhagen/alerting/routing"
	"github.com/copenhagen-obs/copenhagen/translate/names"
)

// Validate is the root check, run by the decoder after every section's own
// Validate: the constraints that span sections. Load adds the checks of
// what is on disk (CheckFiles). `copenhagen check config` and `copenhagen
// run` (and a reload) both go through Load, so a file that one accepts the
// other cannot refuse for a reason found in the configuration and the files
// it names; only what depends on the moment (a port in use, a server down)
// is left to run.
//
// Each problem is a *FieldError, reported at the line and full key of the
// field it blames.
func (c *Config) Validate() error {
	return joinChecks(c, checkShutdown, checkRemoteWriteNames, checkRulesNeedQueries)
}

// CheckFiles checks what the configuration finds on disk: the directories
// and files Copenhagen writes to (storage.path, alerting.data_dir,
// logs.positions_file) can be written, and the
// files it reads (mapping files, rule files, the Alertmanager and web
// configurations) load, with the loaders run uses, so that their errors
// (with their own file:line) are the configuration's errors. Load runs it;
// its errors are positioned like Validate's.
func (c *Config) CheckFiles() error {
	return joinChecks(c, checkWritablePaths, checkReferencedFiles)
}

func joinChecks(c *Config, checks ...func(*Config) []error) error {
	var errs []error
	for _, check := range checks {
		errs = append(errs, check(c)...)
	}
	return errors.Join(errs...)
}

// filesCheck lets the decoder run CheckFiles after Validate, with the
// lines of the document at hand.
type filesCheck struct{ c *Config }

func (f filesCheck) Validate() error { return f.c.CheckFiles() }

// checkShutdown: the top-level shutdown budget (shutdown.go).
func checkShutdown(c *Config) []error {
	if err := c.validateShutdown(); err != nil {
		return []error{err}
	}
	return nil
}

// checkRemoteWriteNames: a name labels a queue's self-metrics
// (remote_name) and Prometheus refuses two queues with one name.
func checkRemoteWriteNames(c *Config) []error {
	var errs []error
	seen := map[string]int{}
	for i, rw := range c.RemoteWrite {
		if rw.Name == "" {
			continue
		}
		if j, dup := seen[rw.Name]; dup {
			errs = append(errs, Fieldf(fmt.Sprintf("remote_write[%d].name", i), "%s is already used by remote_write[%d]", quote(rw.Name), j))
			continue
		}
		seen[rw.Name] = i
	}
	return errs
}

// checkRulesNeedQueries: rules read the embedded TSDB, which agent mode
// does not keep, unless they read a remote query API.
func checkRulesNeedQueries(c *Config) []error {
	if len(c.Rules.Files) == 0 || c.Storage.Mode != "agent" || c.Rules.QueryURL != "" {
		return nil
	}
	return []error{Fieldf("rules.files", "storage.mode agent keeps no queryable data; set rules.query_url to evaluate rules against a remote query API, or use storage.mode server")}
}

// checkWritablePaths: the directories and files Copenhagen writes must be
// directories (files) that exist and are writable, or that can be created.
// A storage.path on a read-only file system (a systemd unit's
// ProtectSystem=strict outside its StateDirectory) is refused here rather
// than by a crash loop after `check config` said OK.
func checkWritablePaths(c *Config) []error {
	var errs []error
	add := func(err error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(checkWritableDir("storage.path", c.Storage.Path))
	if c.Alerting.ConfigFile != "" && c.Alerting.DataDir != "" {
		add(checkWritableDir("alerting.data_dir", c.Alerting.DataDir))
	}
	if c.Loki.URL != "" {
		add(checkWritableFile("logs.positions_file", c.Logs.PositionsFile))
	}
	return errs
}

// checkWritableDir accepts an existing writable directory, or a path whose
// nearest existing ancestor is a writable directory (it is created).
func checkWritableDir(field string, p Path) error {
	if p == "" {
		return nil
	}
	dir := filepath.Clean(string(p))
	fi, err := os.Stat(dir)
	switch {
	case err == nil && !fi.IsDir():
		return Fieldf(field, "%s is a file, not a directory", dir)
	case err == nil:
		if err := writable(dir); err != nil {
			return Fieldf(field, "directory %s is not writable: %v", dir, err)
		}
		return nil
	}
	// Absent, or not reachable (ENOTDIR, EACCES): the nearest ancestor
	// that exists says why.
	return checkCreatable(field, dir)
}

// checkWritableFile accepts a writable file that is not a directory, or an
// absent file in a directory that exists or can be created. Files are
// replaced through a temporary file next to them, so the directory must be
// writable too.
func checkWritableFile(field string, p Path) error {
	if p == "" {
		return nil
	}
	file := filepath.Clean(string(p))
	fi, err := os.Stat(file)
	switch {
	case err == nil && fi.IsDir():
		return Fieldf(field, "%s is a directory, not a file", file)
	case err != nil && !errors.Is(err, os.ErrNotExist):
		return Fieldf(field, "%v", err)
	}
	dir := filepath.Dir(file)
	if fi, err := os.Stat(dir); err == nil {
		if !fi.IsDir() {
			return Fieldf(field, "%s is a file, not a directory", dir)
		}
		if err := writable(dir); err != nil {
			return Fieldf(field, "directory %s is not writable: %v", dir, err)
		}
		return nil
	}
	return checkCreatable(field, dir)
}

// checkCreatable finds the nearest existing ancestor of the absent path
// dir, which must be a writable directory for MkdirAll to succeed.
func checkCreatable(field, dir string) error {
	for parent := filepath.Dir(dir); ; parent = filepath.Dir(parent) {
		fi, err := os.Stat(parent)
		switch {
		case err == nil && !fi.IsDir():
			return Fieldf(field, "cannot create %s: %s is a file, not a directory", dir, parent)
		case err == nil:
			if err := writable(parent); err != nil {
				return Fieldf(field, "cannot create %s: directory %s is not writable: %v", dir, parent, err)
			}
			return nil
		}
		if next := filepath.Dir(parent); next == parent {
			return nil // nothing exists up to the root: let run report it
		}
	}
}

// checkReferencedFiles loads the files the configuration names.
func checkReferencedFiles(c *Config) []error {
	var errs []error
	for _, f := range referencedFiles {
		if err := f.check(c); err != nil {
			errs = append(errs, Fieldf(f.key, "%v", err))
		}
	}
	return errs
}

// referencedFiles are the files named in the configuration whose content
// is checked, by key.
var referencedFiles = []struct {
	key   string
	check func(c *Config) error
}{
	{"statsd.mapping_file", func(c *Config) error { return loadMapping(c.StatsD.MappingFile) }},
	{"graphite.mapping_file", func(c *Config) error { return loadMapping(c.Graphite.MappingFile) }},
	{"rules.files", func(c *Config) error {
		if len(c.Rules.Files) == 0 {
			return nil
		}
		_, err := evaluate.CheckFiles(RulePatterns(c.Rules.Files))
		return err
	}},
	{"alerting.config_file", func(c *Config) error {
		if c.Alerting.ConfigFile == "" {
			return nil
		}
		if _, err := os.Stat(string(c.Alerting.ConfigFile)); err != nil {
			return nil // reported by the section's own check (checkReadable)
		}
		_, err := routing.Validate(string(c.Alerting.ConfigFile))
		return unprefix(err, "alerting.config_file")
	}},
	{"http.web_config_file", func(c *Config) error {
		if c.HTTP.WebConfigFile == "" {
			return nil
		}
		if err := web.Validate(string(c.HTTP.WebConfigFile)); err != nil {
			return fmt.Errorf("%s: %w", c.HTTP.WebConfigFile, err)
		}
		return nil
	}},
}

func loadMapping(p Path) error {
	if p == "" {
		return nil
	}
	_, err := names.Load(string(p))
	return err
}

// RulePatterns turns rules.files into the glob patterns the rules
// manager takes.
func RulePatterns(files []Path) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = string(f)
	}
	return out
}

// unprefix drops a leading "key: " or "key " that a loader put in front of
// its message, since the configuration error names the key already.
func unprefix(err error, key string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, p := range []string{key + ": ", key + " "} {
		if len(msg) > len(p) && msg[:len(p)] == p {
			return errors.New(msg[len(p):])
		}
	}
	return err
}
