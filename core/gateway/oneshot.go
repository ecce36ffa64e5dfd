package gateway

import (
	"context"

	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/ports"
)

// IssueOnce runs the pipeline once for a caller without a session (the
// cli, credential_process and console modes), under a fresh request id:
// what sentinel credentials, exec and login do locally, and a broker's
// OneShot does for its callers.
func IssueOnce(ctx context.Context, cfg Config, deps Deps) (ports.Credentials, error) {
	requestID, err := record.NewID()
	if err != nil {
		return ports.Credentials{}, err
	}
	return New(cfg, deps).Issue(ctx, requestID[:16])
}
