package session

import (
	"context"

	"github.com/sentinel-gw/sentinel/core/versioned"
	"github.com/sentinel-gw/sentinel/ports"
)

// MaxUpdateAttempts bounds UpdateWithRetry.
const MaxUpdateAttempts = versioned.MaxAttempts

// UpdateWithRetry is the optimistic-locking loop (versioned.Update) for
// sessions: mutate sees the fresh record on every attempt, so a revoke that
// lands first always wins.
func UpdateWithRetry(ctx context.Context, store ports.SessionStore, id string,
	mutate func(ports.Session) (ports.Session, error),
) (ports.Session, error) {
	return versioned.Update(ctx, versioned.Record[ports.Session]{
		Noun: "session", Get: store.GetSession, Put: store.UpdateSession,
		Pin: func(next *ports.Session, read ports.Session) { next.ID, next.Version = read.ID, read.Version },
	}, id, mutate)
}
