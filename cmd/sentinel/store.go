package main

import (
	"context"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/bolt"
	"github.com/sentinel-gw/sentinel/internal/storeurl"
	"github.com/sentinel-gw/sentinel/ports"
)

// openStore opens the adapter a store URL names. Commands call it only when
// they need a store, so --help and version never touch one.
func openStore(_ context.Context, raw string, clock ports.Clock) (ports.SessionStore, error) {
	spec, err := storeurl.Parse(raw)
	if err != nil {
		return nil, err
	}
	switch spec.Kind {
	case storeurl.Bolt:
		timeout := spec.LockTimeout
		if timeout == 0 {
			timeout = 2 * time.Second
		}
		return bolt.Open(spec.Path, clock, bolt.Options{LockTimeout: timeout})
	default:
		return nil, fmt.Errorf("store %s: the %s backend is not built into this sentinel yet", spec.Redacted(), spec.Kind)
	}
}

// redactedStore is a store URL that is safe to print.
func redactedStore(raw string) string {
	if spec, err := storeurl.Parse(raw); err == nil {
		return spec.Redacted()
	}
	return "the store"
}
