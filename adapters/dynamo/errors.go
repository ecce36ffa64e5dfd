package dynamo

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/sentinel-gw/sentinel/internal/tlscheck"
	"github.com/sentinel-gw/sentinel/ports"
)

// missingTableError says the table is not there and how to create it. It
// wraps ports.ErrUnavailable and the SDK's error.
type missingTableError struct {
	table string
	store string // the --store URL that names the table
	err   error
}

func (e *missingTableError) Error() string {
	return fmt.Sprintf("table %q does not exist: run `sentinel store init --store %s` (%v)", e.table, e.store, e.err)
}

func (e *missingTableError) Unwrap() []error { return []error{ports.ErrUnavailable, e.err} }

// portErrors pass through unchanged: they already say what happened.
var portErrors = []error{
	ports.ErrNotFound, ports.ErrAlreadyExists, ports.ErrConflict, ports.ErrInvalidTransition,
	ports.ErrInvalidArgument, ports.ErrCorrupt, ports.ErrUnavailable,
	context.Canceled, context.DeadlineExceeded,
}

// mapError turns an error from the SDK into one wrapping a ports error; the
// original stays reachable with errors.Is and errors.As. failed is what a
// failed condition means for the call (ErrAlreadyExists for a create, ...);
// storeURL is quoted when the table is missing. Throttling and transient
// errors arrive here only after the SDK's retryer gave up.
func mapError(table, storeURL string, failed, err error) error {
	if err == nil {
		return nil
	}
	if ccf := (*types.ConditionalCheckFailedException)(nil); errors.As(err, &ccf) {
		if failed == nil {
			failed = ports.ErrConflict
		}
		return fmt.Errorf("table %q: condition failed: %w (%w)", table, failed, err)
	}
	for _, known := range portErrors {
		if errors.Is(err, known) {
			return err
		}
	}
	if rnf := (*types.ResourceNotFoundException)(nil); errors.As(err, &rnf) {
		return &missingTableError{table: table, store: storeURL, err: err}
	}
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded",
			"LimitExceededException":
			return fmt.Errorf("table %q: throttled, still after retries: %w (%w)", table, ports.ErrUnavailable, err)
		case "TransactionConflictException", "TransactionCanceledException":
			// A plain write met an item a break-glass create was checking in
			// a transaction (CreateBreakGlass reads its own cancellations):
			// the caller reads again and retries, as after a lost condition.
			return fmt.Errorf("table %q: %w (%w)", table, ports.ErrConflict, err)
		case "ValidationException", "SerializationException":
			return fmt.Errorf("table %q: request rejected: %w (%w)", table, ports.ErrInvalidArgument, err)
		}
		// Denied access, bad credentials, server faults: the store cannot serve.
		return fmt.Errorf("table %q: %w (%w)", table, ports.ErrUnavailable, err)
	}
	if tlscheck.Untrusted(err) {
		return fmt.Errorf("table %q: the endpoint's TLS certificate is not trusted: %w (%w); give the CA certificate "+
			"that signed it with ?ca_bundle=/path/ca.pem in the store URL (or AWS_CA_BUNDLE, or ca_bundle in the profile)",
			table, ports.ErrUnavailable, err)
	}
	// No answer at all: refused or reset connections, DNS, timeouts, a retry
	// quota that ran out, credentials that could not be loaded.
	return fmt.Errorf("table %q: cannot reach DynamoDB: %w (%w)", table, ports.ErrUnavailable, err)
}
