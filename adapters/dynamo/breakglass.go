package dynamo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sentinel-gw/sentinel/ports"
)

// Attribute names of a break-glass item, beyond those every item shares
// (id, schema, profile, status, justification, duration, the times,
// version, created_sort).
const (
	attrInvoker      = "invoker"
	attrInvokerARN   = "invoker_arn"
	attrReasonCode   = "reason_code"
	attrEscalated    = "escalated"
	attrClosedBy     = "closed_by"
	attrClosedReason = "closed_reason"
	// attrGuardEvent is the id of the event a guard item names.
	attrGuardEvent = "event"
)

// Schema markers of the break-glass table's two item types.
const (
	eventSchema = "sentinel-breakglass/1"
	guardSchema = "sentinel-breakglass-guard/1"
)

// guardPrefix begins the key of every guard item; no event may have an id
// that begins with it.
const guardPrefix = "guard#"

// guardAttempts bounds CreateBreakGlass's compare-and-set of a guard, which
// only repeats while other creators for the same pair keep winning.
const guardAttempts = 20

var eventRecords = recordKind[ports.BreakGlassEvent]{
	noun: "break-glass event", plural: "break-glass events", table: func(s *Store) string { return s.eventsTable },
	schema: eventSchema, encode: encodeEvent, decode: decodeEvent, stored: storedEvent,
	lapsed: ports.BreakGlassEvent.Lapsed, markExpired: func(e *ports.BreakGlassEvent) { e.Status = ports.BreakGlassExpired },
	position:    ports.BreakGlassPosition,
	status:      func(e ports.BreakGlassEvent) string { return string(e.Status) },
	validStatus: func(st string) bool { return ports.BreakGlassStatus(st).Valid() },
	version:     func(e *ports.BreakGlassEvent) *int64 { return &e.Version },
	lapsable:    []string{string(ports.BreakGlassActive)},
	expired:     string(ports.BreakGlassExpired),
}

// CreateBreakGlass stores e with Version 1, only if no item has its id.
//
// An event that is active as it reads now must also take its pair's guard:
// the item guardKey(invoker, profile), which names the last event created
// active for the pair. One TransactWriteItems puts the event, moves the
// guard from the event it named (or from nothing) to this one, and checks
// that the named event is no longer active (closed, expired, lapsed by
// now, or gone). When the named event is still active, the create fails
// with ErrAlreadyExists naming it; when another creator moved the guard
// first, it reads the guard again and retries. Closing or expiring an event
// leaves its guard alone: the check reads the event itself.
func (s *Store) CreateBreakGlass(ctx context.Context, e ports.BreakGlassEvent) (ports.BreakGlassEvent, error) {
	if err := eventRecords.check("create", e); err != nil {
		return ports.BreakGlassEvent{}, err
	}
	if strings.HasPrefix(e.ID, guardPrefix) {
		return ports.BreakGlassEvent{}, fmt.Errorf("dynamo: create break-glass event %q: ids beginning %q are reserved: %w",
			e.ID, guardPrefix, ports.ErrInvalidArgument)
	}
	rec := storedEvent(e)
	rec.Version = 1
	for attempt := range guardAttempts {
		if attempt > 0 {
			if err := jitter(ctx, attempt); err != nil {
				return ports.BreakGlassEvent{}, fmt.Errorf("dynamo: create break-glass event %q: %w", rec.ID, err)
			}
		}
		now := s.clock.Now()
		if !activeAt(rec, now) {
			return createRecord(ctx, s, eventRecords, rec) // nothing to guard
		}
		done, err := s.createGuarded(ctx, rec, now)
		if err != nil {
			return ports.BreakGlassEvent{}, err
		}
		if done {
			return eventRecords.asOf(rec, s.clock.Now()), nil
		}
	}
	return ports.BreakGlassEvent{}, fmt.Errorf("dynamo: create break-glass event %q: the guard of invoker %q and profile %q kept changing: %w",
		rec.ID, rec.Invoker, rec.Profile, ports.ErrConflict)
}

// createGuarded makes one attempt at creating the active event rec; false
// with a nil error means another creator moved the guard first.
func (s *Store) createGuarded(ctx context.Context, rec ports.BreakGlassEvent, now time.Time) (bool, error) {
	guardID := guardKey(rec.Invoker, rec.Profile)
	item, err := s.getItem(ctx, s.eventsTable, guardID)
	if err != nil {
		return false, eventRecords.fail(s, "create", rec.ID, nil, err)
	}
	blocker, err := decodeGuard(guardID, item)
	if err != nil {
		return false, fmt.Errorf("dynamo: create break-glass event %q: %w", rec.ID, err)
	}
	guard := &types.Put{
		TableName:                aws.String(s.eventsTable),
		Item:                     map[string]types.AttributeValue{attrID: str(guardID), attrSchema: str(guardSchema), attrGuardEvent: str(rec.ID)},
		ConditionExpression:      aws.String("attribute_not_exists(#id)"),
		ExpressionAttributeNames: namesFor("#id"),
	}
	items := []types.TransactWriteItem{{Put: &types.Put{
		TableName:                aws.String(s.eventsTable),
		Item:                     encodeEvent(rec),
		ConditionExpression:      aws.String("attribute_not_exists(#id)"),
		ExpressionAttributeNames: namesFor("#id"),
	}}, {Put: guard}}
	if blocker != "" {
		guard.ConditionExpression = aws.String("#event = :blocker")
		guard.ExpressionAttributeNames = namesFor("#event")
		guard.ExpressionAttributeValues = map[string]types.AttributeValue{":blocker": str(blocker)}
	}
	if blocker != "" && blocker != rec.ID { // its own id: the event put fails on its own
		if err := s.refuseIfActive(ctx, rec, blocker, now); err != nil {
			return false, err
		}
		items = append(items, types.TransactWriteItem{ConditionCheck: &types.ConditionCheck{
			TableName:                aws.String(s.eventsTable),
			Key:                      key(blocker),
			ConditionExpression:      aws.String("attribute_not_exists(#id) OR #status <> :active OR #expires_at <= :now"),
			ExpressionAttributeNames: namesFor("#id", "#status", "#expires_at"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":active": str(string(ports.BreakGlassActive)), ":now": micros(truncate(now)),
			},
		}})
	}
	// The SDK fills in a ClientRequestToken, so its own retries of this
	// attempt cannot turn a success into "id taken".
	_, err = s.client.TransactWriteItems(ctx, &dynamodb.TransactWriteItemsInput{TransactItems: items})
	var cancelled *types.TransactionCanceledException
	var inTx *types.TransactionConflictException
	switch {
	case err == nil:
		return true, nil
	case errors.As(err, &cancelled):
		if r := cancelled.CancellationReasons; len(r) > 0 && aws.ToString(r[0].Code) == "ConditionalCheckFailed" {
			return false, fmt.Errorf("dynamo: create break-glass event %q: id taken: %w", rec.ID, ports.ErrAlreadyExists)
		}
		return false, nil // the guard moved, the named event changed, or a concurrent transaction
	case errors.As(err, &inTx):
		return false, nil
	default:
		return false, eventRecords.fail(s, "create", rec.ID, nil, err)
	}
}

// refuseIfActive fails with ErrAlreadyExists naming the event the guard
// names when it reads as active now; a corrupt one is ErrCorrupt.
func (s *Store) refuseIfActive(ctx context.Context, rec ports.BreakGlassEvent, blocker string, now time.Time) error {
	item, err := s.getItem(ctx, s.eventsTable, blocker)
	if err != nil {
		return eventRecords.fail(s, "create", rec.ID, nil, err)
	}
	if item == nil {
		return nil // deleted: it blocks nothing
	}
	other, err := decodeEvent(blocker, item)
	if err != nil {
		return fmt.Errorf("dynamo: create break-glass event %q: reading the last active event of invoker %q and profile %q: %w",
			rec.ID, rec.Invoker, rec.Profile, err)
	}
	if activeAt(other, now) {
		return fmt.Errorf("dynamo: create break-glass event %q: invoker %q already has active break-glass event %s for profile %q: %w",
			rec.ID, rec.Invoker, other.ID, rec.Profile, ports.ErrAlreadyExists)
	}
	return nil
}

// activeAt reports whether e reads as active at now.
func activeAt(e ports.BreakGlassEvent, now time.Time) bool {
	return e.Status == ports.BreakGlassActive && !e.Lapsed(now)
}

// jitter waits a random while that grows with attempt, so creators that
// lost a race do not collide again in step.
func jitter(ctx context.Context, attempt int) error {
	t := time.NewTimer(time.Duration(rand.Int64N(int64(attempt) * int64(5*time.Millisecond)))) //nolint:gosec // G404: timing jitter, not a secret
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// guardKey is the key of the guard item of an invoker and profile. The
// invoker's length comes first, so no two pairs share a key whatever
// separators their names contain.
func guardKey(invoker, profile string) string {
	return guardPrefix + strconv.Itoa(len(invoker)) + "#" + invoker + "#" + profile
}

// decodeGuard returns the event id a guard item names, "" when there is no
// guard.
func decodeGuard(guardID string, item map[string]types.AttributeValue) (string, error) {
	if item == nil {
		return "", nil
	}
	d := newDecoder(item, guardSchema)
	gotID := d.str(attrID, true)
	event := d.str(attrGuardEvent, true)
	if d.err == "" && gotID != guardID {
		d.fail("item holds id %q", gotID)
	}
	if d.err != "" {
		return "", corrupt("break-glass guard", guardID, d.err)
	}
	return event, nil
}

// GetBreakGlass reads the event with a strongly consistent read.
func (s *Store) GetBreakGlass(ctx context.Context, id string) (ports.BreakGlassEvent, error) {
	if strings.HasPrefix(id, guardPrefix) {
		return ports.BreakGlassEvent{}, reservedID("get", id)
	}
	return getRecord(ctx, s, eventRecords, id)
}

// UpdateBreakGlass replaces the item when its version equals e.Version.
func (s *Store) UpdateBreakGlass(ctx context.Context, e ports.BreakGlassEvent) (ports.BreakGlassEvent, error) {
	if strings.HasPrefix(e.ID, guardPrefix) {
		return ports.BreakGlassEvent{}, reservedID("update", e.ID)
	}
	return updateRecord(ctx, s, eventRecords, e)
}

// reservedID is ErrNotFound for a guard's key: no event can have it.
func reservedID(op, id string) error {
	return fmt.Errorf("dynamo: %s break-glass event %q: ids beginning %q are reserved: %w", op, id, guardPrefix, ports.ErrNotFound)
}

// ListBreakGlassByInvoker lists the invoker's events, newest first.
func (s *Store) ListBreakGlassByInvoker(ctx context.Context, invoker string, p ports.Page) (ports.BreakGlassPage, error) {
	items, next, err := listSorted(ctx, s, eventRecords, "by invoker", indexInvoker, attrInvoker, []string{invoker}, p, nil)
	return ports.BreakGlassPage{Events: items, Next: next}, err
}

// ListBreakGlassByProfile lists the profile's events, newest first.
func (s *Store) ListBreakGlassByProfile(ctx context.Context, profile string, p ports.Page) (ports.BreakGlassPage, error) {
	items, next, err := listSorted(ctx, s, eventRecords, "by profile", indexProfile, attrProfile, []string{profile}, p, nil)
	return ports.BreakGlassPage{Events: items, Next: next}, err
}

// ListBreakGlassByStatus lists the events whose effective status is status,
// newest first: an active event past its ExpiresAt is listed as expired.
func (s *Store) ListBreakGlassByStatus(ctx context.Context, status ports.BreakGlassStatus, p ports.Page) (ports.BreakGlassPage, error) {
	items, next, err := listByStatus(ctx, s, eventRecords, string(status), p)
	return ports.BreakGlassPage{Events: items, Next: next}, err
}

// ExpireLapsedBreakGlass stores expired for every active event whose
// ExpiresAt is at or before now, each with a conditional update, so a
// concurrent close wins and is not counted.
func (s *Store) ExpireLapsedBreakGlass(ctx context.Context, now time.Time) (int, error) {
	return expireLapsed(ctx, s, eventRecords, now)
}

// storedEvent returns e as the table keeps it: times truncated, in UTC.
func storedEvent(e ports.BreakGlassEvent) ports.BreakGlassEvent {
	e.CreatedAt = truncate(e.CreatedAt)
	e.UpdatedAt = truncate(e.UpdatedAt)
	e.ExpiresAt = truncate(e.ExpiresAt)
	return e
}

// encodeEvent returns the item for e, which must already be storedEvent(e).
func encodeEvent(e ports.BreakGlassEvent) map[string]types.AttributeValue {
	item := map[string]types.AttributeValue{
		attrID:          str(e.ID),
		attrSchema:      str(eventSchema),
		attrStatus:      str(string(e.Status)),
		attrDuration:    num(int64(e.Duration)),
		attrEscalated:   &types.AttributeValueMemberBOOL{Value: e.Escalated},
		attrVersion:     num(e.Version),
		attrCreatedSort: str(createdSort(e.CreatedAt, e.ID)),
	}
	setStrings(item, map[string]string{
		attrInvoker: e.Invoker, attrInvokerARN: e.InvokerARN, attrProfile: e.Profile, attrReasonCode: e.ReasonCode,
		attrJustification: e.Justification, attrClosedBy: e.ClosedBy, attrClosedReason: e.ClosedReason,
	})
	setTimes(item, map[string]time.Time{attrCreatedAt: e.CreatedAt, attrUpdatedAt: e.UpdatedAt, attrExpiresAt: e.ExpiresAt})
	return item
}

// decodeEvent reads the event item stored under id; anything it cannot
// trust (a guard item included) is an error wrapping ports.ErrCorrupt that
// names id.
func decodeEvent(id string, item map[string]types.AttributeValue) (ports.BreakGlassEvent, error) {
	d := newDecoder(item, eventSchema)
	e := ports.BreakGlassEvent{
		ID:            d.str(attrID, true),
		Invoker:       d.str(attrInvoker, false),
		InvokerARN:    d.str(attrInvokerARN, false),
		Profile:       d.str(attrProfile, false),
		ReasonCode:    d.str(attrReasonCode, false),
		Justification: d.str(attrJustification, false),
		Duration:      time.Duration(d.int(attrDuration, true)),
		Status:        ports.BreakGlassStatus(d.str(attrStatus, true)),
		Escalated:     d.bool(attrEscalated),
		CreatedAt:     d.time(attrCreatedAt),
		UpdatedAt:     d.time(attrUpdatedAt),
		ExpiresAt:     d.time(attrExpiresAt),
		ClosedBy:      d.str(attrClosedBy, false),
		ClosedReason:  d.str(attrClosedReason, false),
		Version:       d.int(attrVersion, true),
	}
	if err := d.done("break-glass event", id, ports.BreakGlassPosition(e), e.Status.Valid(), string(e.Status), e.Version); err != nil {
		return ports.BreakGlassEvent{}, err
	}
	return e, nil
}
