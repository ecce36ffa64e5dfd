package main

import (
	"os"
	"os/exec"
)

// ownProcessGroup: on Windows sentinel puts its child in a job object that
// ends with it, so killing sentinel takes the child too.
func ownProcessGroup(*exec.Cmd) {}

// killProcessGroup kills p; its job object ends its children.
func killProcessGroup(p *os.Process) { _ = p.Kill() }
