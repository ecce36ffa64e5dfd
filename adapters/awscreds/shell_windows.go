//go:build windows

package awscreds

import (
	"context"
	"os/exec"
)

// shellCommand runs line with cmd.exe, as aws-vault runs a configured process.
func shellCommand(ctx context.Context, line string) *exec.Cmd {
	return exec.CommandContext(ctx, "cmd.exe", "/C", line) //nolint:gosec // the user's own mfa_process
}
