package dynamo

import (
	"errors"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sentinel-gw/sentinel/ports"
)

func sampleSession() ports.Session {
	at := time.Date(2031, 3, 14, 9, 26, 53, 589_793_000, time.UTC)
	return ports.Session{
		ID: "0123456789abcdef0123456789abcdef", User: "alice", Profile: "prod", ServerInstanceID: "inst-1",
		Status: ports.SessionActive, IdentitySource: "sts", StartedAt: at, LastAccessAt: at,
		ExpiresAt: at.Add(time.Hour), RequestCount: math.MaxInt64, SourceIdentity: "sentinel:alice",
		CreatedAt: at, UpdatedAt: at, Version: 3,
		RoleARNs:       []string{"arn:aws:iam::111122223333:role/path/Deploy,x", "arn:aws:iam::111122223333:role/Other"},
		AssumedRoleIDs: []string{"AROAEXAMPLE:sentinel.alice.0123456789abcdef0123456789abcdef"},
	}
}

func TestCodecRoundTrip(t *testing.T) {
	cases := map[string]func(*ports.Session){
		"every field set": func(*ports.Session) {},
		"revoked": func(s *ports.Session) {
			s.Status, s.RevokedBy, s.RevokedReason, s.RevokedAt = ports.SessionRevoked, "bob", "left", s.CreatedAt.Add(time.Minute)
		},
		"zero times and empty strings": func(s *ports.Session) {
			s.User, s.Profile, s.ServerInstanceID, s.IdentitySource, s.SourceIdentity = "", "", "", "", ""
			s.RoleARNs, s.AssumedRoleIDs = nil, nil
			s.StartedAt, s.LastAccessAt, s.ExpiresAt, s.CreatedAt, s.UpdatedAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}, time.Time{}
		},
		"before 1970, sub-microsecond, another zone": func(s *ports.Session) {
			s.CreatedAt = time.Date(1961, 4, 12, 6, 7, 0, 123_456_789, time.FixedZone("MSK", 3*3600))
		},
	}
	for name, mutate := range cases {
		in := sampleSession()
		mutate(&in)
		want := stored(in)
		got, err := decodeSession(in.ID, encodeSession(want))
		if err != nil {
			t.Errorf("%s: decode: %v", name, err)
			continue
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v", name, got, want)
		}
		if !got.CreatedAt.IsZero() && !got.CreatedAt.Equal(in.CreatedAt.Truncate(time.Microsecond)) {
			t.Errorf("%s: CreatedAt %s, want %s truncated to the microsecond", name, got.CreatedAt, in.CreatedAt)
		}
	}
}

func TestDecodeCorrupt(t *testing.T) {
	good := stored(sampleSession())
	id := good.ID
	tests := []struct {
		name    string
		mutate  func(item map[string]types.AttributeValue)
		mention string
	}{
		{"empty item", func(item map[string]types.AttributeValue) { clear(item) }, "missing attribute"},
		{"no schema marker", func(item map[string]types.AttributeValue) { delete(item, attrSchema) }, `"schema"`},
		{"foreign schema marker", func(item map[string]types.AttributeValue) { item[attrSchema] = str("other/2") }, `"other/2"`},
		{"schema marker as a number", func(item map[string]types.AttributeValue) { item[attrSchema] = num(1) }, "want a string"},
		{"id of another item", func(item map[string]types.AttributeValue) { item[attrID] = str("other") }, `holds id "other"`},
		{"unknown status", func(item map[string]types.AttributeValue) { item[attrStatus] = str("paused") }, `"paused"`},
		{"status as a boolean", func(item map[string]types.AttributeValue) {
			item[attrStatus] = &types.AttributeValueMemberBOOL{Value: true}
		}, "a boolean"},
		{"version as a string", func(item map[string]types.AttributeValue) { item[attrVersion] = str("7") }, "want a number"},
		{"version zero", func(item map[string]types.AttributeValue) { item[attrVersion] = num(0) }, "below 1"},
		{"version not an integer", func(item map[string]types.AttributeValue) {
			item[attrVersion] = &types.AttributeValueMemberN{Value: "1.5"}
		}, "64-bit integer"},
		{"request count too large", func(item map[string]types.AttributeValue) {
			item[attrRequestCount] = &types.AttributeValueMemberN{Value: "99999999999999999999"}
		}, "64-bit integer"},
		{"no request count", func(item map[string]types.AttributeValue) { delete(item, attrRequestCount) }, "request_count"},
		{"time as a string", func(item map[string]types.AttributeValue) { item[attrExpiresAt] = str("tomorrow") }, "expires_at"},
		{"user as a list", func(item map[string]types.AttributeValue) {
			item[attrUser] = &types.AttributeValueMemberL{}
		}, "a list"},
		{"role arns as a string", func(item map[string]types.AttributeValue) { item[attrRoleARNs] = str("arn:aws:iam::1:role/R") }, "want a list"},
		{"assumed role id not a string", func(item map[string]types.AttributeValue) {
			item[attrAssumedRoleIDs] = &types.AttributeValueMemberL{Value: []types.AttributeValue{num(7)}}
		}, "entry 0 is a number"},
		{"sort key of another time", func(item map[string]types.AttributeValue) {
			item[attrCreatedSort] = str(createdSort(good.CreatedAt.Add(time.Second), id))
		}, "sort key"},
		{"no sort key", func(item map[string]types.AttributeValue) { delete(item, attrCreatedSort) }, "created_sort"},
	}
	for _, tt := range tests {
		item := encodeSession(good)
		tt.mutate(item)
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s: decodeSession panicked: %v", tt.name, r)
				}
			}()
			_, err = decodeSession(id, item)
		}()
		if !errors.Is(err, ports.ErrCorrupt) || !strings.Contains(err.Error(), id) || !strings.Contains(err.Error(), tt.mention) {
			t.Errorf("%s: decodeSession = %v; want ErrCorrupt naming %s and mentioning %q", tt.name, err, id, tt.mention)
		}
	}
}

// The index sort key, compared as DynamoDB compares strings (bytewise),
// must give exactly ports' listing order, ties and pre-1970 times included.
func TestCreatedSortOrdersLikeListings(t *testing.T) {
	base := time.Date(2031, 3, 14, 9, 26, 53, 589_793_000, time.UTC)
	var sessions []ports.Session
	for i, at := range []time.Time{
		base, base, base.Add(time.Microsecond), base.Add(-time.Microsecond), base.Add(time.Hour),
		time.Unix(0, 0), time.Unix(-1, 0), time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC), {}, {},
	} {
		for _, id := range []string{"ff", "0a", "a", "a#"} {
			sessions = append(sessions, ports.Session{ID: id + strings.Repeat("x", i), CreatedAt: truncate(at)})
		}
	}
	want := slices.Clone(sessions)
	ports.SortByPosition(want, ports.SessionPosition)
	got := slices.Clone(sessions)
	slices.SortFunc(got, func(a, b ports.Session) int {
		return strings.Compare(createdSort(b.CreatedAt, b.ID), createdSort(a.CreatedAt, a.ID))
	})
	if !slices.Equal(sessionIDs(got), sessionIDs(want)) {
		t.Errorf("sort-key order\n%v\nwant\n%v", sessionIDs(got), sessionIDs(want))
	}
}

func sessionIDs(ss []ports.Session) []string {
	ids := make([]string, 0, len(ss))
	for _, s := range ss {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestTTL(t *testing.T) {
	at := time.Date(2031, 3, 14, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name               string
		expires, revokedAt time.Time
		want               int64
	}{
		{"no lease, not revoked", time.Time{}, time.Time{}, 0},
		{"lease", at, time.Time{}, at.Add(Retention).Unix()},
		{"revoked before the lease ends", at, at.Add(-time.Hour), at.Add(Retention).Unix()},
		{"revoked after the lease ended", at, at.Add(time.Hour), at.Add(time.Hour + Retention).Unix()},
		{"revoked without a lease", time.Time{}, at, at.Add(Retention).Unix()},
	}
	for _, tt := range tests {
		s := sampleSession()
		s.ExpiresAt, s.RevokedAt = tt.expires, tt.revokedAt
		if got := ttlOf(s); got != tt.want {
			t.Errorf("%s: ttl %d, want %d", tt.name, got, tt.want)
		}
		item := encodeSession(stored(s))
		_, has := item[attrTTL]
		if has != (tt.want != 0) {
			t.Errorf("%s: item has ttl attribute: %v, want %v", tt.name, has, tt.want != 0)
		}
	}
	// An empty index value must be absent, never "": DynamoDB refuses it.
	s := sampleSession()
	s.User = ""
	if _, has := encodeSession(s)[attrUser]; has {
		t.Errorf("empty user encoded as an attribute: %v", slices.Sorted(maps.Keys(encodeSession(s))))
	}
}
