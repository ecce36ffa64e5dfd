package awsiam

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/smithy-go"

	"github.com/sentinel-gw/sentinel/ports"
)

// codes maps IAM's error codes to ports errors. A code not listed (and any
// error without one: the network, a timeout after the retries) maps to
// ports.ErrUnavailable.
var codes = map[string]error{
	"NoSuchEntity":               ports.ErrNotFound,
	"LimitExceeded":              ports.ErrPolicyQuota,
	"MalformedPolicyDocument":    ports.ErrInvalidArgument,
	"ValidationError":            ports.ErrInvalidArgument,
	"InvalidInput":               ports.ErrInvalidArgument,
	"UnmodifiableEntity":         ports.ErrInvalidArgument,
	"AccessDenied":               ports.ErrForbidden,
	"AccessDeniedException":      ports.ErrForbidden,
	"InvalidClientTokenId":       ports.ErrUnauthenticated,
	"SignatureDoesNotMatch":      ports.ErrUnauthenticated,
	"ExpiredToken":               ports.ErrUnauthenticated,
	"MissingAuthenticationToken": ports.ErrUnauthenticated,
}

// mapError is the one place that turns an error from the IAM client into
// one wrapping a ports error, with what ("put policy X on role R") as
// context; the original error stays reachable.
func mapError(what string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("iam: %s: %w", what, err)
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		if target, ok := codes[api.ErrorCode()]; ok {
			return fmt.Errorf("iam: %s: %w: %s: %s", what, target, api.ErrorCode(), api.ErrorMessage())
		}
		return fmt.Errorf("iam: %s: %w: %s: %s", what, ports.ErrUnavailable, api.ErrorCode(), api.ErrorMessage())
	}
	return fmt.Errorf("iam: %s: %w (%w)", what, ports.ErrUnavailable, err)
}
