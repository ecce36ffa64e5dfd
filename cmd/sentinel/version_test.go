package main

import (
	"encoding/json"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildInfo(t *testing.T) {
	t.Parallel()
	vcs := &debug.BuildInfo{
		Main: debug.Module{Path: "github.com/sentinel-gw/sentinel", Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "4f2a9c0e"}, {Key: "vcs.time", Value: "2026-11-30T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
		},
	}
	installed := &debug.BuildInfo{Main: debug.Module{Path: "github.com/sentinel-gw/sentinel", Version: "v1.4.0"}}
	tests := []struct {
		name                string
		ldVersion, ldCommit string
		ldDate              string
		info                *debug.BuildInfo
		want                versionInfo
	}{
		{"release build: -ldflags win", "1.5.0", "abc123", "2026-12-01T00:00:00Z", vcs,
			versionInfo{Version: "1.5.0", Commit: "abc123", Date: "2026-12-01T00:00:00Z"}},
		{"go install module@version", "", "", "", installed,
			versionInfo{Version: "1.4.0", Commit: "unknown", Date: "unknown"}},
		{"build in a clone: the VCS stamp", "", "", "", vcs,
			versionInfo{Version: "dev", Commit: "4f2a9c0e", Date: "2026-11-30T10:00:00Z", Modified: true}},
		{"nothing known", "", "", "", nil,
			versionInfo{Version: "dev", Commit: "unknown", Date: "unknown"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := buildInfo(tt.ldVersion, tt.ldCommit, tt.ldDate, tt.info, tt.info != nil)
			tt.want.Go, tt.want.OS, tt.want.Arch = runtime.Version(), runtime.GOOS, runtime.GOARCH
			if got != tt.want {
				t.Errorf("got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

// --version, -v and the version command print the same thing, exit 0, and
// work with any command or none.
func TestVersionFlagAndCommand(t *testing.T) {
	t.Parallel()
	want := "sentinel " + currentVersion().Version + "\n"
	var first string
	for _, args := range [][]string{{"version"}, {"--version"}, {"-v"}, {"exec", "--version"}, {"server-revoke", "-v"}} {
		e := newCLIEnv(t)
		code, stdout, stderr := e.run(args...)
		if code != exitOK || !strings.HasPrefix(stdout, want) || stderr != "" {
			t.Errorf("%v: exit %d, stdout %q, stderr %q; want exit 0 and %q first", args, code, stdout, stderr, want)
		}
		for _, line := range []string{"commit:", "built:", "go:       " + runtime.Version(), "platform: " + runtime.GOOS + "/" + runtime.GOARCH} {
			if !strings.Contains(stdout, line) {
				t.Errorf("%v: output lacks %q:\n%s", args, line, stdout)
			}
		}
		if first == "" {
			first = stdout
		} else if stdout != first {
			t.Errorf("%v printed\n%s\nbut version printed\n%s", args, stdout, first)
		}
		e.assertNoStore(t)
	}

	e := newCLIEnv(t)
	code, stdout, _ := e.run("version", "-o", "json")
	var got versionInfo
	if err := json.Unmarshal([]byte(stdout), &got); code != exitOK || err != nil {
		t.Fatalf("version -o json: exit %d, %v:\n%s", code, err, stdout)
	}
	if got != currentVersion() {
		t.Errorf("version -o json = %+v, want %+v", got, currentVersion())
	}
}

// A binary built the way .goreleaser.yaml builds it reports the -ldflags values.
func TestVersionFromLdflags(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds a binary")
	}
	bin := filepath.Join(t.TempDir(), "sentinel")
	build := exec.Command("go", "build", "-o", bin,
		"-ldflags", "-X main.version=9.8.7 -X main.commit=0123abcd -X main.date=2026-12-06T00:00:00Z", ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	want := "sentinel 9.8.7\ncommit:   0123abcd\nbuilt:    2026-12-06T00:00:00Z\n"
	if !strings.HasPrefix(string(out), want) {
		t.Errorf("--version printed\n%s\nwant it to start with\n%s", out, want)
	}
	out, err = exec.Command(bin, "version", "-o", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var got versionInfo
	if err := json.Unmarshal(out, &got); err != nil || got.Version != "9.8.7" || got.Commit != "0123abcd" || got.Go == "" {
		t.Errorf("version -o json = %+v (%v):\n%s", got, err, out)
	}
}
