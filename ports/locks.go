package ports

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// LockKind says what a lock stops: one user's credentials, or a profile's.
type LockKind string

// The lock kinds.
const (
	LockUser    LockKind = "user"
	LockProfile LockKind = "profile"
)

// Valid reports whether k is one of the known kinds.
func (k LockKind) Valid() bool { return k == LockUser || k == LockProfile }

// Lock refuses every credential request, and every new session, of a user
// or for a profile until it ends: at ExpiresAt (when set) or when someone
// unlocks it. A lock has no stored status: whether it is in force is
// decided on read, with the reader's clock (InForce).
type Lock struct {
	ID   string   `json:"id"` // 32 lowercase hex
	Kind LockKind `json:"kind"`
	// Target is the user (a name, or a full principal ARN) or the profile
	// the lock stops. See Matches for how a user target is compared.
	Target    string    `json:"target"`
	Reason    string    `json:"reason"`
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiresAt is when the lock ends on its own; zero means never (until
	// unlocked).
	ExpiresAt time.Time `json:"expires_at,omitzero"`
	// EndedAt and EndedBy are set once, by an unlock (EndLock).
	EndedAt time.Time `json:"ended_at,omitzero"`
	EndedBy string    `json:"ended_by,omitempty"`
	// Version is owned by the store: create writes 1, the end writes 2.
	Version int64 `json:"version"`
}

// Check validates a lock to store. Errors wrap ErrInvalidArgument.
func (l Lock) Check() error {
	switch {
	case l.ID == "":
		return fmt.Errorf("lock: empty id: %w", ErrInvalidArgument)
	case !l.Kind.Valid():
		return fmt.Errorf("lock %q: unknown kind %q (want user or profile): %w", l.ID, l.Kind, ErrInvalidArgument)
	case strings.TrimSpace(l.Target) == "":
		return fmt.Errorf("lock %q: empty %s: %w", l.ID, l.Kind, ErrInvalidArgument)
	}
	return nil
}

// InForce reports whether the lock refuses requests at now: not unlocked,
// and either without an end or ending after now.
func (l Lock) InForce(now time.Time) bool {
	return l.EndedAt.IsZero() && (l.ExpiresAt.IsZero() || now.Before(l.ExpiresAt))
}

// Matches reports whether the lock covers a request of who for profile.
//
// A profile lock covers every request for that profile. A user lock whose
// target is an ARN covers only the identity with exactly that ARN. A user
// lock whose target is a plain name covers every identity of that name: the
// OS user, the IAM user and an assumed-role session of that name alike.
// This is deliberately wider than Identity.Made (which decides whose
// approvals a caller may use): a lock only ever refuses, so matching more
// fails closed, and "lock alice" must not be dodged by switching from the
// AWS identity to --identity-source os.
func (l Lock) Matches(who Identity, profile string) bool {
	switch l.Kind {
	case LockProfile:
		return profile != "" && l.Target == profile
	case LockUser:
		if IsARN(l.Target) {
			return who.ARN != "" && who.ARN == l.Target
		}
		return who.Name != "" && who.Name == l.Target
	}
	return false
}

// IsARN reports whether s reads as an ARN rather than a plain name.
func IsARN(s string) bool { return strings.HasPrefix(s, "arn:") }

// End returns l as unlocked by by at at. It fails with ErrInvalidTransition
// when l is no longer in force at at (already unlocked, or run out): an
// end is written once, and never moves.
func (l Lock) End(by string, at time.Time) (Lock, error) {
	if !l.EndedAt.IsZero() {
		return Lock{}, fmt.Errorf("lock %s was already unlocked by %s at %s: %w",
			l.ID, l.EndedBy, l.EndedAt.UTC().Format(time.RFC3339), ErrInvalidTransition)
	}
	if !l.InForce(at) {
		return Lock{}, fmt.Errorf("lock %s already ran out at %s: %w",
			l.ID, l.ExpiresAt.UTC().Format(time.RFC3339), ErrInvalidTransition)
	}
	l.EndedAt, l.EndedBy = at.UTC(), by
	return l, nil
}

// InUTC puts every time of l in UTC (a zero time stays zero) and drops any
// monotonic reading, so a returned lock equals a re-read one.
func (l Lock) InUTC() Lock {
	l.CreatedAt = l.CreatedAt.UTC()
	l.ExpiresAt = l.ExpiresAt.UTC()
	l.EndedAt = l.EndedAt.UTC()
	return l
}

// LockPosition is the listing position of a lock.
func LockPosition(l Lock) Position { return Position{CreatedAt: l.CreatedAt, ID: l.ID} }

// LockPage is one page of locks, newest (CreatedAt, then ID) first.
type LockPage struct {
	Locks []Lock
	Next  string
}

// PageLocks cuts the page p of all (in any order) newest first. Adapters
// that read every lock to list them use it, so paging is the same
// everywhere. Errors wrap ErrInvalidArgument.
func PageLocks(all []Lock, p Page) (LockPage, error) {
	after, resume, err := CheckPage(p)
	if err != nil {
		return LockPage{}, err
	}
	kept := make([]Lock, 0, len(all))
	for _, l := range all {
		if !resume || LockPosition(l).Compare(after) > 0 {
			kept = append(kept, l)
		}
	}
	SortByPosition(kept, LockPosition)
	items, next := CutPage(kept, p.Limit, LockPosition)
	return LockPage{Locks: items, Next: next}, nil
}

// AllLocks reads every stored lock. Locks are few, so adapters keep them
// without an index and implement both listings on this one read.
type AllLocks func(ctx context.Context) ([]Lock, error)

// ListActive is LockStore.ListActiveLocks on all.
func (all AllLocks) ListActive(ctx context.Context, now time.Time) ([]Lock, error) {
	locks, err := all(ctx)
	if err != nil {
		return nil, err
	}
	return InForceLocks(locks, now), nil
}

// ListPage is LockStore.ListLocks on all; a bad page is refused before
// anything is read.
func (all AllLocks) ListPage(ctx context.Context, p Page) (LockPage, error) {
	if _, _, err := CheckPage(p); err != nil {
		return LockPage{}, fmt.Errorf("list locks: %w", err)
	}
	locks, err := all(ctx)
	if err != nil {
		return LockPage{}, err
	}
	return PageLocks(locks, p)
}

// InForceLocks returns the locks of all in force at now, newest first.
func InForceLocks(all []Lock, now time.Time) []Lock {
	var out []Lock
	for _, l := range all {
		if l.InForce(now) {
			out = append(out, l)
		}
	}
	SortByPosition(out, LockPosition)
	return out
}

// LockStore persists locks. Locks are few (an incident's worth at a time),
// so adapters may read them all to list them.
type LockStore interface {
	// CreateLock stores l with Version 1 and returns the stored record.
	// Errors: ErrInvalidArgument when l fails Check (nothing is stored);
	// ErrAlreadyExists when the id is taken.
	CreateLock(ctx context.Context, l Lock) (Lock, error)

	// GetLock returns the lock. Errors: ErrInvalidArgument for an empty id;
	// ErrNotFound; ErrCorrupt when the stored record cannot be decoded.
	GetLock(ctx context.Context, id string) (Lock, error)

	// EndLock unlocks the lock atomically: it reads the stored record,
	// applies Lock.End(by, at) and writes EndedAt, EndedBy and Version+1,
	// changing nothing else. Errors: ErrNotFound; ErrInvalidTransition when
	// the lock was already unlocked or ran out at at (nothing changes);
	// ErrCorrupt.
	EndLock(ctx context.Context, id, by string, at time.Time) (Lock, error)

	// ListActiveLocks returns every lock in force at now (Lock.InForce),
	// newest first. A record that cannot be decoded fails the listing with
	// ErrCorrupt, never skipped: a lock must not vanish silently.
	ListActiveLocks(ctx context.Context, now time.Time) ([]Lock, error)

	// ListLocks returns all locks, ended and run out included, newest first.
	// Errors: ErrInvalidArgument for a bad limit or cursor; ErrCorrupt.
	ListLocks(ctx context.Context, p Page) (LockPage, error)
}

// LockLookup answers the per-request question: which locks refuse who for
// profile now. It returns an empty slice when none do. When it cannot read
// the locks it returns an error, together with the matching locks it still
// knows of (from an earlier read): those refuse whatever the caller does
// about the error.
type LockLookup interface {
	ActiveLocks(ctx context.Context, who Identity, profile string, now time.Time) ([]Lock, error)
}
