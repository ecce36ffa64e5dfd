package redisstore

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/ports"
)

// portErrors already say what happened; they pass through with context added.
var portErrors = []error{
	ports.ErrNotFound, ports.ErrAlreadyExists, ports.ErrConflict, ports.ErrInvalidTransition,
	ports.ErrInvalidArgument, ports.ErrCorrupt, ports.ErrUnavailable,
}

// serverCodes maps the first word of a Redis error reply to a ports error.
// Codes not listed (LOADING, READONLY, CLUSTERDOWN, NOAUTH, OOM, ...) mean
// the server cannot serve now and map to ports.ErrUnavailable.
var serverCodes = map[string]error{
	codeNotFound: ports.ErrNotFound,
	codeExists:   ports.ErrAlreadyExists,
	codeConflict: ports.ErrConflict,
	codeCorrupt:  ports.ErrCorrupt,
	// A key of ours holds another Redis type: foreign data.
	"WRONGTYPE": ports.ErrCorrupt,
}

// mapError is the one place that turns an error from go-redis or from the
// scripts into one wrapping a ports error, with what (`update session "id"`)
// as context. Network failures keep the original error reachable.
func mapError(what string, err error) error {
	if err == nil {
		return nil
	}
	for _, known := range portErrors {
		if errors.Is(err, known) {
			return fmt.Errorf("redis: %s: %w", what, err)
		}
	}
	if errors.Is(err, redis.Nil) {
		return fmt.Errorf("redis: %s: %w", what, ports.ErrNotFound)
	}
	var reply redis.Error
	if errors.As(err, &reply) {
		code, detail, _ := strings.Cut(reply.Error(), " ")
		if target, ok := serverCodes[code]; ok {
			if strings.HasPrefix(code, "SENTINEL_") {
				// Our own codes: the detail is the whole story.
				return fmt.Errorf("redis: %s: %s: %w", what, detail, target)
			}
			return fmt.Errorf("redis: %s: %w (%w)", what, target, err)
		}
		if strings.Contains(reply.Error(), "would overflow") {
			return fmt.Errorf("redis: %s: %w (%w)", what, ports.ErrInvalidArgument, err)
		}
		return fmt.Errorf("redis: %s: the server refused: %w (%w)", what, ports.ErrUnavailable, err)
	}
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("redis: %s: %w", what, err) // the caller gave up; the store is fine
	}
	// Refused or reset connections, timeouts (i/o, pool, context deadline),
	// a closed client: the store cannot be reached in time.
	return fmt.Errorf("redis: %s: %w (%w)", what, ports.ErrUnavailable, err)
}
