package ports

import (
	"context"
	"time"
)

// ApprovalGrant is an approved request that currently applies to a user and profile.
type ApprovalGrant struct {
	ID        string
	ExpiresAt time.Time
}

// BreakGlassGrant is an active break-glass event for a user and profile.
type BreakGlassGrant struct {
	ID        string
	ExpiresAt time.Time
}

// ApprovalLookup finds an approval that applies now.
type ApprovalLookup interface {
	// ActiveApproval returns ErrNotFound when no approval of who (see
	// Identity.Made) applies.
	ActiveApproval(ctx context.Context, who Identity, profile string, now time.Time) (ApprovalGrant, error)
}

// BreakGlassLookup finds an active break-glass event.
type BreakGlassLookup interface {
	// ActiveBreakGlass returns ErrNotFound when no event of who (see
	// Identity.Made) is active.
	ActiveBreakGlass(ctx context.Context, who Identity, profile string, now time.Time) (BreakGlassGrant, error)
}
