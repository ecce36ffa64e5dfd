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

// Position is where a record sits in a newest-first listing: CreatedAt
// descending, then ID descending. Sessions, approval requests and
// break-glass events all list by it, so one cursor format serves them all.
type Position struct {
	CreatedAt time.Time
	ID        string
}

// Compare is negative when p lists before q, as ComparePosition.
func (p Position) Compare(q Position) int {
	return ComparePosition(p.CreatedAt, p.ID, q.CreatedAt, q.ID)
}

// Cursor is the opaque cursor that resumes a listing after p.
func (p Position) Cursor() string { return EncodeCursor(p.CreatedAt, p.ID) }

// ComparePosition is negative when (at, aID) lists before (bt, bID) in
// newest-first order, zero when they are the same position.
func ComparePosition(at time.Time, aID string, bt time.Time, bID string) int {
	if c := bt.Compare(at); c != 0 {
		return c
	}
	return strings.Compare(bID, aID)
}

// EncodeCursor returns the opaque cursor that resumes a newest-first listing
// after the record with this CreatedAt and ID. Every adapter uses it, so
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

// CheckPage validates p: Limit in 1..MaxPageLimit and a Cursor that
// EncodeCursor made. It returns the position to list after; resume is false
// for a first page. Errors wrap ErrInvalidArgument.
func CheckPage(p Page) (after Position, resume bool, err error) {
	if p.Limit < 1 || p.Limit > MaxPageLimit {
		return Position{}, false, fmt.Errorf("page limit %d outside 1..%d: %w", p.Limit, MaxPageLimit, ErrInvalidArgument)
	}
	if p.Cursor == "" {
		return Position{}, false, nil
	}
	at, id, err := DecodeCursor(p.Cursor)
	if err != nil {
		return Position{}, false, err
	}
	return Position{CreatedAt: at, ID: id}, true, nil
}

// SortByPosition sorts items in listing order, newest first, in place.
func SortByPosition[T any](items []T, pos func(T) Position) {
	slices.SortFunc(items, func(a, b T) int { return pos(a).Compare(pos(b)) })
}

// CutPage returns the first limit items of sorted (already in listing order
// and past the cursor) and the Next cursor: empty when nothing is left, even
// when the page is exactly full.
func CutPage[T any](sorted []T, limit int, pos func(T) Position) (items []T, next string) {
	if len(sorted) <= limit {
		return sorted, ""
	}
	items = sorted[:limit:limit]
	return items, pos(items[limit-1]).Cursor()
}

// SessionPosition is the listing position of a session.
func SessionPosition(s Session) Position { return Position{CreatedAt: s.CreatedAt, ID: s.ID} }

// RequestPosition is the listing position of an approval request.
func RequestPosition(r ApprovalRequest) Position { return Position{CreatedAt: r.CreatedAt, ID: r.ID} }

// BreakGlassPosition is the listing position of a break-glass event.
func BreakGlassPosition(e BreakGlassEvent) Position {
	return Position{CreatedAt: e.CreatedAt, ID: e.ID}
}
