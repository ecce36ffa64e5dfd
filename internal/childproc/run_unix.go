//go:build unix

package childproc

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// forwardedSignals are relayed from this process to the child.
var forwardedSignals = []os.Signal{
	syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT,
	syscall.SIGUSR1, syscall.SIGUSR2, syscall.SIGWINCH,
}

// Run starts the child, relays signals to it until it exits, and returns its
// exit code: its own code, or 128+N when signal N killed it (137 SIGKILL,
// 143 SIGTERM). err is non-nil only when the child could not be started; the
// code is then 127 (ErrCommandNotFound) or 126 (ErrNotExecutable, a bad
// working directory) or 1 (ctx already done, anything else). Run never exits
// the process.
//
// SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH are
// forwarded. When the child has not exited TermGrace after a SIGTERM reached
// it, or after ctx is cancelled (which sends SIGTERM), it is killed.
//
// Process group: the child stays in ours. In its own group it would be a
// background job: its first read of the terminal (terraform's "Enter a
// value:") would stop it with SIGTTIN, and Ctrl-Z/fg would no longer reach it.
// Sharing the group means a key the terminal turns into a signal (Ctrl-C
// SIGINT, Ctrl-\ SIGQUIT, a resize's SIGWINCH) reaches the child directly, so
// those are not forwarded when the child's group is the terminal's foreground
// group that also holds us: terraform gets one SIGINT per Ctrl-C, since two
// mean "exit immediately". The cost: a `kill -INT` sent to sentinel itself
// while it is in the foreground is not relayed; SIGTERM always is.
func Run(ctx context.Context, opts Options) (int, error) {
	cmd, log, grace, code, err := prepare(ctx, opts)
	if err != nil {
		return code, err
	}

	// Notify before Start: a signal between Start and Notify would kill us and
	// orphan the child. A signal this process inherited as ignored (nohup, a
	// script's `cmd &`) is left ignored, so the child inherits that too.
	sigCh := make(chan os.Signal, 16)
	for _, sig := range forwardedSignals {
		if !signal.Ignored(sig) {
			signal.Notify(sigCh, sig)
		}
	}
	defer signal.Stop(sigCh)

	if err := cmd.Start(); err != nil {
		return startFailure(opts, err)
	}
	child := cmd.Process
	log.Debug("child started", "path", opts.Path, "pid", child.Pid)

	tty := openControllingTerminal()
	defer tty.close()

	// Wait's error says nothing ProcessState does not (and ErrWaitDelay only
	// that a grandchild still held the output), so only the state is used.
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(done)
	}()

	var (
		killTimer *time.Timer
		killC     <-chan time.Time
		ctxDone   = ctx.Done()
	)
	defer func() {
		if killTimer != nil {
			killTimer.Stop()
		}
	}()
	armKill := func() {
		if killTimer == nil {
			killTimer = time.NewTimer(grace)
			killC = killTimer.C
		}
	}

	for {
		select {
		case <-done:
			return exitCode(cmd.ProcessState), nil

		case sig := <-sigCh:
			if tty.deliveredToChild(sig, child.Pid) {
				log.Debug("signal already delivered by the terminal", "signal", sig.String())
			} else if err := child.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
				log.Warn("forward signal to child", "signal", sig.String(), "error", err)
			} else {
				log.Debug("forwarded signal to child", "signal", sig.String())
			}
			// Only SIGTERM escalates. SIGINT is a person at the keyboard:
			// terraform finishes in-flight work on one Ctrl-C and force-quits
			// on a second, so a kill timer would only lose its state lock.
			if sig == syscall.SIGTERM {
				armKill()
			}

		case <-ctxDone:
			ctxDone = nil
			log.Debug("context done, stopping child", "cause", context.Cause(ctx))
			if err := child.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
				log.Warn("send SIGTERM to child", "error", err)
			}
			armKill()

		case <-killC:
			killC = nil
			log.Warn("child did not exit in time, killing it", "grace", grace)
			if err := child.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
				log.Warn("kill child", "error", err)
			}
		}
	}
}

// Start failures and signals, as this OS reports them (see startFailure and
// exitCode in run.go).
const (
	permissionHint = "is not executable (permission denied); chmod +x it or check the mount"
	badFormatHint  = "is not a program this system can run (exec format error); add a #! line or use a binary built for this platform"
)

// errBadFormat is the start error for a file this OS cannot run.
var errBadFormat error = syscall.ENOEXEC

// killedBy reports the signal that killed the child, if one did.
func killedBy(state *os.ProcessState) (int, bool) {
	if ws, ok := state.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return int(ws.Signal()), true
	}
	return 0, false
}
