package ports

import (
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"time"
)

// cursorVersion prefixes every cursor so the format can change without
// misreading an old one.
const cursorVersion = "c1"

// EncodeCursor returns the opaque cursor that resumes a newest-first listing
// after the session with this CreatedAt and ID. Every adapter uses it, so
// cursors look the same whatever the backend.
func EncodeCursor(createdAt time.Time, id string) string {
	raw := cursorVersion + "|" + createdAt.UTC().Format(time.RFC3339Nano) + "|" + id
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// DecodeCursor reverses EncodeCursor. Errors wrap ErrInvalidArgument.
func DecodeCursor(cursor string) (createdAt time.Time, id string, err error) {
	raw, err := base64.RawURLEncoding.DecodeString(cursor)
	if err != nil {
		return time.Time{}, "", fmt.Errorf("malformed page cursor: %w", ErrInvalidArgument)
	}
	// The id is last and may itself contain '|', so split into three at most.
	parts := strings.SplitN(string(raw), "|", 3)
	if len(parts) != 3 || parts[0] != cursorVersion || parts[2] == "" {
		return time.Time{}, "", fmt.Errorf("malformed page cursor: %w", ErrInvalidArgument)
	}
	createdAt, err = time.Parse(time.RFC3339Nano, parts[1])
	if err != nil {
		return time.Time{}, "", fmt.Errorf("malformed page cursor time: %w", ErrInvalidArgument)
	}
	return createdAt.UTC(), parts[2], nil
}

// NewerFirst reports whether a sorts before b in a listing: CreatedAt
// descending, then ID descending.
func NewerFirst(a, b Session) bool {
	return comparePosition(a.CreatedAt, a.ID, b.CreatedAt, b.ID) < 0
}

// AfterCursor reports whether s comes strictly after the cursor position
// (createdAt, id) in newest-first order, i.e. belongs on a later page.
func AfterCursor(s Session, createdAt time.Time, id string) bool {
	return comparePosition(s.CreatedAt, s.ID, createdAt, id) > 0
}

// SortNewestFirst sorts sessions in listing order, in place.
func SortNewestFirst(sessions []Session) {
	slices.SortFunc(sessions, func(a, b Session) int {
		return comparePosition(a.CreatedAt, a.ID, b.CreatedAt, b.ID)
	})
}

// comparePosition is negative when (at, aID) lists before (bt, bID).
func comparePosition(at time.Time, aID string, bt time.Time, bID string) int {
	if c := bt.Compare(at); c != 0 {
		return c
	}
	return strings.Compare(bID, aID)
}
