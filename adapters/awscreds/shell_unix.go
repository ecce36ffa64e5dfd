//go:build unix

package awscreds

import (
	"context"
	"os/exec"
)

// shellCommand runs line with /bin/sh, as aws-vault and the AWS CLI run a configured process.
func shellCommand(ctx context.Context, line string) *exec.Cmd {
	return exec.CommandContext(ctx, "/bin/sh", "-c", line) //nolint:gosec // the user's own mfa_process
}
