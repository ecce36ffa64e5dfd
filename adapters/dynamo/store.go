// Package dynamo is the DynamoDB implementation of ports.SessionStore, the
// reference backend for teams on AWS.
//
// One table holds the sessions, keyed by id, with four global secondary
// indexes: by user, status and profile (sorted by created_sort, see
// createdSort) and by server instance (sorted by status; an instance holds
// few sessions, so that listing sorts them in memory). Every write is
// conditional on a numeric version attribute. Expiry is decided on read with
// the injected ports.Clock; the table's TTL attribute only lets DynamoDB
// delete ended sessions Retention after they end.
//
// Reads by id are strongly consistent. Listings read the indexes, which on
// AWS are eventually consistent: a session written a moment ago may be
// missing from, or stale in, a listing for up to about a second.
// ExpireLapsedSessions finds candidates through the status index, but each
// change is a conditional write on the item itself, so it never undoes a
// revoke.
package dynamo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sentinel-gw/sentinel/ports"
)

// Retry and connection bounds. The SDK's standard retryer retries throttling
// and transient errors with jittered exponential backoff; these keep an
// unreachable endpoint from holding a command for long.
const (
	retryMaxAttempts = 5
	retryMaxBackoff  = 2 * time.Second
	dialTimeout      = 5 * time.Second
)

// Options say where the table is.
type Options struct {
	// Table is the table name (required).
	Table string
	// Region is the AWS region; empty uses the SDK's default chain
	// (AWS_REGION, the shared config profile).
	Region string
	// Endpoint overrides the DynamoDB endpoint URL (DynamoDB Local, a VPC
	// endpoint); empty uses the region's.
	Endpoint string
	// Profile is the shared config profile for credentials; empty uses the
	// SDK's default chain.
	Profile string
	// HTTPClient replaces the SDK's HTTP client; nil keeps it, with a dial
	// timeout of 5 s.
	HTTPClient *http.Client
}

// Store is a ports.SessionStore on one DynamoDB table, safe for concurrent use.
type Store struct {
	client   *dynamodb.Client
	table    string
	storeURL string // quoted in the "table does not exist" message
	clock    ports.Clock
}

var _ ports.SessionStore = (*Store)(nil)

// Open builds a client from the SDK's default configuration and opts. It
// does not call DynamoDB: a missing table shows on the first operation, as
// an error wrapping ports.ErrUnavailable that says how to create it.
func Open(ctx context.Context, opts Options, clock ports.Clock) (*Store, error) {
	if opts.Table == "" {
		return nil, fmt.Errorf("dynamo: open: no table name: %w", ports.ErrInvalidArgument)
	}
	if clock == nil {
		return nil, fmt.Errorf("dynamo: open: nil clock: %w", ports.ErrInvalidArgument)
	}
	load := []func(*config.LoadOptions) error{config.WithRetryer(newRetryer)}
	if opts.Region != "" {
		load = append(load, config.WithRegion(opts.Region))
	}
	if opts.Profile != "" {
		load = append(load, config.WithSharedConfigProfile(opts.Profile))
	}
	if opts.HTTPClient != nil {
		load = append(load, config.WithHTTPClient(opts.HTTPClient))
	} else {
		load = append(load, config.WithHTTPClient(awshttp.NewBuildableClient().
			WithDialerOptions(func(d *net.Dialer) { d.Timeout = dialTimeout })))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("dynamo: load AWS configuration: %w (%w)", ports.ErrUnavailable, err)
	}
	if cfg.Region == "" {
		return nil, fmt.Errorf("dynamo: no AWS region: add ?region= to the store URL or set AWS_REGION: %w", ports.ErrInvalidArgument)
	}
	client := dynamodb.NewFromConfig(cfg, func(o *dynamodb.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
			// DynamoDB Local's error replies fail the SDK's response checksum
			// and flood stderr with warnings; TLS still guards real endpoints.
			o.DisableValidateResponseChecksum = true
		}
	})
	s := New(client, opts.Table, clock)
	s.storeURL = storeURL(opts)
	return s, nil
}

// New wraps an existing client as it is configured (tests point one at
// DynamoDB Local); Open is what production uses, with the retry bounds.
func New(client *dynamodb.Client, table string, clock ports.Clock) *Store {
	return &Store{client: client, table: table, storeURL: storeURL(Options{Table: table}), clock: clock}
}

// newRetryer is the SDK's standard retryer with this package's bounds.
func newRetryer() aws.Retryer {
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = retryMaxAttempts
		o.MaxBackoff = retryMaxBackoff
	})
}

// storeURL renders opts as the --store URL a user would type.
func storeURL(opts Options) string {
	q := url.Values{}
	for k, v := range map[string]string{"region": opts.Region, "endpoint": opts.Endpoint, "profile": opts.Profile} {
		if v != "" {
			q.Set(k, v)
		}
	}
	u := "dynamodb://" + opts.Table
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// fail maps an SDK error for this store's table.
func (s *Store) fail(op, id string, failed, err error) error {
	return fmt.Errorf("dynamo: %s session %q: %w", op, id, mapError(s.table, s.storeURL, failed, err))
}

// CreateSession stores s with Version 1, only if no item has its id.
func (s *Store) CreateSession(ctx context.Context, ses ports.Session) (ports.Session, error) {
	if ses.ID == "" {
		return ports.Session{}, fmt.Errorf("dynamo: create session: empty id: %w", ports.ErrInvalidArgument)
	}
	if !ses.Status.Valid() {
		return ports.Session{}, fmt.Errorf("dynamo: create session %q: unknown status %q: %w", ses.ID, ses.Status, ports.ErrInvalidArgument)
	}
	ses = stored(ses)
	ses.Version = 1
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                aws.String(s.table),
		Item:                     encodeSession(ses),
		ConditionExpression:      aws.String("attribute_not_exists(#id)"),
		ExpressionAttributeNames: namesFor("#id"),
	})
	if err != nil {
		return ports.Session{}, s.fail("create", ses.ID, ports.ErrAlreadyExists, err)
	}
	return effectiveAt(ses, s.clock.Now()), nil
}

// GetSession reads the session with a strongly consistent read.
func (s *Store) GetSession(ctx context.Context, id string) (ports.Session, error) {
	if id == "" {
		return ports.Session{}, fmt.Errorf("dynamo: get session: empty id: %w", ports.ErrInvalidArgument)
	}
	out, err := s.client.GetItem(ctx, &dynamodb.GetItemInput{
		TableName:      aws.String(s.table),
		Key:            key(id),
		ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		return ports.Session{}, s.fail("get", id, nil, err)
	}
	if out.Item == nil {
		return ports.Session{}, fmt.Errorf("dynamo: get session %q: %w", id, ports.ErrNotFound)
	}
	ses, err := decodeSession(id, out.Item)
	if err != nil {
		return ports.Session{}, err
	}
	return effectiveAt(ses, s.clock.Now()), nil
}

// UpdateSession replaces the item when its version equals ses.Version.
func (s *Store) UpdateSession(ctx context.Context, ses ports.Session) (ports.Session, error) {
	if ses.ID == "" {
		return ports.Session{}, fmt.Errorf("dynamo: update session: empty id: %w", ports.ErrInvalidArgument)
	}
	if !ses.Status.Valid() {
		return ports.Session{}, fmt.Errorf("dynamo: update session %q: unknown status %q: %w", ses.ID, ses.Status, ports.ErrInvalidArgument)
	}
	ses = stored(ses)
	expected := ses.Version
	ses.Version++
	_, err := s.client.PutItem(ctx, &dynamodb.PutItemInput{
		TableName:                           aws.String(s.table),
		Item:                                encodeSession(ses),
		ConditionExpression:                 aws.String("attribute_exists(#id) AND #schema = :schema AND #version = :v"),
		ExpressionAttributeNames:            namesFor("#id", "#schema", "#version"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":schema": str(schemaValue), ":v": num(expected)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	if err != nil {
		return ports.Session{}, s.fail("update", ses.ID, s.whyFailed(ses.ID, err, func(old ports.Session) error {
			return fmt.Errorf("stored version %d, caller's %d: %w", old.Version, expected, ports.ErrConflict)
		}), err)
	}
	return effectiveAt(ses, s.clock.Now()), nil
}

// whyFailed explains a failed condition from the item it returned: gone is
// ErrNotFound, foreign is ErrCorrupt, and a sound item is what sound says.
// It returns nil for any other error.
func (s *Store) whyFailed(id string, err error, sound func(old ports.Session) error) error {
	var ccf *types.ConditionalCheckFailedException
	if !errors.As(err, &ccf) {
		return nil
	}
	if ccf.Item == nil {
		return ports.ErrNotFound
	}
	old, derr := decodeSession(id, ccf.Item)
	if derr != nil {
		return derr
	}
	return sound(old)
}

// TouchSession adds n requests, bumps Version, sets UpdatedAt to the clock's
// now and moves LastAccessAt forward to at, in one conditional update; when
// the stored LastAccessAt is already at or after at, a second update counts
// without moving it. Each update is atomic on its own and LastAccessAt only
// ever grows, so the two steps cannot lose a later time.
func (s *Store) TouchSession(ctx context.Context, id string, at time.Time, n int64) (ports.Session, error) {
	if id == "" {
		return ports.Session{}, fmt.Errorf("dynamo: touch session: empty id: %w", ports.ErrInvalidArgument)
	}
	if n < 0 {
		return ports.Session{}, fmt.Errorf("dynamo: touch session %q: negative count %d: %w", id, n, ports.ErrInvalidArgument)
	}
	at = truncate(at)
	now := truncate(s.clock.Now())
	values := map[string]types.AttributeValue{
		":schema": str(schemaValue), ":n": num(n), ":one": num(1), ":now": micros(now), ":at": micros(at),
	}
	forward := s.touch(ctx, id, values,
		"SET #updated_at = :now, #last_access_at = :at ADD #request_count :n, #version :one",
		"attribute_exists(#id) AND #schema = :schema AND (attribute_not_exists(#last_access_at) OR #last_access_at < :at)",
		namesFor("#id", "#schema", "#updated_at", "#last_access_at", "#request_count", "#version"))
	ses, err := forward()
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) && ccf.Item != nil {
		if _, derr := decodeSession(id, ccf.Item); derr != nil {
			return ports.Session{}, fmt.Errorf("dynamo: touch session %q: %w", id, derr)
		}
		delete(values, ":at")
		countOnly := s.touch(ctx, id, values,
			"SET #updated_at = :now ADD #request_count :n, #version :one",
			"attribute_exists(#id) AND #schema = :schema",
			namesFor("#id", "#schema", "#updated_at", "#request_count", "#version"))
		ses, err = countOnly()
	}
	if err != nil {
		return ports.Session{}, s.fail("touch", id, s.whyFailed(id, err, func(ports.Session) error {
			return ports.ErrConflict // cannot happen: the count-only condition holds for a sound item
		}), err)
	}
	return effectiveAt(ses, s.clock.Now()), nil
}

// touch prepares one touch update; the result returns the raw SDK error so
// the caller can look at a failed condition.
func (s *Store) touch(ctx context.Context, id string, values map[string]types.AttributeValue,
	update, condition string, names map[string]string,
) func() (ports.Session, error) {
	return func() (ports.Session, error) {
		out, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                           aws.String(s.table),
			Key:                                 key(id),
			UpdateExpression:                    aws.String(update),
			ConditionExpression:                 aws.String(condition),
			ExpressionAttributeNames:            names,
			ExpressionAttributeValues:           values,
			ReturnValues:                        types.ReturnValueAllNew,
			ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
		})
		if err != nil {
			return ports.Session{}, err
		}
		return decodeSession(id, out.Attributes)
	}
}

// ExpireLapsedSessions marks every active session whose lease ended at or
// before now as expired. Candidates come from the status index; each change
// is an update conditional on the item still being active and lapsed, so a
// concurrent revoke or lease extension wins and is not counted. A corrupt
// candidate is skipped so it cannot block the sweep, and reported at the
// end as an error wrapping ports.ErrCorrupt; the count is exact either way.
func (s *Store) ExpireLapsedSessions(ctx context.Context, now time.Time) (int, error) {
	now = truncate(now)
	stream := s.newStream(indexStatus, attrStatus, string(ports.SessionActive), "", 0)
	changed := 0
	var corrupted []error
	for {
		item, ok, err := stream.nextRaw(ctx)
		if err != nil {
			return changed, fmt.Errorf("dynamo: expire lapsed sessions: %w", err)
		}
		if !ok {
			break
		}
		id := itemID(item)
		ses, err := decodeSession(id, item)
		if err != nil {
			corrupted = append(corrupted, err)
			continue
		}
		if !ses.Lapsed(now) {
			continue
		}
		_, err = s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
			TableName:                aws.String(s.table),
			Key:                      key(id),
			UpdateExpression:         aws.String("SET #status = :expired, #updated_at = :now ADD #version :one"),
			ConditionExpression:      aws.String("#schema = :schema AND #status = :active AND #expires_at <= :now"),
			ExpressionAttributeNames: namesFor("#schema", "#status", "#updated_at", "#version", "#expires_at"),
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":schema": str(schemaValue), ":expired": str(string(ports.SessionExpired)),
				":active": str(string(ports.SessionActive)), ":now": micros(now), ":one": num(1),
			},
		})
		var ccf *types.ConditionalCheckFailedException
		switch {
		case err == nil:
			changed++
		case errors.As(err, &ccf):
			// Revoked, extended or deleted since the index was read: not ours to change.
		default:
			return changed, s.fail("expire lapsed", id, nil, err)
		}
	}
	if len(corrupted) > 0 {
		return changed, fmt.Errorf("dynamo: expire lapsed sessions: changed %d, skipped %d corrupt: %w",
			changed, len(corrupted), errors.Join(corrupted...))
	}
	return changed, nil
}

// Close does nothing: the SDK client holds nothing that needs releasing,
// and a closed Store keeps working.
func (s *Store) Close() error { return nil }

func key(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrID: str(id)}
}
