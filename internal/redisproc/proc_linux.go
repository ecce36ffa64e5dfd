package redisproc

import (
	"os/exec"
	"syscall"
)

// setParentDeath has the kernel stop the server when the test binary dies
// without running its cleanups (a timeout panic, a kill).
func setParentDeath(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
