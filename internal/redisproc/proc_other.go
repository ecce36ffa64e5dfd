//go:build !linux

package redisproc

import "os/exec"

// setParentDeath does nothing here: only Linux can tie a child's life to
// its parent's; the test's cleanup stops the server.
func setParentDeath(*exec.Cmd) {}
