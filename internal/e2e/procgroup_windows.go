package e2e

import (
	"os"
	"os/exec"
)

// OwnProcessGroup: Windows has no process groups to kill; sentinel puts its
// child in a job object that ends with it.
func OwnProcessGroup(*exec.Cmd) {}

// KillProcessGroup kills p; the job object of a sentinel process ends its child.
func KillProcessGroup(p *os.Process) { _ = p.Kill() }
