package approval

import (
	"context"

	"github.com/sentinel-gw/sentinel/core/versioned"
	"github.com/sentinel-gw/sentinel/ports"
)

// MaxUpdateAttempts bounds UpdateWithRetry.
const MaxUpdateAttempts = versioned.MaxAttempts

// UpdateWithRetry is the optimistic-locking loop (versioned.Update) for
// approval requests: mutate (Approve, Deny, Cancel, Expire with their
// arguments bound) sees the fresh record on every attempt, so an approve
// racing a cancel is judged against whichever landed first.
func UpdateWithRetry(ctx context.Context, store ports.ApprovalStore, id string,
	mutate func(ports.ApprovalRequest) (ports.ApprovalRequest, error),
) (ports.ApprovalRequest, error) {
	return versioned.Update(ctx, versioned.Record[ports.ApprovalRequest]{
		Noun: "request", Get: store.GetRequest, Put: store.UpdateRequest,
		Pin: func(next *ports.ApprovalRequest, read ports.ApprovalRequest) {
			next.ID, next.Version = read.ID, read.Version
		},
	}, id, mutate)
}
