package childproc

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Errors for a command that cannot be started; shells exit 127 and 126 for them.
var (
	ErrCommandNotFound = errors.New("command not found")
	ErrNotExecutable   = errors.New("command not executable")
)

// Exit codes a shell uses when it cannot start a command.
const (
	ExitNotFound      = 127
	ExitNotExecutable = 126
)

// StartErrorCode maps an error from ResolveCommand or Run to the exit code a
// shell would use: 127 not found, 126 not executable, 1 for anything else.
func StartErrorCode(err error) int {
	switch {
	case errors.Is(err, ErrCommandNotFound):
		return ExitNotFound
	case errors.Is(err, ErrNotExecutable):
		return ExitNotExecutable
	default:
		return 1
	}
}

// ResolveCommand finds the program to run. With no args it runs $SHELL from
// env (then /bin/sh). A name containing a slash is used as given; any other
// name is looked up in env's PATH. argv[0] stays as the user typed it.
//
// Relative PATH entries ("", ".", "bin") are skipped, as Go's exec.LookPath
// refuses them: a process holding credentials must not run whatever a
// checked-out repository puts in the current directory under a common name.
func ResolveCommand(args []string, env []string) (path string, argv []string, err error) {
	if len(args) == 0 {
		shell, _ := lookupEnv(env, "SHELL")
		if shell == "" {
			shell = "/bin/sh"
		}
		args = []string{shell}
	}
	name := args[0]
	argv = append([]string(nil), args...)
	if name == "" {
		return "", nil, fmt.Errorf("empty command name: %w", ErrCommandNotFound)
	}

	if strings.Contains(name, "/") {
		if err := checkExecutable(name); err != nil {
			return "", nil, err
		}
		return name, argv, nil
	}

	pathVar, _ := lookupEnv(env, "PATH")
	var skippedRelative string
	for _, dir := range filepath.SplitList(pathVar) {
		candidate := filepath.Join(dir, name)
		if !filepath.IsAbs(dir) {
			if skippedRelative == "" && checkExecutable(candidate) == nil {
				skippedRelative = dir
			}
			continue
		}
		if checkExecutable(candidate) == nil {
			return candidate, argv, nil
		}
	}
	if skippedRelative != "" {
		return "", nil, fmt.Errorf("command %q is only in the relative PATH entry %q; run it as ./%s or give its absolute path: %w",
			name, skippedRelative, filepath.Join(skippedRelative, name), ErrCommandNotFound)
	}
	return "", nil, fmt.Errorf("command %q not found in PATH; check the spelling or install it: %w", name, ErrCommandNotFound)
}

// checkExecutable reports why path cannot be executed, if it cannot.
func checkExecutable(path string) error {
	info, err := os.Stat(path) //nolint:gosec // G703: the path is the command the user asked to run
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("command %q not found: %w", path, ErrCommandNotFound)
	case err != nil:
		return fmt.Errorf("command %q: %w: %w", path, err, ErrNotExecutable)
	case info.IsDir():
		return fmt.Errorf("command %q is a directory: %w", path, ErrNotExecutable)
	case info.Mode().Perm()&0o111 == 0:
		return fmt.Errorf("command %q is not executable; chmod +x it: %w", path, ErrNotExecutable)
	}
	return nil
}
