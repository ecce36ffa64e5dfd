package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// go.mod's go line is the lowest Go that builds the module: the highest go
// line among the modules it requires (it can be no lower), and no higher, so
// `go install` works on every Go that can build it without first downloading
// a newer toolchain. (A language feature or library API newer than the line
// fails the build itself.)
func TestGoLineIsTheMinimum(t *testing.T) {
	t.Parallel()
	cmd := exec.Command("go", "list", "-m", "-json", "all")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -m -json all: %v", err)
	}
	type module struct {
		Path, Version, GoVersion string
		Main                     bool
	}
	var main module
	var need module
	dec := json.NewDecoder(bytes.NewReader(out))
	for dec.More() {
		var m module
		if err := dec.Decode(&m); err != nil {
			t.Fatal(err)
		}
		switch {
		case m.Main:
			main = m
		case compareGo(m.GoVersion, need.GoVersion) > 0:
			need = m
		}
	}
	if main.GoVersion == "" || need.GoVersion == "" {
		t.Fatalf("no go lines found: main %+v, highest requirement %+v", main, need)
	}
	if main.GoVersion != need.GoVersion {
		t.Errorf("go.mod says go %s, but the highest go line among its requirements is %s (%s %s): set `go mod edit -go=%s`",
			main.GoVersion, need.GoVersion, need.Path, need.Version, need.GoVersion)
	}
	// A toolchain line would make every older Go download that toolchain again.
	if bytes.Contains(readGoMod(t), []byte("\ntoolchain ")) {
		t.Error("go.mod has a toolchain line: drop it (go mod edit -toolchain=none)")
	}
}

func readGoMod(t *testing.T) []byte {
	t.Helper()
	cmd := exec.Command("go", "mod", "edit", "-print")
	cmd.Dir = repoRoot(t)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compareGo compares Go versions such as "1.26", "1.26.0" and "1.26rc1"
// numerically ("" is the lowest).
func compareGo(a, b string) int {
	pa, pb := goVersionParts(a), goVersionParts(b)
	for i := range max(len(pa), len(pb)) {
		var x, y int
		if i < len(pa) {
			x = pa[i]
		}
		if i < len(pb) {
			y = pb[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

func goVersionParts(v string) []int {
	if v == "" {
		return nil
	}
	// A pre-release (1.26rc1) sorts as its release's .0 minus one step: ignore the suffix.
	if i := strings.IndexAny(v, "abcdefghijklmnopqrstuvwxyz"); i >= 0 {
		v = v[:i]
	}
	var parts []int
	sc := bufio.NewScanner(strings.NewReader(strings.ReplaceAll(v, ".", "\n")))
	for sc.Scan() {
		n, _ := strconv.Atoi(sc.Text())
		parts = append(parts, n)
	}
	return parts
}

func TestCompareGo(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		want int
	}{
		{"1.26.0", "1.26.0", 0}, {"1.26", "1.26.0", 0}, {"1.26.8", "1.26.0", 1}, {"1.25.9", "1.26.0", -1},
		{"1.9", "1.10", -1}, {"", "1.21", -1}, {"1.27rc1", "1.26.8", 1},
	} {
		if got := compareGo(tt.a, tt.b); got != tt.want {
			t.Errorf("compareGo(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
