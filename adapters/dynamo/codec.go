package dynamo

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sentinel-gw/sentinel/ports"
)

// Attribute names of a session item; id, schema, profile, status, the
// times, version and created_sort serve every table. Times are numbers of
// microseconds since the Unix epoch (the suite's precision; numeric, so
// conditions can compare them); a zero time and an empty string are stored
// as an absent attribute, because DynamoDB refuses empty strings in index
// keys.
const (
	attrID             = "id"
	attrSchema         = "schema"
	attrUser           = "user"
	attrProfile        = "profile"
	attrInstance       = "server_instance_id"
	attrStatus         = "status"
	attrIdentitySource = "identity_source"
	attrStartedAt      = "started_at"
	attrLastAccessAt   = "last_access_at"
	attrExpiresAt      = "expires_at"
	attrRequestCount   = "request_count"
	attrSourceIdentity = "source_identity"
	attrRevokedBy      = "revoked_by"
	attrRevokedReason  = "revoked_reason"
	attrRevokedAt      = "revoked_at"
	attrCreatedAt      = "created_at"
	attrUpdatedAt      = "updated_at"
	attrVersion        = "version"
	attrCreatedSort    = "created_sort"
	attrTTL            = "ttl"
	// attrTouch holds the token of the last TouchSession, so a retried
	// touch is applied once (see TouchSession).
	attrTouch = "touch_token"

	// The session's AWS handles: lists of strings, absent when empty.
	attrRoleARNs       = "role_arns"
	attrAssumedRoleIDs = "assumed_role_ids"
	// attrPoll is the server's --revocation-poll in nanoseconds; absent is 0.
	attrPoll = "revocation_poll"
	// attrUserARN is the owner's principal ARN of a session opened at a
	// broker; absent on older records and in solo mode.
	attrUserARN = "user_arn"
	// attrSeen is the version a polling server has read ended and
	// confirmed (see AckRead); only AckRead writes it, and no decode reads it
	// into the record.
	attrSeen = "seen_version"
)

// schemaValue marks an item as a session in this layout; anything else under
// the key is foreign and reads as corrupt. Each table has its own marker.
const schemaValue = "sentinel-session/1"

// Retention is how long an ended session stays in the table before the
// server-side TTL may delete it: its TTL is the later of ExpiresAt and
// RevokedAt plus Retention. Expiry itself is decided on read by the clock.
const Retention = 7 * 24 * time.Hour

// names aliases every attribute for expressions: several (user, status,
// schema, ttl) are DynamoDB reserved words.
var names = map[string]string{
	"#id": attrID, "#schema": attrSchema, "#status": attrStatus, "#version": attrVersion,
	"#expires_at": attrExpiresAt, "#last_access_at": attrLastAccessAt,
	"#request_count": attrRequestCount, "#updated_at": attrUpdatedAt, "#event": attrGuardEvent,
	"#touch": attrTouch,
	"#seen":  attrSeen,
}

// namesFor returns the subset of names an expression uses; DynamoDB rejects
// unused names.
func namesFor(keys ...string) map[string]string {
	m := make(map[string]string, len(keys))
	for _, k := range keys {
		m[k] = names[k]
	}
	return m
}

// sortOffset shifts signed microseconds into unsigned ones, so times before
// 1970 (the zero time among them) still sort first as fixed-width digits.
const sortOffset = uint64(1) << 63

// createdSort is the sort key of the user, status and profile indexes:
// CreatedAt as 20 zero-padded digits of offset microseconds, "#", then the
// id. Strings compare bytewise, so the fixed-width digits order by time and
// equal times fall to the id: a descending query is exactly ports' "newest
// first, then ID descending".
func createdSort(createdAt time.Time, id string) string {
	return fmt.Sprintf("%020d#%s", uint64(createdAt.UnixMicro())+sortOffset, id) //nolint:gosec // G115: two's complement reinterpretation is the point
}

// truncate drops digits finer than a microsecond (toward the past) and puts
// t in UTC; the zero time stays zero.
func truncate(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

// stored returns s as the table keeps it: times truncated, in UTC.
func stored(s ports.Session) ports.Session {
	s.StartedAt = truncate(s.StartedAt)
	s.LastAccessAt = truncate(s.LastAccessAt)
	s.ExpiresAt = truncate(s.ExpiresAt)
	s.RevokedAt = truncate(s.RevokedAt)
	s.CreatedAt = truncate(s.CreatedAt)
	s.UpdatedAt = truncate(s.UpdatedAt)
	return s
}

// ttlOf is the garbage-collection time in epoch seconds, 0 when the session
// has no end yet (no lease, not revoked).
func ttlOf(s ports.Session) int64 {
	end := s.ExpiresAt
	if s.RevokedAt.After(end) {
		end = s.RevokedAt
	}
	if end.IsZero() {
		return 0
	}
	return end.Add(Retention).Unix()
}

func num(n int64) types.AttributeValue {
	return &types.AttributeValueMemberN{Value: strconv.FormatInt(n, 10)}
}

func str(v string) types.AttributeValue { return &types.AttributeValueMemberS{Value: v} }

func micros(t time.Time) types.AttributeValue { return num(t.UnixMicro()) }

// encodeSession returns the item for s, which must already be stored(s).
func encodeSession(s ports.Session) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrID:           str(s.ID),
		attrSchema:       str(schemaValue),
		attrStatus:       str(string(s.Status)),
		attrRequestCount: num(s.RequestCount),
		attrVersion:      num(s.Version),
		attrCreatedSort:  str(createdSort(s.CreatedAt, s.ID)),
	}
	setStrings(item, map[string]string{
		attrUser: s.User, attrUserARN: s.UserARN, attrProfile: s.Profile, attrInstance: s.ServerInstanceID,
		attrIdentitySource: s.IdentitySource, attrSourceIdentity: s.SourceIdentity,
		attrRevokedBy: s.RevokedBy, attrRevokedReason: s.RevokedReason,
	})
	setTimes(item, map[string]time.Time{
		attrStartedAt: s.StartedAt, attrLastAccessAt: s.LastAccessAt, attrExpiresAt: s.ExpiresAt,
		attrRevokedAt: s.RevokedAt, attrCreatedAt: s.CreatedAt, attrUpdatedAt: s.UpdatedAt,
	})
	if ttl := ttlOf(s); ttl != 0 {
		item[attrTTL] = num(ttl)
	}
	setLists(item, map[string][]string{attrRoleARNs: s.RoleARNs, attrAssumedRoleIDs: s.AssumedRoleIDs})
	if s.RevocationPoll != 0 {
		item[attrPoll] = num(int64(s.RevocationPoll))
	}
	return item
}

// setLists adds the non-empty lists to item as lists of strings (ordered,
// unlike a string set); an empty one stays absent.
func setLists(item map[string]types.AttributeValue, values map[string][]string) {
	for name, l := range values {
		if len(l) == 0 {
			continue
		}
		out := make([]types.AttributeValue, len(l))
		for i, v := range l {
			out[i] = str(v)
		}
		item[name] = &types.AttributeValueMemberL{Value: out}
	}
}

// setStrings adds the non-empty strings to item; an empty one stays absent.
func setStrings(item map[string]types.AttributeValue, values map[string]string) {
	for name, v := range values {
		if v != "" {
			item[name] = str(v)
		}
	}
}

// setTimes adds the non-zero times to item as microseconds; a zero time stays absent.
func setTimes(item map[string]types.AttributeValue, values map[string]time.Time) {
	for name, t := range values {
		if !t.IsZero() {
			item[name] = micros(t)
		}
	}
}

// decoder reads one item, remembering the first problem so a decode can
// read every field and report once.
type decoder struct {
	item map[string]types.AttributeValue
	err  string
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == "" {
		d.err = fmt.Sprintf(format, args...)
	}
}

// list reads an optional list of strings; absent is nil.
func (d *decoder) list(name string) []string {
	av, ok := d.item[name]
	if !ok {
		return nil
	}
	l, ok := av.(*types.AttributeValueMemberL)
	if !ok {
		d.fail("attribute %q is %s, want a list", name, kindOf(av))
		return nil
	}
	var out []string
	for i, e := range l.Value {
		s, ok := e.(*types.AttributeValueMemberS)
		if !ok {
			d.fail("attribute %q entry %d is %s, want a string", name, i, kindOf(e))
			return nil
		}
		out = append(out, s.Value)
	}
	return out
}

// str reads an optional string attribute; absent is "".
func (d *decoder) str(name string, required bool) string {
	av, ok := d.item[name]
	if !ok {
		if required {
			d.fail("missing attribute %q", name)
		}
		return ""
	}
	s, ok := av.(*types.AttributeValueMemberS)
	if !ok {
		d.fail("attribute %q is %s, want a string", name, kindOf(av))
		return ""
	}
	return s.Value
}

// int reads a number attribute that must hold an integer.
func (d *decoder) int(name string, required bool) int64 {
	av, ok := d.item[name]
	if !ok {
		if required {
			d.fail("missing attribute %q", name)
		}
		return 0
	}
	n, ok := av.(*types.AttributeValueMemberN)
	if !ok {
		d.fail("attribute %q is %s, want a number", name, kindOf(av))
		return 0
	}
	v, err := strconv.ParseInt(n.Value, 10, 64)
	if err != nil {
		d.fail("attribute %q holds %q, want a 64-bit integer", name, n.Value)
		return 0
	}
	return v
}

// bool reads a required boolean attribute.
func (d *decoder) bool(name string) bool {
	av, ok := d.item[name]
	if !ok {
		d.fail("missing attribute %q", name)
		return false
	}
	b, ok := av.(*types.AttributeValueMemberBOOL)
	if !ok {
		d.fail("attribute %q is %s, want a boolean", name, kindOf(av))
		return false
	}
	return b.Value
}

// time reads an optional time attribute; absent is the zero time.
func (d *decoder) time(name string) time.Time {
	if _, ok := d.item[name]; !ok {
		return time.Time{}
	}
	return time.UnixMicro(d.int(name, true)).UTC()
}

func kindOf(av types.AttributeValue) string {
	switch av.(type) {
	case *types.AttributeValueMemberS:
		return "a string"
	case *types.AttributeValueMemberN:
		return "a number"
	case *types.AttributeValueMemberB:
		return "binary"
	case *types.AttributeValueMemberBOOL:
		return "a boolean"
	case *types.AttributeValueMemberNULL:
		return "null"
	case *types.AttributeValueMemberM:
		return "a map"
	case *types.AttributeValueMemberL:
		return "a list"
	default:
		return "a set"
	}
}

// decodeSession reads the item stored under id (the key the caller asked
// for, or the one a listing found). Anything it cannot trust is an error
// wrapping ports.ErrCorrupt that names id; it never panics.
func decodeSession(id string, item map[string]types.AttributeValue) (ports.Session, error) {
	d := newDecoder(item, schemaValue)
	s := ports.Session{
		ID:               d.str(attrID, true),
		User:             d.str(attrUser, false),
		Profile:          d.str(attrProfile, false),
		ServerInstanceID: d.str(attrInstance, false),
		Status:           ports.SessionStatus(d.str(attrStatus, true)),
		IdentitySource:   d.str(attrIdentitySource, false),
		StartedAt:        d.time(attrStartedAt),
		LastAccessAt:     d.time(attrLastAccessAt),
		ExpiresAt:        d.time(attrExpiresAt),
		RequestCount:     d.int(attrRequestCount, true),
		SourceIdentity:   d.str(attrSourceIdentity, false),
		RevokedBy:        d.str(attrRevokedBy, false),
		RevokedReason:    d.str(attrRevokedReason, false),
		RevokedAt:        d.time(attrRevokedAt),
		CreatedAt:        d.time(attrCreatedAt),
		UpdatedAt:        d.time(attrUpdatedAt),
		Version:          d.int(attrVersion, true),
		RoleARNs:         d.list(attrRoleARNs),
		AssumedRoleIDs:   d.list(attrAssumedRoleIDs),
		RevocationPoll:   time.Duration(d.int(attrPoll, false)),
		UserARN:          d.str(attrUserARN, false),
	}
	if err := d.done("session", id, ports.SessionPosition(s), s.Status.Valid(), string(s.Status), s.Version); err != nil {
		return ports.Session{}, err
	}
	return s, nil
}

// newDecoder starts reading item, checking first that it carries schema:
// anything else under the key is foreign and reads as corrupt.
func newDecoder(item map[string]types.AttributeValue, schema string) *decoder {
	d := &decoder{item: item}
	if got := d.str(attrSchema, true); d.err == "" && got != schema {
		d.fail("unknown schema marker %q", got)
	}
	return d
}

// done runs the checks every record type shares once its fields are read
// (the id is the key's, the status known, the version at least 1, the sort
// key in step) and returns the first problem as an error wrapping
// ports.ErrCorrupt that names the noun and id, or nil.
func (d *decoder) done(noun, id string, pos ports.Position, statusValid bool, status string, version int64) error {
	sortKey := d.str(attrCreatedSort, true)
	if d.err == "" {
		switch {
		case pos.ID != id:
			d.fail("item holds id %q", pos.ID)
		case !statusValid:
			d.fail("unknown status %q", status)
		case version < 1:
			d.fail("version %d below 1", version)
		case sortKey != createdSort(pos.CreatedAt, pos.ID):
			d.fail("sort key %q does not match created_at and id", sortKey)
		}
	}
	if d.err != "" {
		return corrupt(noun, id, d.err)
	}
	return nil
}

// itemID names an item for an error message, even a foreign one.
func itemID(item map[string]types.AttributeValue) string {
	if s, ok := item[attrID].(*types.AttributeValueMemberS); ok {
		return s.Value
	}
	return "(item without a string id)"
}

func corrupt(noun, id, reason string) error {
	return fmt.Errorf("dynamo: stored %s %q: %s: %w", noun, id, strings.TrimSpace(reason), ports.ErrCorrupt)
}
