package main

import (
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/alecthomas/kong"
)

// Set by a release build: -ldflags "-X main.version=1.2.3 -X main.commit=... -X main.date=..."
// (.goreleaser.yaml). A plain `go build` or `go install` leaves them empty and
// buildInfo reads what the Go toolchain stamped into the binary instead.
var (
	version = ""
	commit  = ""
	date    = ""
)

// versionInfo is what `sentinel version` prints, and its JSON.
type versionInfo struct {
	Version  string `json:"version"`
	Commit   string `json:"commit"`
	Date     string `json:"date"`
	Modified bool   `json:"modified,omitempty"`
	Go       string `json:"go"`
	OS       string `json:"os"`
	Arch     string `json:"arch"`
}

// buildInfo merges the release build's -ldflags values with the module
// version and VCS stamp that the Go toolchain records (`go install
// module@v1.2.3` gives v1.2.3; a build in a clone gives the commit and its
// time). What neither knows is "unknown", never made up.
func buildInfo(ldVersion, ldCommit, ldDate string, info *debug.BuildInfo, ok bool) versionInfo {
	v := versionInfo{Version: ldVersion, Commit: ldCommit, Date: ldDate, Go: runtime.Version(), OS: runtime.GOOS, Arch: runtime.GOARCH}
	if ok && info != nil {
		if v.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if v.Commit == "" {
					v.Commit = s.Value
				}
			case "vcs.time":
				if v.Date == "" {
					v.Date = s.Value
				}
			case "vcs.modified":
				v.Modified = ldCommit == "" && s.Value == "true"
			}
		}
	}
	if v.Version == "" {
		v.Version = "dev"
	}
	if v.Commit == "" {
		v.Commit = "unknown"
	}
	if v.Date == "" {
		v.Date = "unknown"
	}
	v.Version = strings.TrimPrefix(v.Version, "v")
	return v
}

func currentVersion() versionInfo {
	info, ok := debug.ReadBuildInfo()
	return buildInfo(version, commit, date, info, ok)
}

func (v versionInfo) write(w io.Writer, format string) error {
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	dirty := ""
	if v.Modified {
		dirty = " (modified)"
	}
	_, err := fmt.Fprintf(w, "sentinel %s\ncommit:   %s%s\nbuilt:    %s\ngo:       %s\nplatform: %s/%s\n",
		v.Version, v.Commit, dirty, v.Date, v.Go, v.OS, v.Arch)
	return err
}

// VersionCmd prints the version.
type VersionCmd struct {
	Output string `help:"Output format: text or json." short:"o" enum:"text,json" default:"text"`
}

// Run prints the version; it opens nothing.
func (c VersionCmd) Run(env *Env) error {
	return currentVersion().write(env.Stdout, c.Output)
}

// Help shows an example.
func (VersionCmd) Help() string {
	return "The same as sentinel --version (or -v).\n\nExamples:\n  sentinel version\n  sentinel version -o json"
}

// versionFlag is --version and -v: it prints what `sentinel version` prints
// and stops, like --help, before any command runs or needs its arguments.
type versionFlag bool

// BeforeReset prints the version and exits 0 (run turns the exit into a return).
func (versionFlag) BeforeReset(app *kong.Kong, env *Env) error {
	if err := currentVersion().write(env.Stdout, "text"); err != nil {
		return err
	}
	app.Exit(exitOK)
	return nil
}
