package ports

import (
	"context"
	"time"
)

// DefaultRetention is how long an ended record is kept when nothing else is
// configured: the DynamoDB adapter's TTL (a week after a session's end).
const DefaultRetention = 7 * 24 * time.Hour

// A record is retired at cutoff when it has ended (its stored status is
// terminal) and every time it carries (UpdatedAt, ExpiresAt, RevokedAt) is
// before cutoff. Retired records may be deleted; nothing else may.
//
// A session counts only once its lease has run out too: a server that has
// not yet read its revoke and finds the record gone recreates it from the
// lease it last knew (core/session's Tracker), and a lease that has run out
// is written back expired, never active. So deleting a retired session can
// lose its history but never revive it.

// SessionRetired reports whether s is retired at cutoff.
func SessionRetired(s Session, cutoff time.Time) bool {
	return (s.Status == SessionRevoked || s.Status == SessionExpired) &&
		allBefore(cutoff, s.UpdatedAt, s.ExpiresAt, s.RevokedAt)
}

// RequestRetired reports whether r is retired at cutoff: denied, expired or
// cancelled. An approved request is live until it is stored expired.
func RequestRetired(r ApprovalRequest, cutoff time.Time) bool {
	return (r.Status == RequestDenied || r.Status == RequestExpired || r.Status == RequestCancelled) &&
		allBefore(cutoff, r.UpdatedAt, r.ExpiresAt, r.ApprovedAt)
}

// BreakGlassRetired reports whether e is retired at cutoff: closed or expired.
func BreakGlassRetired(e BreakGlassEvent, cutoff time.Time) bool {
	return (e.Status == BreakGlassClosed || e.Status == BreakGlassExpired) &&
		allBefore(cutoff, e.UpdatedAt, e.ExpiresAt)
}

func allBefore(cutoff time.Time, ts ...time.Time) bool {
	for _, t := range ts {
		if !t.Before(cutoff) {
			return false
		}
	}
	return true
}

// RetiredRecord is one record a retention sweep deletes, whole, handed to
// the sweep's archive before the delete: exactly one of the three is set.
type RetiredRecord struct {
	Session    *Session         `json:"session,omitempty"`
	Request    *ApprovalRequest `json:"request,omitempty"`
	BreakGlass *BreakGlassEvent `json:"break_glass,omitempty"`
}

// RetiredCounts is how many records of each type a sweep deleted.
type RetiredCounts struct {
	Sessions   int `json:"sessions"`
	Requests   int `json:"requests"`
	BreakGlass int `json:"break_glass"`
}

// Cutoffs are the cutoff of each record type for a retention sweep. They
// may differ: break-glass rate limits count past events over the rule's
// window, so those must be kept at least that long.
type Cutoffs struct {
	Sessions, Requests, BreakGlass time.Time
}

// CutoffsAt is one cutoff for every record type.
func CutoffsAt(t time.Time) Cutoffs { return Cutoffs{Sessions: t, Requests: t, BreakGlass: t} }

// RetentionSweeper deletes retired records. Every store adapter implements
// it (DynamoDB's TTL and this sweep may both delete; either is fine).
type RetentionSweeper interface {
	// DeleteRetired deletes every record retired at its type's cutoff, with its index
	// entries, each delete conditional on the record being as read (a
	// record changed meanwhile is left for the next sweep). It hands each
	// record to archive (when not nil) before deleting it; an archive error
	// stops the sweep and is returned, and that record is kept (it may
	// have been archived: archives are at least once). The counts are of
	// the records deleted, also when an error is returned. Its cost grows
	// with the ended records created before the cutoff, not with the rest.
	DeleteRetired(ctx context.Context, cut Cutoffs, archive func(RetiredRecord) error) (RetiredCounts, error)
}

// Retirement is how one record type retires, for the adapters' sweeps:
// the stored statuses it ends in, the test, and its archive form.
type Retirement[T any] struct {
	Ended   []string
	Retired func(T, time.Time) bool
	Record  func(T) RetiredRecord
}

// The retirement of each record type.
var (
	SessionRetirement = Retirement[Session]{
		Ended:   []string{string(SessionRevoked), string(SessionExpired)},
		Retired: SessionRetired,
		Record:  func(s Session) RetiredRecord { return RetiredRecord{Session: &s} },
	}
	RequestRetirement = Retirement[ApprovalRequest]{
		Ended:   []string{string(RequestDenied), string(RequestExpired), string(RequestCancelled)},
		Retired: RequestRetired,
		Record:  func(r ApprovalRequest) RetiredRecord { return RetiredRecord{Request: &r} },
	}
	BreakGlassRetirement = Retirement[BreakGlassEvent]{
		Ended:   []string{string(BreakGlassClosed), string(BreakGlassExpired)},
		Retired: BreakGlassRetired,
		Record:  func(e BreakGlassEvent) RetiredRecord { return RetiredRecord{BreakGlass: &e} },
	}
)
