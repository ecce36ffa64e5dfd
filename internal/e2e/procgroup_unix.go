//go:build unix

package e2e

import (
	"os"
	"os/exec"
	"syscall"
)

// OwnProcessGroup makes cmd start a process group of its own, so
// KillProcessGroup ends it with everything it started.
func OwnProcessGroup(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }

// KillProcessGroup kills p's process group (p started by OwnProcessGroup).
func KillProcessGroup(p *os.Process) { _ = syscall.Kill(-p.Pid, syscall.SIGKILL) }
