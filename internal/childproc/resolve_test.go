//go:build unix

package childproc

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestResolveCommand(t *testing.T) {
	dir := t.TempDir()
	binA, binB, relDir := filepath.Join(dir, "a"), filepath.Join(dir, "b"), filepath.Join(dir, "rel")
	for _, d := range []string{binA, binB, relDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(path string, mode os.FileMode) {
		if err := os.WriteFile(path, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(binA, "tool"), 0o644) // shadowing, not executable: skipped
	write(filepath.Join(binB, "tool"), 0o755)
	write(filepath.Join(binB, "plain"), 0o644)
	write(filepath.Join(relDir, "local-only"), 0o755)
	if err := os.Mkdir(filepath.Join(binA, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	pathVar := "PATH=" + binA + string(filepath.ListSeparator) + binB

	tests := []struct {
		name     string
		args     []string
		env      []string
		wantPath string
		wantArgv []string
		wantErr  error
	}{
		{"found in PATH, later executable entry wins over non-executable", []string{"tool", "-x"}, []string{pathVar}, filepath.Join(binB, "tool"), []string{"tool", "-x"}, nil},
		{"no args runs $SHELL", nil, []string{pathVar, "SHELL=" + filepath.Join(binB, "tool")}, filepath.Join(binB, "tool"), []string{filepath.Join(binB, "tool")}, nil},
		{"no args and no $SHELL runs /bin/sh", []string{}, []string{pathVar}, "/bin/sh", []string{"/bin/sh"}, nil},
		{"no args and empty $SHELL runs /bin/sh", nil, []string{"SHELL="}, "/bin/sh", []string{"/bin/sh"}, nil},
		{"name with slash used as given", []string{filepath.Join(binB, "tool"), "plan"}, nil, filepath.Join(binB, "tool"), []string{filepath.Join(binB, "tool"), "plan"}, nil},
		{"missing in PATH", []string{"terrafrom"}, []string{pathVar}, "", nil, ErrCommandNotFound},
		{"no PATH at all", []string{"tool"}, nil, "", nil, ErrCommandNotFound},
		{"only non-executable in PATH", []string{"plain"}, []string{pathVar}, "", nil, ErrCommandNotFound},
		{"directory in PATH is not a command", []string{"adir"}, []string{pathVar}, "", nil, ErrCommandNotFound},
		{"relative PATH entry skipped", []string{"local-only"}, []string{"PATH=" + relDir[len(dir)+1:]}, "", nil, ErrCommandNotFound},
		{"explicit non-executable path", []string{filepath.Join(binB, "plain")}, nil, "", nil, ErrNotExecutable},
		{"explicit directory", []string{binA}, nil, "", nil, ErrNotExecutable},
		{"explicit missing path", []string{filepath.Join(dir, "nope")}, nil, "", nil, ErrCommandNotFound},
		{"empty name", []string{""}, []string{pathVar}, "", nil, ErrCommandNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, argv, err := ResolveCommand(tt.args, tt.env)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if path != tt.wantPath || !slices.Equal(argv, tt.wantArgv) {
				t.Fatalf("got %q %q, want %q %q", path, argv, tt.wantPath, tt.wantArgv)
			}
		})
	}
}

func TestResolveCommandRelativePathEntryNamesTheFix(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tool"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	_, _, err := ResolveCommand([]string{"tool"}, []string{"PATH=."})
	if !errors.Is(err, ErrCommandNotFound) {
		t.Fatalf("err = %v, want ErrCommandNotFound", err)
	}
	if want := `run it as ./tool`; !strings.Contains(err.Error(), want) {
		t.Fatalf("err %q does not say %q", err, want)
	}
}

func TestResolveCommandNotFoundMessage(t *testing.T) {
	_, _, err := ResolveCommand([]string{"terrafrom"}, []string{"PATH=/nonexistent"})
	if want := `command "terrafrom" not found in PATH`; err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("err %v does not say %q", err, want)
	}
	if StartErrorCode(err) != 127 {
		t.Fatalf("StartErrorCode = %d, want 127", StartErrorCode(err))
	}
	if StartErrorCode(errors.New("other")) != 1 {
		t.Fatal("StartErrorCode of an unrelated error must be 1")
	}
}
