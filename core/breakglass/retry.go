package breakglass

import (
	"context"

	"github.com/sentinel-gw/sentinel/core/versioned"
	"github.com/sentinel-gw/sentinel/ports"
)

// MaxUpdateAttempts bounds UpdateWithRetry.
const MaxUpdateAttempts = versioned.MaxAttempts

// UpdateWithRetry is the optimistic-locking loop (versioned.Update) for
// break-glass events: mutate (Close, Expire with their arguments bound) sees
// the fresh record on every attempt, so a close racing an expiry is judged
// against whichever landed first.
func UpdateWithRetry(ctx context.Context, store ports.BreakGlassStore, id string,
	mutate func(ports.BreakGlassEvent) (ports.BreakGlassEvent, error),
) (ports.BreakGlassEvent, error) {
	return versioned.Update(ctx, versioned.Record[ports.BreakGlassEvent]{
		Noun: "break-glass event", Get: store.GetBreakGlass, Put: store.UpdateBreakGlass,
		Pin: func(next *ports.BreakGlassEvent, read ports.BreakGlassEvent) {
			next.ID, next.Version = read.ID, read.Version
		},
	}, id, mutate)
}
