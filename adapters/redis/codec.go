package redisstore

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// Hash fields of a session record. Every ports.Session field is stored, each
// as a string: text as is, integers in decimal, times as integer
// microseconds since the Unix epoch in UTC ("" for the zero time). Integer
// micros keep the suite's precision exactly, truncate toward the past, and
// let the Lua scripts compare times without parsing dates.
const (
	fieldSchema     = "_v"   // schemaVersion; anything else is foreign data
	fieldPosition   = "_pos" // the record's index position, see positionOf
	fieldID         = "id"
	fieldUser       = "user"
	fieldProfile    = "profile"
	fieldInstance   = "server_instance_id"
	fieldStatus     = "status"
	fieldIDSource   = "identity_source"
	fieldStarted    = "started_at"
	fieldLastAccess = "last_access_at"
	fieldExpires    = "expires_at"
	fieldRequests   = "request_count"
	fieldSourceID   = "source_identity"
	fieldRevokedBy  = "revoked_by"
	fieldRevokedWhy = "revoked_reason"
	fieldRevokedAt  = "revoked_at"
	fieldCreated    = "created_at"
	fieldUpdated    = "updated_at"
	fieldVersion    = "version"
)

// Field lists the scripts validate a record with, before they change it.
var (
	allFields = []string{
		fieldPosition, fieldID, fieldUser, fieldProfile, fieldInstance, fieldStatus, fieldIDSource,
		fieldStarted, fieldLastAccess, fieldExpires, fieldRequests, fieldSourceID, fieldRevokedBy,
		fieldRevokedWhy, fieldRevokedAt, fieldCreated, fieldUpdated, fieldVersion,
	}
	intFields  = []string{fieldRequests, fieldVersion}
	timeFields = []string{fieldStarted, fieldLastAccess, fieldExpires, fieldRevokedAt, fieldCreated, fieldUpdated}
	statuses   = []string{string(ports.SessionActive), string(ports.SessionRevoked), string(ports.SessionExpired)}
)

// schemaVersion is the only record layout this code reads.
const schemaVersion = "1"

// positionLen is the length of a position before the id in an index member.
const positionLen = 16

// Times a record can hold: those whose microseconds fit an int64.
var (
	minStorable = time.UnixMicro(math.MinInt64)
	maxStorable = time.UnixMicro(math.MaxInt64)
)

// storable reports whether t survives the microsecond encoding.
func storable(t time.Time) bool {
	return t.IsZero() || (!t.Before(minStorable) && !t.After(maxStorable))
}

func encodeTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

func decodeTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	us, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	if strconv.FormatInt(us, 10) != s {
		return time.Time{}, fmt.Errorf("%q is not in canonical form", s)
	}
	return time.UnixMicro(us).UTC(), nil
}

// positionOf orders index members: 16 hex digits of CreatedAt's micros with
// the sign bit flipped (so earlier times, negative ones included, sort
// first), then the id. Every member of an index has score 0, so Redis sorts
// them bytewise, which is (CreatedAt, ID) ascending; ZREVRANGEBYLEX reads
// them newest first, ties by ID descending, exactly ports.NewerFirst.
func positionOf(createdAt time.Time) string {
	return fmt.Sprintf("%016x", uint64(createdAt.UnixMicro())^(1<<63)) //nolint:gosec // G115: two's complement reinterpretation is the point
}

func memberOf(createdAt time.Time, id string) string {
	return positionOf(createdAt) + id
}

// idOfMember returns the id inside an index member.
func idOfMember(member string) (string, bool) {
	if len(member) <= positionLen {
		return "", false
	}
	return member[positionLen:], true
}

// checkStorable rejects times the encoding cannot hold.
func checkStorable(s ports.Session) error {
	for _, f := range []struct {
		name string
		t    time.Time
	}{
		{fieldStarted, s.StartedAt}, {fieldLastAccess, s.LastAccessAt}, {fieldExpires, s.ExpiresAt},
		{fieldRevokedAt, s.RevokedAt}, {fieldCreated, s.CreatedAt}, {fieldUpdated, s.UpdatedAt},
	} {
		if !storable(f.t) {
			return fmt.Errorf("%s %s is outside the storable range: %w", f.name, f.t, ports.ErrInvalidArgument)
		}
	}
	return nil
}

// recordFields is every field of s except version, as HSET arguments.
func recordFields(s ports.Session) []any {
	return []any{
		fieldSchema, schemaVersion,
		fieldPosition, positionOf(s.CreatedAt),
		fieldID, s.ID,
		fieldUser, s.User,
		fieldProfile, s.Profile,
		fieldInstance, s.ServerInstanceID,
		fieldStatus, string(s.Status),
		fieldIDSource, s.IdentitySource,
		fieldStarted, encodeTime(s.StartedAt),
		fieldLastAccess, encodeTime(s.LastAccessAt),
		fieldExpires, encodeTime(s.ExpiresAt),
		fieldRequests, strconv.FormatInt(s.RequestCount, 10),
		fieldSourceID, s.SourceIdentity,
		fieldRevokedBy, s.RevokedBy,
		fieldRevokedWhy, s.RevokedReason,
		fieldRevokedAt, encodeTime(s.RevokedAt),
		fieldCreated, encodeTime(s.CreatedAt),
		fieldUpdated, encodeTime(s.UpdatedAt),
	}
}

// decodeRecord reads the hash stored for id. Anything it cannot trust is an
// error wrapping ports.ErrCorrupt that names id.
func decodeRecord(id string, f map[string]string) (ports.Session, error) {
	if v, ok := f[fieldSchema]; !ok || v != schemaVersion {
		return ports.Session{}, corrupt(id, fmt.Sprintf("schema marker %s=%q, want %q (foreign data?)", fieldSchema, v, schemaVersion))
	}
	d := decoder{f: f}
	s := ports.Session{
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
	}
	pos := d.text(fieldPosition)
	switch {
	case d.err != nil:
		return ports.Session{}, corrupt(id, d.err.Error())
	case s.ID != id:
		return ports.Session{}, corrupt(id, fmt.Sprintf("record holds id %q", s.ID))
	case !s.Status.Valid():
		return ports.Session{}, corrupt(id, fmt.Sprintf("unknown status %q", s.Status))
	case s.Version < 1:
		return ports.Session{}, corrupt(id, fmt.Sprintf("version %d below 1", s.Version))
	case pos != positionOf(s.CreatedAt):
		return ports.Session{}, corrupt(id, fmt.Sprintf("index position %q does not match created_at", pos))
	}
	return s, nil
}

// decoder keeps the first error, so decodeRecord reads like a struct literal.
type decoder struct {
	f   map[string]string
	err error
}

func (d *decoder) text(name string) string {
	v, ok := d.f[name]
	if !ok && d.err == nil {
		d.err = fmt.Errorf("field %s is missing", name)
	}
	return v
}

func (d *decoder) int(name string) int64 {
	v := d.text(name)
	n, err := strconv.ParseInt(v, 10, 64)
	if (err != nil || strconv.FormatInt(n, 10) != v) && d.err == nil {
		d.err = fmt.Errorf("field %s=%q is not an integer", name, v)
	}
	return n
}

func (d *decoder) time(name string) time.Time {
	v := d.text(name)
	t, err := decodeTime(v)
	if err != nil && d.err == nil {
		d.err = fmt.Errorf("field %s=%q is not a time in microseconds", name, v)
	}
	return t
}

func corrupt(id, reason string) error {
	return fmt.Errorf("stored session %q: %s: %w", id, reason, ports.ErrCorrupt)
}

// fieldMap turns a flat HGETALL reply from a script into a map.
func fieldMap(reply any) (map[string]string, bool) {
	flat, ok := reply.([]any)
	if !ok || len(flat)%2 != 0 {
		return nil, false
	}
	m := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		k, ok1 := flat[i].(string)
		v, ok2 := flat[i+1].(string)
		if !ok1 || !ok2 {
			return nil, false
		}
		m[k] = v
	}
	return m, true
}

// inUTC puts every time in UTC and drops finer digits than a microsecond, so
// what a write returns equals what a read returns.
func inUTC(s ports.Session) ports.Session {
	norm := func(t time.Time) time.Time {
		if t.IsZero() {
			return time.Time{}
		}
		return time.UnixMicro(t.UnixMicro()).UTC()
	}
	s.StartedAt = norm(s.StartedAt)
	s.LastAccessAt = norm(s.LastAccessAt)
	s.ExpiresAt = norm(s.ExpiresAt)
	s.RevokedAt = norm(s.RevokedAt)
	s.CreatedAt = norm(s.CreatedAt)
	s.UpdatedAt = norm(s.UpdatedAt)
	return s
}

// effectiveAt reports a lapsed active session as expired, Version unchanged.
func effectiveAt(s ports.Session, now time.Time) ports.Session {
	if s.Lapsed(now) {
		s.Status = ports.SessionExpired
	}
	return s
}
