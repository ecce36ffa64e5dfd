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

// DynamoDB has no change feed: a running server polls its session every
// --revocation-poll. A revoke is still confirmed, through the record itself:
// once the polling server has read its session ended, it writes that version
// into the item's seen_version attribute (AckRead), and server-revoke
// (Announce) reads the item until seen_version reaches the revoke's version.
// The acknowledgement is an attribute of its own: it never changes Version,
// so nobody takes it for a change or loses a conditional write to it, and it
// never touches another field, so it cannot undo a revoke. A full update
// (PutItem) drops it; the ended states are terminal, so no full update
// follows the revoke it confirms.

var (
	_ ports.ReadAcknowledger = (*Store)(nil)
	_ ports.ChangeAnnouncer  = (*Store)(nil)
)

// announcePoll is how often Announce reads the item for the
// acknowledgement: one small strongly consistent read each time.
const announcePoll = 10 * time.Millisecond

// AckRead records that the server of session id has read version of it:
// seen_version grows to version, in one conditional update that changes no
// other attribute. A version at or below the recorded one changes nothing.
func (s *Store) AckRead(ctx context.Context, id string, version int64) error {
	if id == "" {
		return fmt.Errorf("dynamo: acknowledge session: empty id: %w", ports.ErrInvalidArgument)
	}
	_, err := s.client.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName:                           aws.String(s.table),
		Key:                                 key(id),
		UpdateExpression:                    aws.String("SET #seen = :v"),
		ConditionExpression:                 aws.String("attribute_exists(#id) AND #schema = :schema AND (attribute_not_exists(#seen) OR #seen < :v)"),
		ExpressionAttributeNames:            namesFor("#id", "#schema", "#seen"),
		ExpressionAttributeValues:           map[string]types.AttributeValue{":schema": str(schemaValue), ":v": num(version)},
		ReturnValuesOnConditionCheckFailure: types.ReturnValuesOnConditionCheckFailureAllOld,
	})
	var ccf *types.ConditionalCheckFailedException
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ccf):
		// Gone is ErrNotFound, foreign is ErrCorrupt; a sound session was
		// already confirmed at or above version.
		if why := sessionRecords.whyFailed(id, err, func(ports.Session) error { return nil }); why != nil {
			return fmt.Errorf("dynamo: acknowledge session %q: %w", id, why)
		}
		return nil
	default:
		return sessionRecords.fail(s, "acknowledge", id, nil, err)
	}
}

// Announce waits until the server following sess has confirmed, through
// the item, that it read sess.Version or later (see AckRead), or ctx ends.
// It never reports ports.ErrNoListener: without a feed nothing tells a
// server that is gone from one that is slow.
func (s *Store) Announce(ctx context.Context, sess ports.Session) error {
	tick := time.NewTicker(announcePoll)
	defer tick.Stop()
	for {
		seen, err := s.seenVersion(ctx, sess.ID)
		switch {
		case err != nil && ctx.Err() == nil:
			return err
		case err == nil && seen >= sess.Version:
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("dynamo: announce session %s: no acknowledgement in time: %w", sess.ID, context.DeadlineExceeded)
		case <-tick.C:
		}
	}
}

// seenVersion reads the version the server of session id last confirmed,
// 0 when none.
func (s *Store) seenVersion(ctx context.Context, id string) (int64, error) {
	item, err := s.getItem(ctx, s.table, id)
	if err != nil {
		return 0, sessionRecords.fail(s, "announce", id, nil, err)
	}
	if item == nil {
		return 0, fmt.Errorf("dynamo: announce session %q: %w", id, ports.ErrNotFound)
	}
	if _, err := decodeSession(id, item); err != nil {
		return 0, err
	}
	d := &decoder{item: item}
	seen := d.int(attrSeen, false)
	if d.err != "" {
		return 0, corrupt("session", id, d.err)
	}
	return seen, nil
}
