package bolt

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// Bucket names. Index buckets hold empty values under keys that sort by
// (value, CreatedAt, ID) ascending, so a listing is a backward range scan.
var (
	bucketMeta     = []byte("meta")
	bucketSessions = []byte("sessions")
	bucketUser     = []byte("idx_user")
	bucketProfile  = []byte("idx_profile")
	bucketStatus   = []byte("idx_status")
	bucketInstance = []byte("idx_instance")

	allBuckets = [][]byte{bucketMeta, bucketSessions, bucketUser, bucketProfile, bucketStatus, bucketInstance}

	// keySchema in the meta bucket names the layout, so a later layout can
	// refuse a file it does not understand instead of misreading it.
	keySchema   = []byte("schema")
	schemaValue = []byte("sentinel-sessions/1")
)

// envelopeVersion is the only record format this code reads.
const envelopeVersion = 1

// envelope is how a session is stored in the sessions bucket.
type envelope struct {
	V       int             `json:"v"`
	Session json.RawMessage `json:"session"`
}

func encodeSession(s ports.Session) ([]byte, error) {
	inner, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("bolt: encode session %q: %w", s.ID, err)
	}
	return json.Marshal(envelope{V: envelopeVersion, Session: inner})
}

// decodeSession reads the record stored under id. Anything it cannot trust
// is an error wrapping ports.ErrCorrupt that names id.
func decodeSession(id string, raw []byte) (ports.Session, error) {
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return ports.Session{}, corrupt(id, "undecodable envelope: "+err.Error())
	}
	if env.V != envelopeVersion {
		return ports.Session{}, corrupt(id, fmt.Sprintf("unknown envelope version %d", env.V))
	}
	if len(env.Session) == 0 {
		return ports.Session{}, corrupt(id, "envelope holds no session")
	}
	var s ports.Session
	if err := json.Unmarshal(env.Session, &s); err != nil {
		return ports.Session{}, corrupt(id, "undecodable session: "+err.Error())
	}
	switch {
	case s.ID != id:
		return ports.Session{}, corrupt(id, fmt.Sprintf("record holds id %q", s.ID))
	case !s.Status.Valid():
		return ports.Session{}, corrupt(id, fmt.Sprintf("unknown status %q", s.Status))
	case s.Version < 1:
		return ports.Session{}, corrupt(id, fmt.Sprintf("version %d below 1", s.Version))
	}
	return inUTC(s), nil
}

func corrupt(id, reason string) error {
	return fmt.Errorf("stored session %q: %s: %w", id, reason, ports.ErrCorrupt)
}

// inUTC puts every time in UTC (a zero time stays zero) and drops any
// monotonic reading, so a returned record equals a re-read one.
func inUTC(s ports.Session) ports.Session {
	s.StartedAt = s.StartedAt.UTC()
	s.LastAccessAt = s.LastAccessAt.UTC()
	s.ExpiresAt = s.ExpiresAt.UTC()
	s.RevokedAt = s.RevokedAt.UTC()
	s.CreatedAt = s.CreatedAt.UTC()
	s.UpdatedAt = s.UpdatedAt.UTC()
	return s
}

// effectiveAt reports a lapsed active session as expired, Version unchanged.
func effectiveAt(s ports.Session, now time.Time) ports.Session {
	if s.Lapsed(now) {
		s.Status = ports.SessionExpired
	}
	return s
}

// indexPrefix is the part of an index key naming the value: its length, then
// its bytes, so no value is a prefix of another's keys.
func indexPrefix(value string) []byte {
	p := make([]byte, 4, 4+len(value))
	binary.BigEndian.PutUint32(p, uint32(len(value))) //nolint:gosec // G115: bbolt refuses keys over 32 KiB long before 4 GiB
	return append(p, value...)
}

// positionKey orders (CreatedAt, ID) bytewise: seconds with the sign bit
// flipped (so times before 1970 sort first), nanoseconds, then the id. Unix()
// rather than UnixNano() so every representable time fits.
func positionKey(createdAt time.Time, id string) []byte {
	k := make([]byte, 12, 12+len(id))
	binary.BigEndian.PutUint64(k[0:8], uint64(createdAt.Unix())^(1<<63)) //nolint:gosec // G115: two's complement reinterpretation is the point
	binary.BigEndian.PutUint32(k[8:12], uint32(createdAt.Nanosecond()))  //nolint:gosec // G115: 0..999999999 fits
	return append(k, id...)
}

// positionKeyLen is the length of a positionKey before the id.
const positionKeyLen = 12

func indexKey(value string, createdAt time.Time, id string) []byte {
	return append(indexPrefix(value), positionKey(createdAt, id)...)
}

// indexEntry is one index key of a session.
type indexEntry struct {
	bucket []byte
	key    []byte
}

// indexEntries lists every index key the session s needs, by stored status.
func indexEntries(s ports.Session) []indexEntry {
	return []indexEntry{
		{bucketUser, indexKey(s.User, s.CreatedAt, s.ID)},
		{bucketProfile, indexKey(s.Profile, s.CreatedAt, s.ID)},
		{bucketStatus, indexKey(string(s.Status), s.CreatedAt, s.ID)},
		{bucketInstance, indexKey(s.ServerInstanceID, s.CreatedAt, s.ID)},
	}
}
