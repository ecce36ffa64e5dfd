package dynamo

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sentinel-gw/sentinel/ports"
)

// How long InitTable waits for a new table to become ACTIVE, and how often
// it asks. AWS takes seconds to a minute; DynamoDB Local is at once.
const (
	tableWaitMax      = 5 * time.Minute
	tableWaitMinDelay = time.Second
	tableWaitMaxDelay = 10 * time.Second
)

// indexSpec is one global secondary index the store queries.
type indexSpec struct {
	name, hash, sort string
}

var tableIndexes = []indexSpec{
	{indexUser, attrUser, attrCreatedSort},
	{indexStatus, attrStatus, attrCreatedSort},
	{indexProfile, attrProfile, attrCreatedSort},
	{indexInstance, attrInstance, attrStatus},
}

// InitTable creates the sessions table (on-demand billing), its indexes and
// its TTL attribute, and waits until it is ACTIVE. It is idempotent: an
// existing table with the right keys and indexes is fine (extra indexes are
// ignored); one that differs is an error wrapping ports.ErrInvalidArgument
// that names every difference. It never changes or deletes an existing table.
func InitTable(ctx context.Context, client *dynamodb.Client, table string) error {
	if table == "" {
		return fmt.Errorf("dynamo: init table: no table name: %w", ports.ErrInvalidArgument)
	}
	_, err := client.CreateTable(ctx, createTableInput(table))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) { // in use: it exists already, or is being created
		return fmt.Errorf("dynamo: init table %q: create: %w", table, mapError(table, storeURL(Options{Table: table}), nil, err))
	}
	describe := &dynamodb.DescribeTableInput{TableName: aws.String(table)}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = tableWaitMinDelay, tableWaitMaxDelay
	})
	out, err := waiter.WaitForOutput(ctx, describe, tableWaitMax)
	if err != nil {
		return fmt.Errorf("dynamo: init table %q: wait until ACTIVE: %w", table, mapError(table, storeURL(Options{Table: table}), nil, err))
	}
	if diffs := tableDiffs(out.Table); len(diffs) > 0 {
		return fmt.Errorf("dynamo: init table %q: it exists but differs from the sessions layout: %s: %w",
			table, strings.Join(diffs, "; "), ports.ErrInvalidArgument)
	}
	return enableTTL(ctx, client, table)
}

func createTableInput(table string) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   []types.KeySchemaElement{{AttributeName: aws.String(attrID), KeyType: types.KeyTypeHash}},
	}
	for _, a := range []string{attrID, attrUser, attrStatus, attrProfile, attrInstance, attrCreatedSort} {
		in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
			AttributeName: aws.String(a), AttributeType: types.ScalarAttributeTypeS,
		})
	}
	for _, ix := range tableIndexes {
		in.GlobalSecondaryIndexes = append(in.GlobalSecondaryIndexes, types.GlobalSecondaryIndex{
			IndexName: aws.String(ix.name),
			KeySchema: []types.KeySchemaElement{
				{AttributeName: aws.String(ix.hash), KeyType: types.KeyTypeHash},
				{AttributeName: aws.String(ix.sort), KeyType: types.KeyTypeRange},
			},
			Projection: &types.Projection{ProjectionType: types.ProjectionTypeAll},
		})
	}
	return in
}

// tableDiffs lists how an existing table differs from what the store needs.
func tableDiffs(t *types.TableDescription) []string {
	if t == nil {
		return []string{"DescribeTable returned no table"}
	}
	attrTypes := map[string]types.ScalarAttributeType{}
	for _, a := range t.AttributeDefinitions {
		attrTypes[aws.ToString(a.AttributeName)] = a.AttributeType
	}
	var diffs []string
	keyDiff := func(where string, schema []types.KeySchemaElement, hash, sort string) {
		var gotHash, gotSort string
		for _, k := range schema {
			switch k.KeyType {
			case types.KeyTypeHash:
				gotHash = aws.ToString(k.AttributeName)
			case types.KeyTypeRange:
				gotSort = aws.ToString(k.AttributeName)
			}
		}
		if gotHash != hash {
			diffs = append(diffs, fmt.Sprintf("%s partition key is %q, want %q", where, gotHash, hash))
		}
		if gotSort != sort {
			diffs = append(diffs, fmt.Sprintf("%s sort key is %q, want %q", where, gotSort, sort))
		}
		for _, a := range []string{gotHash, gotSort} {
			if ty := attrTypes[a]; a != "" && ty != types.ScalarAttributeTypeS {
				diffs = append(diffs, fmt.Sprintf("%s key attribute %q has type %q, want \"S\"", where, a, ty))
			}
		}
	}
	keyDiff("table", t.KeySchema, attrID, "")
	byName := map[string]types.GlobalSecondaryIndexDescription{}
	for _, g := range t.GlobalSecondaryIndexes {
		byName[aws.ToString(g.IndexName)] = g
	}
	for _, ix := range tableIndexes {
		g, ok := byName[ix.name]
		if !ok {
			diffs = append(diffs, fmt.Sprintf("index %q is missing", ix.name))
			continue
		}
		where := fmt.Sprintf("index %q", ix.name)
		keyDiff(where, g.KeySchema, ix.hash, ix.sort)
		if g.Projection == nil || g.Projection.ProjectionType != types.ProjectionTypeAll {
			diffs = append(diffs, where+" does not project all attributes")
		}
	}
	return diffs
}

// enableTTL turns on the TTL sweeper for the ttl attribute unless it is on.
func enableTTL(ctx context.Context, client *dynamodb.Client, table string) error {
	url := storeURL(Options{Table: table})
	desc, err := client.DescribeTimeToLive(ctx, &dynamodb.DescribeTimeToLiveInput{TableName: aws.String(table)})
	if err != nil {
		return fmt.Errorf("dynamo: init table %q: describe TTL: %w", table, mapError(table, url, nil, err))
	}
	if d := desc.TimeToLiveDescription; d != nil {
		switch d.TimeToLiveStatus {
		case types.TimeToLiveStatusEnabled, types.TimeToLiveStatusEnabling:
			if got := aws.ToString(d.AttributeName); got != attrTTL {
				return fmt.Errorf("dynamo: init table %q: TTL is on attribute %q, want %q: %w", table, got, attrTTL, ports.ErrInvalidArgument)
			}
			return nil
		case types.TimeToLiveStatusDisabling:
			return fmt.Errorf("dynamo: init table %q: TTL is being disabled; retry in an hour: %w", table, ports.ErrUnavailable)
		}
	}
	_, err = client.UpdateTimeToLive(ctx, &dynamodb.UpdateTimeToLiveInput{
		TableName: aws.String(table),
		TimeToLiveSpecification: &types.TimeToLiveSpecification{
			AttributeName: aws.String(attrTTL), Enabled: aws.Bool(true),
		},
	})
	if err != nil {
		return fmt.Errorf("dynamo: init table %q: enable TTL: %w", table, mapError(table, url, nil, err))
	}
	return nil
}

// Init creates the store's table, indexes and TTL; it is idempotent.
func (s *Store) Init(ctx context.Context) error { return InitTable(ctx, s.client, s.table) }
