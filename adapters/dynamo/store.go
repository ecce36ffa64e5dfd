// Package dynamo is the DynamoDB implementation of ports.Stores (sessions,
// approval requests and break-glass events), the reference backend for
// teams on AWS.
//
// Layout: one table per record type, each keyed by id alone, so the
// id spaces never meet and no read has to tell record types apart. The
// store named T uses T for sessions, T-requests for approval requests,
// T-breakglass for break-glass events and T-locks for locks (locks.go:
// no index); InitTable creates all four. The other tables have global
// secondary indexes for their listings, sorted by
// created_sort (see createdSort): sessions by user, status and profile
// (plus by server instance, sorted by status: an instance holds few
// sessions, so that listing sorts them in memory), requests by requester,
// profile and status, events by invoker, profile and status. Every item
// carries a schema marker of its type; anything else under a key reads as
// corrupt.
//
// Every write is conditional on a numeric version attribute. Expiry is
// decided on read with the injected ports.Clock; the sessions table's TTL
// attribute only lets DynamoDB delete ended sessions Retention after they
// end. Requests and break-glass events have no TTL: they are the audit
// trail, and break-glass rate limits count them over the policy's window.
//
// One active break-glass event per invoker and profile is enforced with a
// guard item in the break-glass table (see CreateBreakGlass): an active
// event is created in one TransactWriteItems with a compare-and-set of the
// pair's guard and a condition check that the event the guard named is no
// longer active.
//
// Reads by id are strongly consistent. Listings read the indexes, which on
// AWS are eventually consistent: a record written a moment ago may be
// missing from, or stale in, a listing for up to about a second.
// ExpireLapsedX finds candidates through the status index, but each change
// is a conditional write on the item itself, so it never undoes a revoke,
// cancel or close.
package dynamo

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
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
	// Table is the sessions table's name (required); the requests and
	// break-glass tables are named after it (see TableNames).
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
	// CABundle is PEM: the CAs to trust for the endpoint instead of the
	// system roots, as the SDK's AWS_CA_BUNDLE and a profile's ca_bundle
	// (which keep working when it is nil; it wins over them when set). It
	// needs the SDK's own HTTP client: not with HTTPClient.
	CABundle []byte
}

// Store is a ports.Stores on four DynamoDB tables, safe for concurrent use.
type Store struct {
	client        *dynamodb.Client
	table         string // sessions
	requestsTable string
	eventsTable   string
	storeURL      string // quoted in the "table does not exist" message
	clock         ports.Clock
	gets          map[string]*itemGets // record reads by table, gathered under load (batch.go)
}

var _ ports.Stores = (*Store)(nil)

// Open builds a client from the SDK's default configuration and opts. It
// does not call DynamoDB: a missing table shows on the first operation, as
// an error wrapping ports.ErrUnavailable that says how to create it.
func Open(ctx context.Context, opts Options, clock ports.Clock) (*Store, error) {
	if err := ValidateTableName(opts.Table); err != nil {
		return nil, fmt.Errorf("dynamo: open: %w", err)
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
	if len(opts.CABundle) > 0 {
		if opts.HTTPClient != nil {
			return nil, fmt.Errorf("dynamo: open: a CA bundle needs the SDK's own HTTP client, not Options.HTTPClient: %w", ports.ErrInvalidArgument)
		}
		load = append(load, config.WithCustomCABundle(bytes.NewReader(opts.CABundle)))
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
	s := &Store{
		client: client, table: table, requestsTable: table + requestsSuffix, eventsTable: table + breakGlassSuffix,
		storeURL: storeURL(Options{Table: table}), clock: clock, gets: map[string]*itemGets{},
	}
	for _, t := range []string{s.table, s.requestsTable, s.eventsTable} {
		s.gets[t] = newItemGets(client, t)
	}
	return s
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

// CreateSession stores s with Version 1, only if no item has its id.
func (s *Store) CreateSession(ctx context.Context, ses ports.Session) (ports.Session, error) {
	return createRecord(ctx, s, sessionRecords, ses)
}

// GetSession reads the session with a strongly consistent read.
func (s *Store) GetSession(ctx context.Context, id string) (ports.Session, error) {
	return getRecord(ctx, s, sessionRecords, id)
}

// UpdateSession replaces the item when its version equals ses.Version.
func (s *Store) UpdateSession(ctx context.Context, ses ports.Session) (ports.Session, error) {
	return updateRecord(ctx, s, sessionRecords, ses)
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
	return s.touchOnce(ctx, id, at, n, touchToken())
}

// touchOnce applies one touch identified by token. A token per call makes
// the touch idempotent: a retry of an update that had landed (the SDK's,
// after a lost reply) finds its own token and adds nothing, so a count is
// never applied twice.
func (s *Store) touchOnce(ctx context.Context, id string, at time.Time, n int64, token string) (ports.Session, error) {
	at = truncate(at)
	now := truncate(s.clock.Now())
	values := map[string]types.AttributeValue{
		":schema": str(schemaValue), ":n": num(n), ":one": num(1), ":now": micros(now), ":at": micros(at), ":tok": str(token),
	}
	const fresh = "(attribute_not_exists(#touch) OR #touch <> :tok)"
	applied := func(err error) (ports.Session, bool) {
		var ccf *types.ConditionalCheckFailedException
		if !errors.As(err, &ccf) || ccf.Item == nil {
			return ports.Session{}, false
		}
		if t, ok := ccf.Item[attrTouch].(*types.AttributeValueMemberS); ok && t.Value == token {
			ses, derr := decodeSession(id, ccf.Item)
			return ses, derr == nil
		}
		return ports.Session{}, false
	}
	forward := s.touch(ctx, id, values,
		"SET #updated_at = :now, #last_access_at = :at, #touch = :tok ADD #request_count :n, #version :one",
		"attribute_exists(#id) AND #schema = :schema AND "+fresh+" AND (attribute_not_exists(#last_access_at) OR #last_access_at < :at)",
		namesFor("#id", "#schema", "#updated_at", "#last_access_at", "#request_count", "#version", "#touch"))
	ses, err := forward()
	if done, ok := applied(err); ok {
		return sessionRecords.asOf(done, s.clock.Now()), nil
	}
	var ccf *types.ConditionalCheckFailedException
	if errors.As(err, &ccf) && ccf.Item != nil {
		if _, derr := decodeSession(id, ccf.Item); derr != nil {
			return ports.Session{}, fmt.Errorf("dynamo: touch session %q: %w", id, derr)
		}
		delete(values, ":at")
		countOnly := s.touch(ctx, id, values,
			"SET #updated_at = :now, #touch = :tok ADD #request_count :n, #version :one",
			"attribute_exists(#id) AND #schema = :schema AND "+fresh,
			namesFor("#id", "#schema", "#updated_at", "#request_count", "#version", "#touch"))
		ses, err = countOnly()
		if done, ok := applied(err); ok {
			return sessionRecords.asOf(done, s.clock.Now()), nil
		}
	}
	if err != nil {
		return ports.Session{}, sessionRecords.fail(s, "touch", id, sessionRecords.whyFailed(id, err, func(ports.Session) error {
			return ports.ErrConflict // cannot happen: the count-only condition holds for a sound item
		}), err)
	}
	return sessionRecords.asOf(ses, s.clock.Now()), nil
}

// touchToken is a random marker for one TouchSession call.
func touchToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b[:])
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
// before now as expired, each with a conditional update, so a concurrent
// revoke or lease extension wins and is not counted.
func (s *Store) ExpireLapsedSessions(ctx context.Context, now time.Time) (int, error) {
	return expireLapsed(ctx, s, sessionRecords, now)
}

// Close does nothing: the SDK client holds nothing that needs releasing,
// and a closed Store keeps working.
func (s *Store) Close() error { return nil }

func key(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{attrID: str(id)}
}
