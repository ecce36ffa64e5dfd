package dynamo

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sentinel-gw/sentinel/ports"
)

func sampleRequest() ports.ApprovalRequest {
	at := time.Date(2031, 3, 14, 9, 26, 53, 589_793_000, time.UTC)
	return ports.ApprovalRequest{
		ID: "1123456789abcdef0123456789abcdef", Requester: "alice", RequesterARN: "arn:aws:iam::111122223333:user/alice",
		Profile: "prod", Justification: "roll out the hotfix", Duration: 90*time.Minute + 1, Status: ports.RequestApproved,
		CreatedAt: at, UpdatedAt: at.Add(time.Minute), ExpiresAt: at.Add(2 * time.Hour), Approver: "bob",
		ApproverComment: "ok", ApprovedAt: at.Add(time.Minute), CancelledBy: "carol", Version: 4,
	}
}

func sampleEvent() ports.BreakGlassEvent {
	at := time.Date(2031, 3, 14, 9, 26, 53, 589_793_000, time.UTC)
	return ports.BreakGlassEvent{
		ID: "2123456789abcdef0123456789abcdef", Invoker: "alice", InvokerARN: "arn:aws:sts::111122223333:assumed-role/oncall/alice",
		Profile: "prod", ReasonCode: "incident", Justification: "the primary database refuses connections",
		Duration: 2*time.Hour + 1, Status: ports.BreakGlassActive, Escalated: true,
		CreatedAt: at, UpdatedAt: at.Add(time.Second), ExpiresAt: at.Add(2 * time.Hour), Version: 2,
	}
}

// roundTrip encodes and decodes through a kind, checking the result is the
// stored form of in.
func roundTrip[T comparable](t *testing.T, k recordKind[T], name string, in T) {
	t.Helper()
	want := k.stored(in)
	got, err := k.decode(k.id(in), k.encode(want))
	if err != nil {
		t.Errorf("%s %s: decode: %v", k.noun, name, err)
		return
	}
	if got != want {
		t.Errorf("%s %s: round trip\n got %+v\nwant %+v", k.noun, name, got, want)
	}
}

func TestRecordCodecRoundTrip(t *testing.T) {
	zone := time.FixedZone("UTC-03:30", -(3*3600 + 1800))
	r := sampleRequest()
	roundTrip(t, requestRecords, "every field set", r)
	r.CreatedAt, r.ExpiresAt = r.CreatedAt.Add(654).In(zone), time.Date(1961, 4, 12, 6, 7, 0, 123_456_789, zone)
	roundTrip(t, requestRecords, "sub-microsecond, before 1970, another zone", r)
	roundTrip(t, requestRecords, "zero values", ports.ApprovalRequest{ID: r.ID, Status: ports.RequestPending, Version: 1})

	e := sampleEvent()
	roundTrip(t, eventRecords, "every field set", e)
	e.Escalated, e.Duration, e.UpdatedAt = false, -time.Nanosecond, e.UpdatedAt.Add(999).In(zone)
	roundTrip(t, eventRecords, "not escalated, negative duration, another zone", e)
	roundTrip(t, eventRecords, "zero values", ports.BreakGlassEvent{ID: e.ID, Status: ports.BreakGlassClosed, Version: 1})

	got := storedRequest(r)
	if !got.CreatedAt.Equal(r.CreatedAt.Truncate(time.Microsecond)) || got.CreatedAt.Location() != time.UTC {
		t.Errorf("stored CreatedAt %s, want %s truncated to the microsecond, in UTC", got.CreatedAt, r.CreatedAt)
	}
}

func TestDecodeCorruptRecords(t *testing.T) {
	type mutation struct {
		name    string
		mutate  func(item map[string]types.AttributeValue)
		mention string
	}
	shared := []mutation{
		{"a session's schema marker", func(item map[string]types.AttributeValue) { item[attrSchema] = str(schemaValue) }, schemaValue},
		{"duration as a string", func(item map[string]types.AttributeValue) { item[attrDuration] = str("1h") }, "duration"},
		{"no duration", func(item map[string]types.AttributeValue) { delete(item, attrDuration) }, "duration"},
		{"another item's id", func(item map[string]types.AttributeValue) { item[attrID] = str("x") }, `holds id "x"`},
		{"sort key of another id", func(item map[string]types.AttributeValue) { item[attrCreatedSort] = str("0#x") }, "sort key"},
		{"version zero", func(item map[string]types.AttributeValue) { item[attrVersion] = num(0) }, "below 1"},
	}
	check := func(noun, id, name, mention string, decode func() error) {
		t.Helper()
		var err error
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("%s %s: decode panicked: %v", noun, name, r)
				}
			}()
			err = decode()
		}()
		if !errors.Is(err, ports.ErrCorrupt) || !strings.Contains(err.Error(), id) ||
			!strings.Contains(err.Error(), noun) || !strings.Contains(err.Error(), mention) {
			t.Errorf("%s %s: decode = %v; want ErrCorrupt naming the %s %s and mentioning %q", noun, name, err, noun, id, mention)
		}
	}

	r := storedRequest(sampleRequest())
	for _, m := range append(shared,
		mutation{"a session status", func(item map[string]types.AttributeValue) { item[attrStatus] = str("active") }, `"active"`},
		mutation{"approved_at as a string", func(item map[string]types.AttributeValue) { item[attrApprovedAt] = str("noon") }, "approved_at"},
	) {
		item := encodeRequest(r)
		m.mutate(item)
		check("request", r.ID, m.name, m.mention, func() error { _, err := decodeRequest(r.ID, item); return err })
	}

	e := storedEvent(sampleEvent())
	for _, m := range append(shared,
		mutation{"a request status", func(item map[string]types.AttributeValue) { item[attrStatus] = str("pending") }, `"pending"`},
		mutation{"escalated as a string", func(item map[string]types.AttributeValue) { item[attrEscalated] = str("yes") }, "want a boolean"},
		mutation{"no escalated flag", func(item map[string]types.AttributeValue) { delete(item, attrEscalated) }, "escalated"},
		mutation{"a guard's schema marker", func(item map[string]types.AttributeValue) { item[attrSchema] = str(guardSchema) }, guardSchema},
	) {
		item := encodeEvent(e)
		m.mutate(item)
		check("break-glass event", e.ID, m.name, m.mention, func() error { _, err := decodeEvent(e.ID, item); return err })
	}

	guardID := guardKey("alice", "prod")
	for _, m := range []mutation{
		{"an event's schema marker", func(item map[string]types.AttributeValue) { item[attrSchema] = str(eventSchema) }, eventSchema},
		{"no event", func(item map[string]types.AttributeValue) { delete(item, attrGuardEvent) }, `"event"`},
		{"another key", func(item map[string]types.AttributeValue) { item[attrID] = str("guard#x") }, `holds id "guard#x"`},
	} {
		item := map[string]types.AttributeValue{attrID: str(guardID), attrSchema: str(guardSchema), attrGuardEvent: str(e.ID)}
		if got, err := decodeGuard(guardID, item); err != nil || got != e.ID {
			t.Fatalf("decodeGuard(a sound guard) = %q, %v; want %q", got, err, e.ID)
		}
		m.mutate(item)
		check("break-glass guard", guardID, m.name, m.mention, func() error { _, err := decodeGuard(guardID, item); return err })
	}
}

// Names may hold the separator; the guard keys of two pairs must still differ.
func TestGuardKeyIsUnambiguous(t *testing.T) {
	pairs := [][2]string{
		{"a#b", "c"}, {"a", "b#c"}, {"a#", "b"}, {"a", "#b"}, {"", "a#b"}, {"a#b", ""}, {"1#a", "b"}, {"", ""}, {"é", "x"},
	}
	seen := map[string][2]string{}
	for _, p := range pairs {
		k := guardKey(p[0], p[1])
		if !strings.HasPrefix(k, guardPrefix) {
			t.Errorf("guardKey%q = %q, want the prefix %q", p, k, guardPrefix)
		}
		if other, dup := seen[k]; dup {
			t.Errorf("guardKey%q = guardKey%q = %q", p, other, k)
		}
		seen[k] = p
	}
}

// The guard items share the break-glass table with the events: no event
// may take a guard's key, no listing shows a guard, and a foreign item where
// a guard lives fails a create for that pair only, naming the guard.
func TestBreakGlassGuardItems(t *testing.T) {
	t.Parallel()
	client := testClient(t)
	table := newTestTable(t, client)
	store := New(client, table, ports.NewFakeClock(testNow))

	ev := sampleEvent()
	ev.CreatedAt, ev.UpdatedAt, ev.ExpiresAt = testNow, testNow, testNow.Add(time.Hour)
	created, err := store.CreateBreakGlass(t.Context(), ev)
	if err != nil {
		t.Fatalf("CreateBreakGlass: %v", err)
	}
	guardID := guardKey(ev.Invoker, ev.Profile)

	reserved := ev
	reserved.ID = guardID
	if _, err := store.CreateBreakGlass(t.Context(), reserved); !errors.Is(err, ports.ErrInvalidArgument) {
		t.Errorf("CreateBreakGlass with a guard's key as id = %v, want ErrInvalidArgument", err)
	}
	reserved.Status = ports.BreakGlassClosed
	if _, err := store.CreateBreakGlass(t.Context(), reserved); !errors.Is(err, ports.ErrInvalidArgument) {
		t.Errorf("CreateBreakGlass of a closed event with a guard's key as id = %v, want ErrInvalidArgument", err)
	}
	if _, err := store.GetBreakGlass(t.Context(), guardID); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("GetBreakGlass(guard key) = %v, want ErrNotFound", err)
	}
	reserved.Version = 1
	if _, err := store.UpdateBreakGlass(t.Context(), reserved); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("UpdateBreakGlass(guard key) = %v, want ErrNotFound", err)
	}
	for _, st := range []ports.BreakGlassStatus{ports.BreakGlassActive, ports.BreakGlassClosed, ports.BreakGlassExpired} {
		page, err := store.ListBreakGlassByStatus(t.Context(), st, ports.Page{Limit: 10})
		want := 0
		if st == ports.BreakGlassActive {
			want = 1
		}
		if err != nil || len(page.Events) != want {
			t.Errorf("ListBreakGlassByStatus(%s) = %+v, %v; want %d events and no guard", st, page.Events, err, want)
		}
	}

	putForeign(t, client, TableNames(table)[2], guardID)
	twin := sampleEvent()
	twin.ID = randomHex(16)
	twin.CreatedAt, twin.ExpiresAt = testNow, testNow.Add(time.Hour)
	_, err = store.CreateBreakGlass(t.Context(), twin)
	if !errors.Is(err, ports.ErrCorrupt) || !strings.Contains(err.Error(), guardID) {
		t.Errorf("CreateBreakGlass over a foreign guard = %v; want ErrCorrupt naming %q", err, guardID)
	}
	if _, err := store.GetBreakGlass(t.Context(), twin.ID); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("GetBreakGlass of the refused event = %v, want ErrNotFound", err)
	}
	twin.Profile += "-other"
	if _, err := store.CreateBreakGlass(t.Context(), twin); err != nil {
		t.Errorf("CreateBreakGlass for another profile beside a foreign guard: %v", err)
	}
	if got, err := store.GetBreakGlass(t.Context(), created.ID); err != nil || got != created {
		t.Errorf("GetBreakGlass of the first event = %+v, %v; want it unchanged", got, err)
	}
}
