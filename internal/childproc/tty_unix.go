//go:build unix

package childproc

import (
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// controllingTerminal is this process's controlling terminal, or none (-1).
type controllingTerminal struct{ fd int }

// openControllingTerminal opens /dev/tty; without one (CI, a service, a
// pipeline under setsid) every signal is forwarded.
func openControllingTerminal() controllingTerminal {
	fd, err := unix.Open("/dev/tty", unix.O_RDONLY|unix.O_NOCTTY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return controllingTerminal{fd: -1}
	}
	return controllingTerminal{fd: fd}
}

func (t controllingTerminal) close() {
	if t.fd >= 0 {
		_ = unix.Close(t.fd)
	}
}

// deliveredToChild reports whether sig is one the terminal sends to its whole
// foreground group and both we and the child are in that group, so the child
// already has its own copy. Any doubt (no terminal, the child gone) answers
// false: a duplicate is better than a signal the child never gets. SIGHUP is
// always forwarded for the same reason: a second hangup changes nothing, a
// missing one leaves the child running after its terminal is gone.
func (t controllingTerminal) deliveredToChild(sig os.Signal, childPID int) bool {
	if sig != syscall.SIGINT && sig != syscall.SIGQUIT && sig != syscall.SIGWINCH {
		return false
	}
	if t.fd < 0 {
		return false
	}
	foreground, err := unix.IoctlGetInt(t.fd, unix.TIOCGPGRP)
	if err != nil {
		return false
	}
	childGroup, err := unix.Getpgid(childPID)
	if err != nil {
		return false
	}
	return foreground == unix.Getpgrp() && foreground == childGroup
}
