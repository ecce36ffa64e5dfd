package bolt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"time"

	berrors "go.etcd.io/bbolt/errors"

	"github.com/sentinel-gw/sentinel/ports"
)

// lockedError is a lock wait that ran out: another process holds the file.
// It wraps ports.ErrUnavailable and bbolt's ErrTimeout.
type lockedError struct {
	path   string
	waited time.Duration
}

func (e *lockedError) Error() string {
	return fmt.Sprintf("bolt: the store file %s is locked by another process (waited %s); "+
		"is another sentinel stuck? retry, or use a server store (redis://, dynamodb://)", e.path, e.waited)
}

func (e *lockedError) Unwrap() []error { return []error{ports.ErrUnavailable, berrors.ErrTimeout} }

// portErrors are passed through unchanged: they already say what happened.
var portErrors = []error{
	ports.ErrNotFound, ports.ErrAlreadyExists, ports.ErrConflict, ports.ErrInvalidTransition,
	ports.ErrInvalidArgument, ports.ErrCorrupt, ports.ErrUnavailable,
	context.Canceled, context.DeadlineExceeded,
}

// mapError turns an error from bbolt or the file system into one wrapping a
// ports error, naming the store file. waited is the lock timeout, quoted when
// the lock wait ran out. The original error stays reachable with errors.Is.
func mapError(path string, waited time.Duration, err error) error {
	if err == nil {
		return nil
	}
	for _, known := range portErrors {
		if errors.Is(err, known) {
			return err
		}
	}
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return &lockedError{path: path, waited: waited}
	case errors.Is(err, berrors.ErrInvalid),
		errors.Is(err, berrors.ErrVersionMismatch),
		errors.Is(err, berrors.ErrChecksum):
		return fmt.Errorf("bolt: the store file %s is not a bbolt database, or is damaged: %w (%w)", path, ports.ErrCorrupt, err)
	case errors.Is(err, berrors.ErrKeyRequired),
		errors.Is(err, berrors.ErrKeyTooLarge),
		errors.Is(err, berrors.ErrValueTooLarge):
		return fmt.Errorf("bolt: %s: %w (%w)", path, ports.ErrInvalidArgument, err)
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("bolt: the store file %s is missing: %w (%w)", path, ports.ErrUnavailable, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("bolt: no permission to open the store file %s: %w (%w)", path, ports.ErrUnavailable, err)
	default:
		// Closed handles, a full disk, I/O errors: the store cannot serve now.
		return fmt.Errorf("bolt: the store file %s: %w (%w)", path, ports.ErrUnavailable, err)
	}
}
