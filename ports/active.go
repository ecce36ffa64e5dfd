package ports

import "context"

// ActiveSessionLister lists one user's or one profile's active sessions at
// a cost that grows with the active sessions, never with the ended ones: a
// user's whole history can be long, their live sessions are few. Every
// store adapter implements it; a caller holding a plain SessionStore checks
// for it and falls back to ListSessionsByUser or ...ByProfile, filtering.
//
// Both list sessions whose effective status is active (a lapsed one is not),
// newest first, paged as the other listings. Errors: ErrInvalidArgument for
// an empty user or profile, a bad limit or a bad cursor.
type ActiveSessionLister interface {
	ListActiveSessionsByUser(ctx context.Context, user string, p Page) (SessionPage, error)
	ListActiveSessionsByProfile(ctx context.Context, profile string, p Page) (SessionPage, error)
}
