package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// buildInfo is what `copenhagen version` reports: the version, and the
// commit Go embedded at build time (go build in a git checkout stamps
// vcs.revision, vcs.time and vcs.modified; go install ...@version records
// the module version instead).
type buildInfo struct {
	Version   string
	Revision  string // "" when not built from a VCS checkout
	Time      string // commit time, RFC 3339
	Modified  bool   // the checkout had uncommitted changes
	GoVersion string
}

func readBuildInfo() buildInfo {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(version, bi)
}

// fromBuildInfo reads what Go embedded (bi may be nil); linkerVersion is
// the -X main.version value, "dev" when none was given.
func fromBuildInfo(linkerVersion string, bi *debug.BuildInfo) buildInfo {
	b := buildInfo{Version: linkerVersion, GoVersion: runtime.Version()}
	if bi == nil {
		return b
	}
	if bi.GoVersion != "" {
		b.GoVersion = bi.GoVersion
	}
	if b.Version == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		b.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Revision = s.Value
		case "vcs.time":
			b.Time = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	return b
}

// versionText renders the build information the way Prometheus's
// --version does: one line per fact.
func versionText() string { return readBuildInfo().String() }

func (b buildInfo) String() string {
	rev := b.Revision
	if rev == "" {
		rev = "unknown"
	}
	if b.Modified {
		rev += " (modified)"
	}
	var s strings.Builder
	fmt.Fprintf(&s, "copenhagen, version %s (revision: %s)\n", b.Version, rev)
	if b.Time != "" {
		fmt.Fprintf(&s, "  commit date: %s\n", b.Time)
	}
	fmt.Fprintf(&s, "  go version:  %s\n", b.GoVersion)
	fmt.Fprintf(&s, "  platform:    %s/%s", runtime.GOOS, runtime.GOARCH)
	return s.String()
}
