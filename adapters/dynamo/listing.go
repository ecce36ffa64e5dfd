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
// decodes whole sessions from the index without reading the table again.
const (
	indexUser     = "by_user"     // user, created_sort
	indexStatus   = "by_status"   // status, created_sort
	indexProfile  = "by_profile"  // profile, created_sort
	indexInstance = "by_instance" // server_instance_id, status
)

// ListSessionsByUser lists the user's sessions, newest first.
func (s *Store) ListSessionsByUser(ctx context.Context, user string, p ports.Page) (ports.SessionPage, error) {
	return s.listSorted(ctx, "by user", indexUser, attrUser, user, p, nil)
}

// ListSessionsByProfile lists the profile's sessions, newest first.
func (s *Store) ListSessionsByProfile(ctx context.Context, profile string, p ports.Page) (ports.SessionPage, error) {
	return s.listSorted(ctx, "by profile", indexProfile, attrProfile, profile, p, nil)
}

// ListSessionsByStatus lists the sessions whose effective status is status,
// newest first. The index holds stored statuses and a lapsed active session
// reads as expired: active drops lapsed ones; expired merges the expired
// sessions with the lapsed active ones.
func (s *Store) ListSessionsByStatus(ctx context.Context, status ports.SessionStatus, p ports.Page) (ports.SessionPage, error) {
	if !status.Valid() {
		return ports.SessionPage{}, fmt.Errorf("dynamo: list sessions by status: unknown status %q: %w", status, ports.ErrInvalidArgument)
	}
	values := []string{string(status)}
	if status == ports.SessionExpired {
		values = append(values, string(ports.SessionActive))
	}
	keep := func(view ports.Session) bool { return view.Status == status }
	return s.listSorted(ctx, "by status", indexStatus, attrStatus, "", p, keep, values...)
}

// ListSessionsByServerInstance lists the server instance's sessions, newest
// first. Its index sorts by status, not time, and one instance (one running
// server) holds few sessions, so this reads them all and sorts in memory.
func (s *Store) ListSessionsByServerInstance(ctx context.Context, instanceID string, p ports.Page) (ports.SessionPage, error) {
	const what = "by server instance"
	afterTime, afterID, err := checkPage(what, instanceID, p)
	if err != nil {
		return ports.SessionPage{}, err
	}
	now := s.clock.Now()
	st := s.newStream(indexInstance, attrInstance, instanceID, "", 0)
	var all []ports.Session
	for {
		ses, ok, err := st.next(ctx, now)
		if err != nil {
			return ports.SessionPage{}, fmt.Errorf("dynamo: list sessions %s: %w", what, err)
		}
		if !ok {
			break
		}
		if p.Cursor == "" || ports.AfterCursor(ses, afterTime, afterID) {
			all = append(all, ses)
		}
	}
	ports.SortNewestFirst(all)
	return pageOf(all, p.Limit), nil
}

// listSorted reads one page from the index whose sort key is created_sort,
// for hash value key (or, when values are given, the union of those hash
// values, merged newest first), keeping the sessions as they read now that
// keep accepts (nil keeps all).
func (s *Store) listSorted(ctx context.Context, what, index, hashAttr, key string, p ports.Page,
	keep func(ports.Session) bool, values ...string,
) (ports.SessionPage, error) {
	if len(values) == 0 {
		values = []string{key}
	}
	afterTime, afterID, err := checkPage(what, values[0], p)
	if err != nil {
		return ports.SessionPage{}, err
	}
	before := ""
	if p.Cursor != "" {
		before = createdSort(truncate(afterTime), afterID)
	}
	now := s.clock.Now()
	heads := make([]*head, 0, len(values))
	for _, v := range values {
		// One more than the limit tells whether a next page exists.
		heads = append(heads, &head{stream: s.newStream(index, hashAttr, v, before, int32(p.Limit)+1)}) //nolint:gosec // G115: Limit is at most MaxPageLimit
	}
	var found []ports.Session
	for len(found) <= p.Limit {
		h, err := newest(ctx, heads, now)
		if err != nil {
			return ports.SessionPage{}, fmt.Errorf("dynamo: list sessions %s: %w", what, err)
		}
		if h == nil {
			break
		}
		if keep == nil || keep(*h.cur) {
			found = append(found, *h.cur)
		}
		h.cur = nil
	}
	return pageOf(found, p.Limit), nil
}

// checkPage validates the listing key and page and decodes the cursor.
func checkPage(what, key string, p ports.Page) (afterTime time.Time, afterID string, err error) {
	if key == "" {
		// An empty value is never stored in an index key (DynamoDB refuses it).
		return afterTime, "", fmt.Errorf("dynamo: list sessions %s: empty value: %w", what, ports.ErrInvalidArgument)
	}
	if p.Limit < 1 || p.Limit > ports.MaxPageLimit {
		return afterTime, "", fmt.Errorf("dynamo: list sessions %s: page limit %d outside 1..%d: %w",
			what, p.Limit, ports.MaxPageLimit, ports.ErrInvalidArgument)
	}
	if p.Cursor != "" {
		if afterTime, afterID, err = ports.DecodeCursor(p.Cursor); err != nil {
			return afterTime, "", fmt.Errorf("dynamo: list sessions %s: %w", what, err)
		}
	}
	return afterTime, afterID, nil
}

// pageOf cuts sorted sessions to limit; Next is set only when more remain.
func pageOf(sorted []ports.Session, limit int) ports.SessionPage {
	page := ports.SessionPage{Sessions: sorted}
	if len(sorted) > limit {
		page.Sessions = sorted[:limit:limit]
		last := page.Sessions[limit-1]
		page.Next = ports.EncodeCursor(last.CreatedAt, last.ID)
	}
	if page.Sessions == nil {
		page.Sessions = []ports.Session{}
	}
	return page
}

// head is one stream in a merge, holding its next session.
type head struct {
	stream *stream
	cur    *ports.Session // nil: not read yet, or taken
	done   bool
}

// newest fills every head and returns the one whose session lists first,
// nil when all are done.
func newest(ctx context.Context, heads []*head, now time.Time) (*head, error) {
	var best *head
	for _, h := range heads {
		if h.cur == nil && !h.done {
			ses, ok, err := h.stream.next(ctx, now)
			if err != nil {
				return nil, err
			}
			if !ok {
				h.done = true
				continue
			}
			h.cur = &ses
		}
		if h.cur != nil && (best == nil || ports.NewerFirst(*h.cur, *best.cur)) {
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

// newStream queries index for hashAttr = value; before, when set, keeps only
// sort keys below it; pageSize 0 lets DynamoDB fill each page (up to 1 MB).
func (s *Store) newStream(index, hashAttr, value, before string, pageSize int32) *stream {
	cond := "#h = :h"
	names := map[string]string{"#h": hashAttr}
	values := map[string]types.AttributeValue{":h": str(value)}
	if before != "" {
		cond += " AND #sort < :before"
		names["#sort"] = attrCreatedSort
		values[":before"] = str(before)
	}
	in := dynamodb.QueryInput{
		TableName:                 aws.String(s.table),
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
			return nil, false, mapError(st.s.table, st.s.storeURL, nil, err)
		}
		st.buf = out.Items
		st.input.ExclusiveStartKey = out.LastEvaluatedKey
		st.last = len(out.LastEvaluatedKey) == 0
	}
	item := st.buf[0]
	st.buf = st.buf[1:]
	return item, true, nil
}

// next returns the next session as it reads at now; a corrupt item is an
// error naming it.
func (st *stream) next(ctx context.Context, now time.Time) (ports.Session, bool, error) {
	item, ok, err := st.nextRaw(ctx)
	if !ok || err != nil {
		return ports.Session{}, false, err
	}
	ses, err := decodeSession(itemID(item), item)
	if err != nil {
		return ports.Session{}, false, err
	}
	return effectiveAt(ses, now), true, nil
}
