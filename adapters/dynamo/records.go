package dynamo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sentinel-gw/sentinel/ports"
)

// recordKind is how one record type lives in its table. Sessions, approval
// requests and break-glass events share the code that creates, reads,
// updates, lists and sweeps through it.
type recordKind[T any] struct {
	noun, plural string // "session", "sessions": for messages
	table        func(*Store) string
	schema       string
	encode       func(T) map[string]types.AttributeValue // of a stored record
	decode       func(id string, item map[string]types.AttributeValue) (T, error)
	stored       func(T) T // times truncated, in UTC
	lapsed       func(T, time.Time) bool
	markExpired  func(*T)
	position     func(T) ports.Position
	status       func(T) string
	validStatus  func(string) bool
	version      func(*T) *int64
	// lapsable are the stored statuses that read as expired once ExpiresAt
	// has passed.
	lapsable []string
	expired  string
}

var sessionRecords = recordKind[ports.Session]{
	noun: "session", plural: "sessions", table: func(s *Store) string { return s.table },
	schema: schemaValue, encode: encodeSession, decode: decodeSession, stored: stored,
	lapsed: ports.Session.Lapsed, markExpired: func(s *ports.Session) { s.Status = ports.SessionExpired },
	position:    ports.SessionPosition,
	status:      func(s ports.Session) string { return string(s.Status) },
	validStatus: func(st string) bool { return ports.SessionStatus(st).Valid() },
	version:     func(s *ports.Session) *int64 { return &s.Version },
	lapsable:    []string{string(ports.SessionActive)}, expired: string(ports.SessionExpired),
}

func (k recordKind[T]) id(r T) string { return k.position(r).ID }

// asOf is r as it reads at now: a lapsed record reads as expired, its
// Version unchanged.
func (k recordKind[T]) asOf(r T, now time.Time) T {
	if k.lapsed(r, now) {
		k.markExpired(&r)
	}
	return r
}

// check refuses an empty id or an unknown status before anything is written.
func (k recordKind[T]) check(op string, r T) error {
	if k.id(r) == "" {
		return fmt.Errorf("dynamo: %s %s: empty id: %w", op, k.noun, ports.ErrInvalidArgument)
	}
	if st := k.status(r); !k.validStatus(st) {
		return fmt.Errorf("dynamo: %s %s %q: unknown status %q: %w", op, k.noun, k.id(r), st, ports.ErrInvalidArgument)
	}
	return nil
}

// fail maps an SDK error of an operation on this kind's table.
func (k recordKind[T]) fail(s *Store, op, id string, failed, err error) error {
	return fmt.Errorf("dynamo: %s %s %q: %w", op, k.noun, id, mapError(k.table(s), s.storeURL, failed, err))
}

// whyFailed explains a failed condition from the item it returned: gone is
// ErrNotFound, foreign is ErrCorrupt, and a sound item is what sound says.
// It returns nil for any other error.
func (k recordKind[T]) whyFailed(id string, err error, sound func(old T) error) error {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return nil
	}
	if ccf.Item == nil {
		return ports.ErrNotFound
	}
	old, derr := k.decode(id, ccf.Item)
	if derr != nil {
		return derr
	}
	return sound(old)
}

// createRecord stores rec with Version 1, only if no item has its id, and
// returns it as it reads now.
func createRecord[T any](ctx context.Context, s *Store, k recordKind[T], rec T) (T, error) {
	var zero T
	if err := k.check("create", rec); err != nil {
		return zero, err
	}
	rec = k.stored(rec)
	*k.version(&rec) = 1
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(k.table(s)),
		Item:                     k.encode(rec),
		ConditionExpression:      aws.String("attribute_not_exists(#id)"),
		ExpressionAttributeNames: namesFor("#id"),
	})
	if err != nil {
		return zero, k.fail(s, "create", k.id(rec), ports.ErrAlreadyExists, err)
	}
	return k.asOf(rec, s.clock.Now()), nil
}

// getRecord reads the record with a strongly consistent read, as it reads now.
func getRecord[T any](ctx context.Context, s *Store, k recordKind[T], id string) (T, error) {
	var zero T
	if id == "" {
		return zero, fmt.Errorf("dynamo: get %s: empty id: %w", k.noun, ports.ErrInvalidArgument)
	}
	item, err := s.getItem(ctx, k.table(s), id)
	if err != nil {
		return zero, k.fail(s, "get", id, nil, err)
	}
	if item == nil {
		return zero, fmt.Errorf("dynamo: get %s %q: %w", k.noun, id, ports.ErrNotFound)
	}
	rec, err := k.decode(id, item)
	if err != nil {
		return zero, err
	}
	return k.asOf(rec, s.clock.Now()), nil
}

// getItem reads one item with a strongly consistent read; nil when absent.
// The error is the SDK's, for the caller to map. Reads of one table asked
// for at once travel together (batch.go).
func (s *Store) getItem(ctx context.Context, table, id string) (map[string]types.AttributeValue, error) {
	if g, ok := s.gets[table]; ok {
		return g.get(ctx, id)
	}
	return getOne(ctx, s.client, table, id) // a table New made no gatherer for: the locks table
}

// updateRecord replaces the item when its version equals rec's, writing
// version+1, and returns the record as it reads now.
func updateRecord[T any](ctx context.Context, s *Store, k recordKind[T], rec T) (T, error) {
	var zero T
	if err := k.check("update", rec); err != nil {
		return zero, err
	}
	rec = k.stored(rec)
	expected := *k.version(&rec)
	*k.version(&rec)++
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(k.table(s)),
		Item:                                k.encode(rec),
		ConditionExpression:                 aws.String("attribute_exists(#id) AND #schema = :schema AND #version = :v"),
		ExpressionAttributeNames:            namesFor("#id", "#schema", "#version"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":schema": str(k.schema), ":v": num(expected)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		id := k.id(rec)
		return zero, k.fail(s, "update", id, k.whyFailed(id, err, func(old T) error {
			return fmt.Errorf("stored version %d, caller's %d: %w", *k.version(&old), expected, ports.ErrConflict)
		}), err)
	}
	return k.asOf(rec, s.clock.Now()), nil
}

// expireLapsed stores expired for every record whose stored status is
// lapsable and whose ExpiresAt is at or before now. Candidates come from
// the status index; each change is an update conditional on the item still
// having that status and having lapsed, so a concurrent revoke, cancel,
// close or extension wins and is not counted. A corrupt candidate is
// skipped so it cannot block the sweep, and reported at the end as an error
// wrapping ports.ErrCorrupt; the count is exact either way.
func expireLapsed[T any](ctx context.Context, s *Store, k recordKind[T], now time.Time) (int, error) {
	now = truncate(now)
	changed := 0
	var corrupted []error
	for _, from := range k.lapsable {
		stream := s.newStream(k.table(s), indexStatus, attrStatus, from, "", 0)
		for {
			item, ok, err := stream.nextRaw(ctx)
			if err != nil {
				return changed, fmt.Errorf("dynamo: expire lapsed %s: %w", k.plural, err)
			}
			if !ok {
				break
			}
			id := itemID(item)
			rec, err := k.decode(id, item)
			if err != nil {
				corrupted = append(corrupted, err)
				continue
			}
			if !k.lapsed(rec, now) {
				continue
			}
			_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
				TableName:                aws.String(k.table(s)),
				Key:                      key(id),
				UpdateExpression:         aws.String("SET #status = :expired, #updated_at = :now ADD #version :one"),
				ConditionExpression:      aws.String("#schema = :schema AND #status = :from AND #expires_at <= :now"),
				ExpressionAttributeNames: namesFor("#schema", "#status", "#updated_at", "#version", "#expires_at"),
				ExpressionAttributeValues: map[string]types.AttributeValue{
					":schema": str(k.schema), ":expired": str(k.expired), ":from": str(from),
					":now": micros(now), ":one": num(1),
				},
			})
			var ccf *types.ConditionalCheckFailedException
			var inTx *types.TransactionConflictException
			switch {
			case err == nil:
				changed++
			case errors.As(err, &ccf):
				// Changed or deleted since the index was read: not ours to change.
			case errors.As(err, &inTx):
				// A break-glass create is checking this very item in a
				// transaction; it reads as expired anyway, and the next sweep
				// stores it.
			default:
				return changed, k.fail(s, "expire lapsed", id, nil, err)
			}
		}
	}
	if len(corrupted) > 0 {
		return changed, fmt.Errorf("dynamo: expire lapsed %s: changed %d, skipped %d corrupt: %w",
			k.plural, changed, len(corrupted), errors.Join(corrupted...))
	}
	return changed, nil
}
