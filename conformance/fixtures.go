package conformance

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// newSessionID returns 128 random bits as 32 lowercase hex characters, the
// shape of a real session id.
func newSessionID() string {
	return hex.EncodeToString(randomBytes(16))
}

// newNamespace returns a random uuid-shaped string that prefixes every user,
// profile and instance of one test, so parallel tests never collide.
func newNamespace() string {
	h := hex.EncodeToString(randomBytes(16))
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return b
}

// newSession is a fully populated active session of the namespace: every
// field set, so a backend that drops one fails a round trip. Its lease runs
// one hour past the clock.
func (e env) newSession() ports.Session {
	now := e.clock.Now()
	return ports.Session{
		ID:               newSessionID(),
		User:             e.ns + "-user",
		UserARN:          "arn:aws:sts::111122223333:assumed-role/Dev/" + e.ns + "-user",
		Profile:          e.ns + "-profile",
		ServerInstanceID: e.ns + "-instance",
		Status:           ports.SessionActive,
		IdentitySource:   "sts",
		StartedAt:        now.Add(-2 * time.Minute),
		LastAccessAt:     now.Add(-time.Minute),
		ExpiresAt:        now.Add(time.Hour),
		RequestCount:     3,
		SourceIdentity:   "sentinel:" + e.ns,
		CreatedAt:        now.Add(-2 * time.Minute),
		UpdatedAt:        now.Add(-time.Minute),
		// The session's AWS handles: order kept, separators STS allows in
		// role names and session names included.
		RoleARNs:       []string{"arn:aws:iam::111122223333:role/team/deploy,eu=1@x", "arn:aws:iam::444455556666:role/Read"},
		AssumedRoleIDs: []string{"AROAEXAMPLEROLEID0001:sentinel." + e.ns},
		RevocationPoll: 70 * time.Millisecond,
	}
}

// create stores s and fails t on any error.
func (e env) create(t *testing.T, s ports.Session) ports.Session {
	t.Helper()
	got, err := e.store.CreateSession(t.Context(), s)
	if err != nil {
		t.Fatalf("CreateSession(%s): %v", s.ID, err)
	}
	return got
}

// get reads id and fails t on any error.
func (e env) get(t *testing.T, id string) ports.Session {
	t.Helper()
	return mustGet(t, e.store, id)
}

func mustGet(t *testing.T, store ports.SessionStore, id string) ports.Session {
	t.Helper()
	got, err := store.GetSession(t.Context(), id)
	if err != nil {
		t.Fatalf("GetSession(%s): %v", id, err)
	}
	return got
}

// revoked returns s as the core would write it when revoking at now.
func revoked(s ports.Session, by string, now time.Time) ports.Session {
	s.Status = ports.SessionRevoked
	s.RevokedBy = by
	s.RevokedReason = "conformance: revoked by " + by
	s.RevokedAt = now
	s.UpdatedAt = now
	return s
}

// revokeWithRetry revokes id the way the core does: read, then a conditional
// write, again on ErrConflict.
func revokeWithRetry(ctx context.Context, store ports.SessionStore, id, by string, now time.Time) (ports.Session, error) {
	for {
		cur, err := store.GetSession(ctx, id)
		if err != nil {
			return ports.Session{}, err
		}
		got, err := store.UpdateSession(ctx, revoked(cur, by, now))
		if errors.Is(err, ports.ErrConflict) {
			continue
		}
		return got, err
	}
}

// timeType is compared with Equal at Precision rather than with ==.
var timeType = reflect.TypeFor[time.Time]()

// diffSessions lists, field by field, how got differs from want.
func diffSessions(want, got ports.Session) []string { return diffRecords(want, got) }

// diffRecords lists, field by field, how got differs from want (both
// structs). Times are compared at Precision, and every non-zero time in got
// must be in UTC; every other field must be equal.
func diffRecords[T any](want, got T) []string {
	var diffs []string
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	for i := range wv.NumField() {
		name := wv.Type().Field(i).Name
		wf, gf := wv.Field(i).Interface(), gv.Field(i).Interface()
		if wv.Field(i).Type() != timeType {
			if !reflect.DeepEqual(wf, gf) {
				diffs = append(diffs, fmt.Sprintf("%s: want %v, got %v", name, wf, gf))
			}
			continue
		}
		wt, gt := wf.(time.Time), gf.(time.Time)
		switch {
		case wt.IsZero() != gt.IsZero():
			diffs = append(diffs, fmt.Sprintf("%s: want %v, got %v (a zero time must round-trip as zero)", name, wt, gt))
		case !wt.Truncate(Precision).Equal(gt.Truncate(Precision)):
			diffs = append(diffs, fmt.Sprintf("%s: want %s, got %s (compared at %s, truncated)", name,
				wt.UTC().Format(time.RFC3339Nano), gt.UTC().Format(time.RFC3339Nano), Precision))
		case !gt.IsZero() && gt.Location() != time.UTC:
			diffs = append(diffs, fmt.Sprintf("%s: location %s, want UTC", name, gt.Location()))
		}
	}
	return diffs
}

// expectSession fails t when got differs from want.
func expectSession(t *testing.T, what string, want, got ports.Session) {
	t.Helper()
	if d := diffSessions(want, got); len(d) > 0 {
		t.Errorf("%s: session %s differs:\n\t%s", what, want.ID, strings.Join(d, "\n\t"))
	}
}

// expectErr fails t unless err wraps target.
func expectErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want one wrapping %q", what, err, target)
	}
}

// withVersion returns s carrying version v, as the store should report it.
func withVersion(s ports.Session, v int64) ports.Session {
	s.Version = v
	return s
}

// withStatus returns s carrying status st.
func withStatus(s ports.Session, st ports.SessionStatus) ports.Session {
	s.Status = st
	return s
}
