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

	bucketRequests     = []byte("requests")
	bucketReqRequester = []byte("idx_req_requester")
	bucketReqProfile   = []byte("idx_req_profile")
	bucketReqStatus    = []byte("idx_req_status")

	bucketBreakGlass = []byte("breakglass")
	bucketBGInvoker  = []byte("idx_bg_invoker")
	bucketBGProfile  = []byte("idx_bg_profile")
	bucketBGStatus   = []byte("idx_bg_status")
	// bucketBGActive holds only events stored as active, keyed by (invoker,
	// profile, position): what CreateBreakGlass scans to keep one active
	// event per invoker and profile.
	bucketBGActive = []byte("idx_bg_active")

	allBuckets = [][]byte{
		bucketMeta, bucketSessions, bucketUser, bucketProfile, bucketStatus, bucketInstance,
		bucketRequests, bucketReqRequester, bucketReqProfile, bucketReqStatus,
		bucketBreakGlass, bucketBGInvoker, bucketBGProfile, bucketBGStatus, bucketBGActive,
		bucketLocks,
	}

	// keySchema in the meta bucket names the layout, so a later layout can
	// refuse a file it does not understand instead of misreading it.
	keySchema   = []byte("schema")
	schemaValue = []byte("sentinel-sessions/1")
)

// envelopeVersion is the only record format this code reads.
const envelopeVersion = 1

// envelope is how a record is stored: the format version and exactly one
// record, under the field of its type, so a record of one type found where
// another belongs reads as corrupt.
type envelope struct {
	V       int             `json:"v"`
	Session json.RawMessage `json:"session,omitempty"`
	Request json.RawMessage `json:"request,omitempty"`
	Event   json.RawMessage `json:"breakglass,omitempty"`
	Lock    json.RawMessage `json:"lock,omitempty"`
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
	var s ports.Session
	if err := decodeEnvelope("session", id, raw, func(e envelope) json.RawMessage { return e.Session }, &s); err != nil {
		return ports.Session{}, err
	}
	if err := checkDecoded("session", id, s.ID, s.Status.Valid(), string(s.Status), s.Version); err != nil {
		return ports.Session{}, err
	}
	return inUTC(s), nil
}

func encodeRequest(r ports.ApprovalRequest) ([]byte, error) {
	inner, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("bolt: encode request %q: %w", r.ID, err)
	}
	return json.Marshal(envelope{V: envelopeVersion, Request: inner})
}

// decodeRequest reads the approval request stored under id; anything it
// cannot trust wraps ports.ErrCorrupt and names id.
func decodeRequest(id string, raw []byte) (ports.ApprovalRequest, error) {
	var r ports.ApprovalRequest
	if err := decodeEnvelope("request", id, raw, func(e envelope) json.RawMessage { return e.Request }, &r); err != nil {
		return ports.ApprovalRequest{}, err
	}
	if err := checkDecoded("request", id, r.ID, r.Status.Valid(), string(r.Status), r.Version); err != nil {
		return ports.ApprovalRequest{}, err
	}
	return requestInUTC(r), nil
}

func encodeEvent(e ports.BreakGlassEvent) ([]byte, error) {
	inner, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("bolt: encode break-glass event %q: %w", e.ID, err)
	}
	return json.Marshal(envelope{V: envelopeVersion, Event: inner})
}

// decodeEvent reads the break-glass event stored under id; anything it
// cannot trust wraps ports.ErrCorrupt and names id.
func decodeEvent(id string, raw []byte) (ports.BreakGlassEvent, error) {
	var e ports.BreakGlassEvent
	if err := decodeEnvelope("break-glass event", id, raw, func(e envelope) json.RawMessage { return e.Event }, &e); err != nil {
		return ports.BreakGlassEvent{}, err
	}
	if err := checkDecoded("break-glass event", id, e.ID, e.Status.Valid(), string(e.Status), e.Version); err != nil {
		return ports.BreakGlassEvent{}, err
	}
	return eventInUTC(e), nil
}

// decodeEnvelope checks the envelope of raw and decodes the record that
// field picks into out.
func decodeEnvelope(noun, id string, raw []byte, field func(envelope) json.RawMessage, out any) error {
	var env envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return corrupt(noun, id, "undecodable envelope: "+err.Error())
	}
	if env.V != envelopeVersion {
		return corrupt(noun, id, fmt.Sprintf("unknown envelope version %d", env.V))
	}
	inner := field(env)
	if len(inner) == 0 {
		return corrupt(noun, id, "envelope holds no "+noun)
	}
	if err := json.Unmarshal(inner, out); err != nil {
		return corrupt(noun, id, "undecodable "+noun+": "+err.Error())
	}
	return nil
}

// checkDecoded refuses a decoded record that is not the one stored under id.
func checkDecoded(noun, id, gotID string, statusValid bool, status string, version int64) error {
	switch {
	case gotID != id:
		return corrupt(noun, id, fmt.Sprintf("record holds id %q", gotID))
	case !statusValid:
		return corrupt(noun, id, fmt.Sprintf("unknown status %q", status))
	case version < 1:
		return corrupt(noun, id, fmt.Sprintf("version %d below 1", version))
	}
	return nil
}

func corrupt(noun, id, reason string) error {
	return fmt.Errorf("stored %s %q: %s: %w", noun, id, reason, ports.ErrCorrupt)
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

func requestInUTC(r ports.ApprovalRequest) ports.ApprovalRequest {
	r.CreatedAt = r.CreatedAt.UTC()
	r.UpdatedAt = r.UpdatedAt.UTC()
	r.ExpiresAt = r.ExpiresAt.UTC()
	r.ApprovedAt = r.ApprovedAt.UTC()
	return r
}

func eventInUTC(e ports.BreakGlassEvent) ports.BreakGlassEvent {
	e.CreatedAt = e.CreatedAt.UTC()
	e.UpdatedAt = e.UpdatedAt.UTC()
	e.ExpiresAt = e.ExpiresAt.UTC()
	return e
}

// effectiveAt reports a lapsed active session as expired, Version unchanged.
func effectiveAt(s ports.Session, now time.Time) ports.Session {
	if s.Lapsed(now) {
		s.Status = ports.SessionExpired
	}
	return s
}

// effectiveRequest reports a lapsed pending or approved request as expired,
// Version unchanged.
func effectiveRequest(r ports.ApprovalRequest, now time.Time) ports.ApprovalRequest {
	if r.Lapsed(now) {
		r.Status = ports.RequestExpired
	}
	return r
}

// effectiveEvent reports a lapsed active event as expired, Version unchanged.
func effectiveEvent(e ports.BreakGlassEvent, now time.Time) ports.BreakGlassEvent {
	if e.Lapsed(now) {
		e.Status = ports.BreakGlassExpired
	}
	return e
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

// requestIndexEntries lists every index key the request r needs, by stored status.
func requestIndexEntries(r ports.ApprovalRequest) []indexEntry {
	return []indexEntry{
		{bucketReqRequester, indexKey(r.Requester, r.CreatedAt, r.ID)},
		{bucketReqProfile, indexKey(r.Profile, r.CreatedAt, r.ID)},
		{bucketReqStatus, indexKey(string(r.Status), r.CreatedAt, r.ID)},
	}
}

// eventIndexEntries lists every index key the event e needs, by stored
// status; only a stored-active event has a key in bucketBGActive.
func eventIndexEntries(e ports.BreakGlassEvent) []indexEntry {
	entries := []indexEntry{
		{bucketBGInvoker, indexKey(e.Invoker, e.CreatedAt, e.ID)},
		{bucketBGProfile, indexKey(e.Profile, e.CreatedAt, e.ID)},
		{bucketBGStatus, indexKey(string(e.Status), e.CreatedAt, e.ID)},
	}
	if e.Status == ports.BreakGlassActive {
		entries = append(entries, indexEntry{bucketBGActive, append(pairPrefix(e.Invoker, e.Profile), positionKey(e.CreatedAt, e.ID)...)})
	}
	return entries
}

// pairPrefix is the bucketBGActive prefix of an invoker and profile: both
// length-prefixed, so no pair is a prefix of another's keys.
func pairPrefix(invoker, profile string) []byte {
	return append(indexPrefix(invoker), indexPrefix(profile)...)
}
