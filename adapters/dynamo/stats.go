package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sentinel-gw/sentinel/ports"
)

var _ ports.StatsReader = (*Store)(nil)

// Statuses of each record type, for Stats.
var (
	sessionStatuses    = []string{string(ports.SessionActive), string(ports.SessionRevoked), string(ports.SessionExpired)}
	requestStatuses    = []string{string(ports.RequestPending), string(ports.RequestApproved), string(ports.RequestDenied), string(ports.RequestExpired), string(ports.RequestCancelled)}
	breakGlassStatuses = []string{string(ports.BreakGlassActive), string(ports.BreakGlassClosed), string(ports.BreakGlassExpired)}
)

// Stats counts each record type by stored status with Select COUNT queries
// on the status index, and reads the oldest record of each status with a
// one-item ascending query. DynamoDB keeps no count per index key, so a
// COUNT query still consumes read capacity for every index entry it counts
// (about 1 RCU per 4 KB of index data, eventually consistent), though it
// returns no items: a few requests per 1 MB of index.
func (s *Store) Stats(ctx context.Context) (ports.StoreStats, error) {
	var st ports.StoreStats
	if err := statsOf(ctx, s, sessionRecords, sessionStatuses, &st.Sessions); err != nil {
		return ports.StoreStats{}, err
	}
	if err := statsOf(ctx, s, requestRecords, requestStatuses, &st.Requests); err != nil {
		return ports.StoreStats{}, err
	}
	if err := statsOf(ctx, s, eventRecords, breakGlassStatuses, &st.BreakGlass); err != nil {
		return ports.StoreStats{}, err
	}
	return st, nil
}

func statsOf[T any](ctx context.Context, s *Store, k recordKind[T], statuses []string, into *ports.RecordStats) error {
	table := k.table(s)
	for _, status := range statuses {
		in := dynamodb.QueryInput{
			TableName:                 aws.String(table),
			IndexName:                 aws.String(indexStatus),
			KeyConditionExpression:    aws.String("#h = :h"),
			ExpressionAttributeNames:  map[string]string{"#h": attrStatus},
			ExpressionAttributeValues: map[string]types.AttributeValue{":h": str(status)},
			Select:                    types.SelectCount,
		}
		n := int64(0)
		for {
			out, err := s.client.Query(ctx, &in)
			if err != nil {
				return fmt.Errorf("dynamo: count %s %s: %w", status, k.plural, mapError(table, s.storeURL, nil, err))
			}
			n += int64(out.Count)
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
		into.Add(status, n)
		if n == 0 {
			continue
		}
		first := dynamodb.QueryInput{
			TableName:                 in.TableName,
			IndexName:                 in.IndexName,
			KeyConditionExpression:    in.KeyConditionExpression,
			ExpressionAttributeNames:  in.ExpressionAttributeNames,
			ExpressionAttributeValues: in.ExpressionAttributeValues,
			ScanIndexForward:          aws.Bool(true),
			Limit:                     aws.Int32(1),
		}
		out, err := s.client.Query(ctx, &first)
		if err != nil {
			return fmt.Errorf("dynamo: oldest %s %s: %w", status, k.plural, mapError(table, s.storeURL, nil, err))
		}
		if len(out.Items) == 1 {
			rec, err := k.decode(itemID(out.Items[0]), out.Items[0])
			if err != nil {
				return fmt.Errorf("dynamo: oldest %s %s: %w", status, k.plural, err)
			}
			pos := k.position(rec)
			into.NoteOldest(pos.ID, pos.CreatedAt)
		}
	}
	return nil
}
