package redisstore

import (
	"context"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// Hash fields of a session record besides the common ones (codec.go).
const (
	fieldUser       = "user"
	fieldProfile    = "profile"
	fieldInstance   = "server_instance_id"
	fieldIDSource   = "identity_source"
	fieldStarted    = "started_at"
	fieldLastAccess = "last_access_at"
	fieldRequests   = "request_count"
	fieldSourceID   = "source_identity"
	fieldRevokedBy  = "revoked_by"
	fieldRevokedWhy = "revoked_reason"
	fieldRevokedAt  = "revoked_at"

	// The session's AWS handles, JSON lists (absent on older records).
	fieldRoleARNs       = "role_arns"
	fieldAssumedRoleIDs = "assumed_role_ids"
	// fieldPoll is the server's --revocation-poll, in nanoseconds.
	fieldPoll = "revocation_poll"
	// fieldUserARN is the owner's principal ARN of a session opened at a
	// broker (absent on older records and empty in solo mode).
	fieldUserARN = "user_arn"
)

// sessionKind: {P}:session:<id>, indexed under {P}:idx:{user,profile,status,instance}:<value>.
var sessionKind = newKind(kind[ports.Session]{
	layout: &layout{
		name: "session", noun: "session", plural: "sessions",
		ints:     []string{fieldRequests, fieldVersion, fieldPoll},
		optional: []string{fieldRoleARNs, fieldAssumedRoleIDs, fieldPoll, fieldUserARN},
		statuses: []string{string(ports.SessionActive), string(ports.SessionRevoked), string(ports.SessionExpired)},
		lapsing:  []string{string(ports.SessionActive)},
		expired:  string(ports.SessionExpired),
		indexes: []index{
			{name: "user", fields: []string{fieldUser}},
			{name: "profile", fields: []string{fieldProfile}},
			{name: "status", fields: []string{fieldStatus}},
			{name: "instance", fields: []string{fieldInstance}},
		},
	},
	encode: func(s ports.Session) []string {
		return []string{
			fieldID, s.ID,
			fieldUser, s.User,
			fieldProfile, s.Profile,
			fieldInstance, s.ServerInstanceID,
			fieldStatus, string(s.Status),
			fieldIDSource, s.IdentitySource,
			fieldStarted, encodeTime(s.StartedAt),
			fieldLastAccess, encodeTime(s.LastAccessAt),
			fieldExpires, encodeTime(s.ExpiresAt),
			fieldRequests, encodeInt(s.RequestCount),
			fieldSourceID, s.SourceIdentity,
			fieldRevokedBy, s.RevokedBy,
			fieldRevokedWhy, s.RevokedReason,
			fieldRevokedAt, encodeTime(s.RevokedAt),
			fieldCreated, encodeTime(s.CreatedAt),
			fieldUpdated, encodeTime(s.UpdatedAt),
			fieldRoleARNs, encodeList(s.RoleARNs),
			fieldAssumedRoleIDs, encodeList(s.AssumedRoleIDs),
			fieldPoll, encodeInt(int64(s.RevocationPoll)),
			fieldUserARN, s.UserARN,
		}
	},
	read: func(d *decoder) ports.Session {
		return ports.Session{
			ID:               d.text(fieldID),
			User:             d.text(fieldUser),
			Profile:          d.text(fieldProfile),
			ServerInstanceID: d.text(fieldInstance),
			Status:           ports.SessionStatus(d.text(fieldStatus)),
			IdentitySource:   d.text(fieldIDSource),
			StartedAt:        d.time(fieldStarted),
			LastAccessAt:     d.time(fieldLastAccess),
			ExpiresAt:        d.time(fieldExpires),
			RequestCount:     d.int(fieldRequests),
			SourceIdentity:   d.text(fieldSourceID),
			RevokedBy:        d.text(fieldRevokedBy),
			RevokedReason:    d.text(fieldRevokedWhy),
			RevokedAt:        d.time(fieldRevokedAt),
			CreatedAt:        d.time(fieldCreated),
			UpdatedAt:        d.time(fieldUpdated),
			Version:          d.int(fieldVersion),
			RoleARNs:         d.list(fieldRoleARNs),
			AssumedRoleIDs:   d.list(fieldAssumedRoleIDs),
			RevocationPoll:   time.Duration(d.optionalInt(fieldPoll)),
			UserARN:          d.optionalText(fieldUserARN),
		}
	},
	timesOf: func(s *ports.Session) map[string]*time.Time {
		return map[string]*time.Time{
			fieldStarted: &s.StartedAt, fieldLastAccess: &s.LastAccessAt, fieldExpires: &s.ExpiresAt,
			fieldRevokedAt: &s.RevokedAt, fieldCreated: &s.CreatedAt, fieldUpdated: &s.UpdatedAt,
		}
	},
	position:  ports.SessionPosition,
	status:    func(s ports.Session) string { return string(s.Status) },
	setStatus: func(s *ports.Session, st string) { s.Status = ports.SessionStatus(st) },
	version:   func(s *ports.Session) *int64 { return &s.Version },
	lapsed:    ports.Session.Lapsed,
})

// CreateSession stores in as given with Version 1.
func (s *Store) CreateSession(ctx context.Context, in ports.Session) (ports.Session, error) {
	return sessionKind.create(ctx, s, in)
}

// GetSession returns the session as it reads now.
func (s *Store) GetSession(ctx context.Context, id string) (ports.Session, error) {
	return sessionKind.get(ctx, s, id)
}

// UpdateSession replaces the record when the stored Version equals in.Version.
func (s *Store) UpdateSession(ctx context.Context, in ports.Session) (ports.Session, error) {
	return sessionKind.update(ctx, s, in)
}

// ExpireLapsedSessions marks every active session whose lease ended at or
// before now as expired; see kind.expireLapsed.
func (s *Store) ExpireLapsedSessions(ctx context.Context, now time.Time) (int, error) {
	return sessionKind.expireLapsed(ctx, s, now)
}

// TouchSession adds n requests and moves LastAccessAt forward to at, and
// UpdatedAt forward to the clock's now.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time, n int64) (ports.Session, error) {
	what := fmt.Sprintf("touch session %q", id)
	if err := s.check(what, id); err != nil {
		return ports.Session{}, err
	}
	if n < 0 {
		return ports.Session{}, fmt.Errorf("redis: %s: negative count %d: %w", what, n, ports.ErrInvalidArgument)
	}
	now := s.clock.Now()
	if !storable(at) || !storable(now) {
		return ports.Session{}, fmt.Errorf("redis: %s: time outside the storable range: %w", what, ports.ErrInvalidArgument)
	}
	reply, err := touchScript.Run(ctx, s.client, []string{s.recordKey(id)},
		id, encodeInt(n), encodeTime(at), encodeTime(now)).Result()
	if err != nil {
		return ports.Session{}, mapError(what, err)
	}
	fields, ok := fieldMap(reply)
	if !ok {
		return ports.Session{}, mapError(what, sessionKind.corrupt(id, "the touch returned no field list"))
	}
	rec, err := sessionKind.decode(id, fields)
	if err != nil {
		return ports.Session{}, mapError(what, err)
	}
	return sessionKind.effective(rec, now), nil
}

// ListSessionsByUser lists the user's sessions, newest first.
func (s *Store) ListSessionsByUser(ctx context.Context, user string, p ports.Page) (ports.SessionPage, error) {
	items, next, err := sessionKind.listBy(ctx, s, "user", user, p)
	return ports.SessionPage{Sessions: items, Next: next}, err
}

// ListSessionsByProfile lists the profile's sessions, newest first.
func (s *Store) ListSessionsByProfile(ctx context.Context, profile string, p ports.Page) (ports.SessionPage, error) {
	items, next, err := sessionKind.listBy(ctx, s, "profile", profile, p)
	return ports.SessionPage{Sessions: items, Next: next}, err
}

// ListSessionsByServerInstance lists the server instance's sessions, newest first.
func (s *Store) ListSessionsByServerInstance(ctx context.Context, instanceID string, p ports.Page) (ports.SessionPage, error) {
	items, next, err := sessionKind.listBy(ctx, s, "instance", instanceID, p)
	return ports.SessionPage{Sessions: items, Next: next}, err
}

// ListSessionsByStatus lists the sessions whose effective status is status,
// newest first (see kind.listByStatus).
func (s *Store) ListSessionsByStatus(ctx context.Context, status ports.SessionStatus, p ports.Page) (ports.SessionPage, error) {
	items, next, err := sessionKind.listByStatus(ctx, s, string(status), p)
	return ports.SessionPage{Sessions: items, Next: next}, err
}
