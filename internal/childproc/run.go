package childproc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"time"
)

// DefaultTermGrace is how long a child has to exit after SIGTERM before it
// is killed.
const DefaultTermGrace = 10 * time.Second

// ioDrainDelay bounds how long Run waits, after the child exits, for
// non-*os.File stdio copies; a grandchild left holding the pipe must not hang us.
const ioDrainDelay = 2 * time.Second

// Options describe the child to run.
type Options struct {
	// Path is the resolved program (see ResolveCommand); Args is its argv,
	// Args[0] included.
	Path string
	Args []string
	// Env is the child's whole environment (see ChildEnv).
	Env []string
	Dir string

	Stdin          io.Reader
	Stdout, Stderr io.Writer

	// TermGrace: after forwarding SIGTERM (or on ctx cancel), how long to
	// wait before SIGKILL. Default 10s.
	TermGrace time.Duration
	Logger    *slog.Logger
}

// prepare checks opts and builds the command; on a failure it returns the
// exit code Run reports (see Run) and an error that says what to do.
func prepare(ctx context.Context, opts Options) (cmd *exec.Cmd, log *slog.Logger, grace time.Duration, code int, err error) {
	log = opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	grace = opts.TermGrace
	if grace <= 0 {
		grace = DefaultTermGrace
	}
	if opts.Path == "" {
		return nil, nil, 0, 1, errors.New("childproc: Options.Path is empty; resolve the command with ResolveCommand first")
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, 0, 1, fmt.Errorf("child %q not started: %w", opts.Path, err)
	}
	// Checked here because the fork's own chdir error reads like a missing command.
	if opts.Dir != "" {
		if info, err := os.Stat(opts.Dir); err != nil || !info.IsDir() {
			return nil, nil, 0, ExitNotExecutable, fmt.Errorf("cannot run %q in %q: not an existing directory: %w", opts.Path, opts.Dir, ErrNotExecutable)
		}
	}
	args := opts.Args
	if len(args) == 0 {
		args = []string{opts.Path}
	}

	cmd = &exec.Cmd{
		Path:      opts.Path,
		Args:      args,
		Env:       opts.Env,
		Dir:       opts.Dir,
		Stdin:     opts.Stdin,
		Stdout:    opts.Stdout,
		Stderr:    opts.Stderr,
		WaitDelay: ioDrainDelay,
	}
	if cmd.Env == nil {
		// exec.Cmd would pass our whole environment; the caller must choose.
		cmd.Env = []string{}
	}
	return cmd, log, grace, 0, nil
}

// startFailure turns a Start error into a shell-style code and an error that
// says what to do.
func startFailure(opts Options, err error) (int, error) {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if _, statErr := os.Stat(opts.Path); statErr == nil {
			// execve says ENOENT for an existing file whose #! interpreter is missing.
			return ExitNotFound, fmt.Errorf("command %q exists but its interpreter (the #! line) was not found: %w", opts.Path, ErrCommandNotFound)
		}
		return ExitNotFound, fmt.Errorf("command %q not found; check the path or install it: %w", opts.Path, ErrCommandNotFound)
	case errors.Is(err, fs.ErrPermission):
		return ExitNotExecutable, fmt.Errorf("command %q %s: %w", opts.Path, permissionHint, ErrNotExecutable)
	case errors.Is(err, errBadFormat):
		return ExitNotExecutable, fmt.Errorf("command %q %s: %w", opts.Path, badFormatHint, ErrNotExecutable)
	default:
		return 1, fmt.Errorf("start %q: %w", opts.Path, err)
	}
}

// exitCode reports a finished child's status as a shell would: its own
// code, or 128+N when signal N killed it.
func exitCode(state *os.ProcessState) int {
	if state == nil {
		return 1
	}
	if sig, ok := killedBy(state); ok {
		return 128 + sig
	}
	if code := state.ExitCode(); code >= 0 {
		return code
	}
	return 1
}
