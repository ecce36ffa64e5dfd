// Package ports holds the records, error values and small interfaces that
// the core and the adapters agree on. It imports nothing of ours.
package ports

import "errors"

// Error values every adapter wraps with context. Callers test with errors.Is.
var (
	// ErrNotFound: the record does not exist.
	ErrNotFound = errors.New("not found")
	// ErrAlreadyExists: a create found a record with the same id.
	ErrAlreadyExists = errors.New("already exists")
	// ErrConflict: a conditional update saw a different version than the caller's.
	ErrConflict = errors.New("version conflict")
	// ErrInvalidTransition: the state machine forbids the change (revoked and expired are terminal).
	ErrInvalidTransition = errors.New("invalid state transition")
	// ErrInvalidArgument: the caller passed something malformed (an empty id, a bad limit, a bad cursor).
	ErrInvalidArgument = errors.New("invalid argument")
	// ErrCorrupt: a stored record could not be decoded or fails validation.
	ErrCorrupt = errors.New("corrupt record")
	// ErrUnavailable: the backend could not be reached in time (connection refused, lock wait timed out).
	ErrUnavailable = errors.New("store unavailable")
)
