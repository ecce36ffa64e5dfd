package dynamo

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sentinel-gw/sentinel/ports"
)

// The global secondary indexes. All project every attribute, so a listing
// decodes whole records from the index without reading the table again.
// Status and profile exist on every table; the others on one each.
const (
	indexStatus    = "by_status"    // status, created_sort
	indexProfile   = "by_profile"   // profile, created_sort
	indexUser      = "by_user"      // sessions: user, created_sort
	indexInstance  = "by_instance"  // sessions: server_instance_id, status
	indexRequester = "by_requester" // requests: requester, created_sort
	indexInvoker   = "by_invoker"   // events: invoker, created_sort
)

// ListSessionsByUser lists the user's sessions, newest first.
func (s *Store) ListSessionsByUser(ctx context.Context, user string, p ports.Page) (ports.SessionPage, error) {
	items, next, err := listSorted(ctx, s, sessionRecords, "by user", indexUser, attrUser, []string{user}, p, nil)
	return ports.SessionPage{Sessions: items, Next: next}, err
}

// ListSessionsByProfile lists the profile's sessions, newest first.
func (s *Store) ListSessionsByProfile(ctx context.Context, profile string, p ports.Page) (ports.SessionPage, error) {
	items, next, err := listSorted(ctx, s, sessionRecords, "by profile", indexProfile, attrProfile, []string{profile}, p, nil)
	return ports.SessionPage{Sessions: items, Next: next}, err
}

// ListSessionsByStatus lists the sessions whose effective status is status,
// newest first.
func (s *Store) ListSessionsByStatus(ctx context.Context, status ports.SessionStatus, p ports.Page) (ports.SessionPage, error) {
	items, next, err := listByStatus(ctx, s, sessionRecords, string(status), p)
	return ports.SessionPage{Sessions: items, Next: next}, err
}

// ListSessionsByServerInstance lists the server instance's sessions, newest
// first. Its index sorts by status, not time, and one instance (one running
// server) holds few sessions, so this reads them all and sorts in memory.
func (s *Store) ListSessionsByServerInstance(ctx context.Context, instanceID string, p ports.Page) (ports.SessionPage, error) {
	const what = "sessions by server instance"
	after, err := checkPage(what, instanceID, p)
	if err != nil {
		return ports.SessionPage{}, err
	}
	now := s.clock.Now()
	st := s.newStream(s.table, indexInstance, attrInstance, instanceID, "", 0)
	var all []ports.Session
	for {
		ses, ok, err := readNext(ctx, st, sessionRecords, now)
		if err != nil {
			return ports.SessionPage{}, fmt.Errorf("dynamo: list %s: %w", what, err)
		}
		if !ok {
			break
		}
		if p.Cursor == "" || ports.SessionPosition(ses).Compare(after) > 0 {
			all = append(all, ses)
		}
	}
	ports.SortByPosition(all, ports.SessionPosition)
	items, next := pageOf(all, p.Limit, ports.SessionPosition)
	return ports.SessionPage{Sessions: items, Next: next}, nil
}

// listByStatus lists the records whose effective status is status, newest
// first. The index holds stored statuses, and a lapsed record reads as
// expired: a lapsable status drops its lapsed records; expired merges the
// stored expired records with the lapsed ones of every lapsable status.
func listByStatus[T any](ctx context.Context, s *Store, k recordKind[T], status string, p ports.Page) ([]T, string, error) {
	if !k.validStatus(status) {
		return nil, "", fmt.Errorf("dynamo: list %s by status: unknown status %q: %w", k.plural, status, ports.ErrInvalidArgument)
	}
	values := []string{status}
	if status == k.expired {
		values = append(values, k.lapsable...)
	}
	keep := func(view T) bool { return k.status(view) == status }
	return listSorted(ctx, s, k, "by status", indexStatus, attrStatus, values, p, keep)
}

// listSorted reads one page from the index whose sort key is created_sort,
// merging the hash values newest first, keeping the records as they read
// now that keep accepts (nil keeps all).
func listSorted[T any](ctx context.Context, s *Store, k recordKind[T], by, index, hashAttr string, values []string,
	p ports.Page, keep func(T) bool,
) ([]T, string, error) {
	what := k.plural + " " + by
	after, err := checkPage(what, values[0], p)
	if err != nil {
		return nil, "", err
	}
	before := ""
	if p.Cursor != "" {
		before = createdSort(truncate(after.CreatedAt), after.ID)
	}
	now := s.clock.Now()
	heads := make([]*head[T], 0, len(values))
	for _, v := range values {
		// One more than the limit tells whether a next page exists.
		heads = append(heads, &head[T]{stream: s.newStream(k.table(s), index, hashAttr, v, before, int32(p.Limit)+1)}) //nolint:gosec // G115: Limit is at most MaxPageLimit
	}
	var found []T
	for len(found) <= p.Limit {
		h, err := newest(ctx, k, heads, now)
		if err != nil {
			return nil, "", fmt.Errorf("dynamo: list %s: %w", what, err)
		}
		if h == nil {
			break
		}
		if keep == nil || keep(*h.cur) {
			found = append(found, *h.cur)
		}
		h.cur = nil
	}
	items, next := pageOf(found, p.Limit, k.position)
	return items, next, nil
}

// checkPage validates the listing key and page and decodes the cursor.
func checkPage(what, key string, p ports.Page) (ports.Position, error) {
	if key == "" {
		// An empty value is never stored in an index key (DynamoDB refuses it).
		return ports.Position{}, fmt.Errorf("dynamo: list %s: empty value: %w", what, ports.ErrInvalidArgument)
	}
	after, _, err := ports.CheckPage(p)
	if err != nil {
		return ports.Position{}, fmt.Errorf("dynamo: list %s: %w", what, err)
	}
	return after, nil
}

// pageOf cuts sorted records to limit; Next is set only when more remain.
func pageOf[T any](sorted []T, limit int, position func(T) ports.Position) ([]T, string) {
	items, next := ports.CutPage(sorted, limit, position)
	if items == nil {
		items = []T{}
	}
	return items, next
}

// head is one stream in a merge, holding its next record.
type head[T any] struct {
	stream *stream
	cur    *T // nil: not read yet, or taken
	done   bool
}

// newest fills every head and returns the one whose record lists first,
// nil when all are done.
func newest[T any](ctx context.Context, k recordKind[T], heads []*head[T], now time.Time) (*head[T], error) {
	var best *head[T]
	for _, h := range heads {
		if h.cur == nil && !h.done {
			rec, ok, err := readNext(ctx, h.stream, k, now)
			if err != nil {
				return nil, err
			}
			if !ok {
				h.done = true
				continue
			}
			h.cur = &rec
		}
		if h.cur != nil && (best == nil || k.position(*h.cur).Compare(k.position(*best.cur)) < 0) {
			best = h
		}
	}
	return best, nil
}

// stream walks one hash value of an index, sort key descending, fetching a
// page at a time.
type stream struct {
	s     *Store
	input dynamodb.QueryInput
	buf   []map[string]types.AttributeValue
	last  bool // no more pages to fetch
}

// newStream queries table's index for hashAttr = value; before, when set,
// keeps only sort keys below it; pageSize 0 lets DynamoDB fill each page
// (up to 1 MB).
func (s *Store) newStream(table, index, hashAttr, value, before string, pageSize int32) *stream {
	cond := "#h = :h"
	names := map[string]string{"#h": hashAttr}
	values := map[string]types.AttributeValue{":h": str(value)}
	if before != "" {
		cond += " AND #sort < :before"
		names["#sort"] = attrCreatedSort
		values[":before"] = str(before)
	}
	in := dynamodb.QueryInput{
		TableName:                 aws.String(table),
		IndexName:                 aws.String(index),
		KeyConditionExpression:    aws.String(cond),
		ExpressionAttributeNames:  names,
		ExpressionAttributeValues: values,
		ScanIndexForward:          aws.Bool(false),
	}
	if pageSize > 0 {
		in.Limit = aws.Int32(pageSize)
	}
	return &stream{s: s, input: in}
}

// nextRaw returns the next item, false when the stream is done.
func (st *stream) nextRaw(ctx context.Context) (map[string]types.AttributeValue, bool, error) {
	for len(st.buf) == 0 {
		if st.last {
			return nil, false, nil
		}
		in := st.input
		out, err := st.s.client.Query(ctx, &in)
		if err != nil {
			return nil, false, mapError(aws.ToString(in.TableName), st.s.storeURL, nil, err)
		}
		st.buf = out.Items
		st.input.ExclusiveStartKey = out.LastEvaluatedKey
		st.last = len(out.LastEvaluatedKey) == 0
	}
	item := st.buf[0]
	st.buf = st.buf[1:]
	return item, true, nil
}

// readNext returns the stream's next record as it reads at now; a corrupt
// item is an error naming it.
func readNext[T any](ctx context.Context, st *stream, k recordKind[T], now time.Time) (T, bool, error) {
	var zero T
	item, ok, err := st.nextRaw(ctx)
	if !ok || err != nil {
		return zero, false, err
	}
	rec, err := k.decode(itemID(item), item)
	if err != nil {
		return zero, false, err
	}
	return k.asOf(rec, now), true, nil
}
