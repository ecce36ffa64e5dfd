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

var _ ports.RetentionSweeper = (*Store)(nil)

// DeleteRetired deletes the records retired at cutoff. The sessions
// table's TTL (Retention after a session's end) deletes them too, in
// DynamoDB's own time; this sweep serves a shorter retention and the
// requests and break-glass tables, which have no TTL. It queries each ended
// status of the status index for items created before cutoff only, oldest
// first, so its cost grows with those, and deletes each with a condition
// on the version it judged.
func (s *Store) DeleteRetired(ctx context.Context, cut ports.Cutoffs, archive func(ports.RetiredRecord) error) (ports.RetiredCounts, error) {
	var got ports.RetiredCounts
	var err error
	if got.Sessions, err = deleteRetired(ctx, s, sessionRecords, cut.Sessions, archive, ports.SessionRetirement); err != nil {
		return got, err
	}
	if got.Requests, err = deleteRetired(ctx, s, requestRecords, cut.Requests, archive, ports.RequestRetirement); err != nil {
		return got, err
	}
	got.BreakGlass, err = deleteRetired(ctx, s, eventRecords, cut.BreakGlass, archive, ports.BreakGlassRetirement)
	return got, err
}

func deleteRetired[T any](ctx context.Context, s *Store, k recordKind[T], cutoff time.Time,
	archive func(ports.RetiredRecord) error, how ports.Retirement[T],
) (int, error) {
	table := k.table(s)
	deleted := 0
	var corrupted []error
	for _, status := range how.Ended {
		in := dynamodb.QueryInput{
			TableName:                aws.String(table),
			IndexName:                aws.String(indexStatus),
			KeyConditionExpression:   aws.String("#h = :h AND #sort < :before"),
			ExpressionAttributeNames: map[string]string{"#h": attrStatus, "#sort": attrCreatedSort},
			ExpressionAttributeValues: map[string]types.AttributeValue{
				":h": str(status), ":before": str(createdSort(truncate(cutoff), "")),
			},
			ScanIndexForward: aws.Bool(true),
		}
		for {
			out, err := s.client.Query(ctx, &in)
			if err != nil {
				return deleted, fmt.Errorf("dynamo: delete retired %s: %w", k.plural, mapError(table, s.storeURL, nil, err))
			}
			for _, item := range out.Items {
				id := itemID(item)
				rec, err := k.decode(id, item)
				if err != nil {
					corrupted = append(corrupted, err)
					continue
				}
				if !how.Retired(rec, cutoff) {
					continue
				}
				if archive != nil {
					if err := archive(how.Record(rec)); err != nil {
						return deleted, fmt.Errorf("dynamo: delete retired %s: archive %s %q: %w", k.plural, k.noun, id, err)
					}
				}
				_, err = s.client.DeleteItem(ctx, &dynamodb.DeleteItemInput{
					TableName:                 aws.String(table),
					Key:                       key(id),
					ConditionExpression:       aws.String("#version = :v"),
					ExpressionAttributeNames:  map[string]string{"#version": attrVersion},
					ExpressionAttributeValues: map[string]types.AttributeValue{":v": num(*k.version(&rec))},
				})
				var changed *types.ConditionalCheckFailedException
				switch {
				case errors.As(err, &changed):
					// Changed (or gone) since the query: the next sweep judges it.
				case err != nil:
					return deleted, fmt.Errorf("dynamo: delete retired %s %q: %w", k.noun, id, mapError(table, s.storeURL, nil, err))
				default:
					deleted++
				}
			}
			if len(out.LastEvaluatedKey) == 0 {
				break
			}
			in.ExclusiveStartKey = out.LastEvaluatedKey
		}
	}
	if len(corrupted) > 0 {
		return deleted, fmt.Errorf("dynamo: delete retired %s: kept %d that cannot be read: %w", k.plural, len(corrupted), errors.Join(corrupted...))
	}
	return deleted, nil
}
