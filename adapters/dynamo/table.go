package dynamo

import (
	"context"
	"errors"
	"fmt"
	"regexp"
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

// The requests and break-glass tables are named after the sessions table.
const (
	requestsSuffix   = "-requests"
	breakGlassSuffix = "-breakglass"
)

// DynamoDB's rule for a table name: 3 to 255 of these characters.
const (
	minTableName = 3
	maxTableName = 255
)

var tableNameChars = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// MaxTableName is the longest name the sessions table may have: the names
// derived from it (see TableNames) must fit DynamoDB's 255 characters too.
var MaxTableName = maxTableName - len(longestSuffix())

func longestSuffix() string {
	longest := ""
	for _, spec := range tableSpecs {
		if len(spec.suffix) > len(longest) {
			longest = spec.suffix
		}
	}
	return longest
}

// ValidateTableName checks the sessions table's name, and so every name
// derived from it, against DynamoDB's rule, so that a bad name is refused
// before any table is created. Errors wrap ports.ErrInvalidArgument.
func ValidateTableName(table string) error {
	switch {
	case len(table) < minTableName:
		return fmt.Errorf("dynamodb table name %q is too short: it needs %d-%d characters: %w", table, minTableName, MaxTableName, ports.ErrInvalidArgument)
	case !tableNameChars.MatchString(table):
		return fmt.Errorf("dynamodb table name %q may hold only A-Z a-z 0-9 _ . -: %w", table, ports.ErrInvalidArgument)
	case len(table) > MaxTableName:
		return fmt.Errorf("dynamodb table name %q is %d characters; at most %d fit, since sentinel also creates %q, and DynamoDB allows %d: choose a shorter name: %w",
			table[:16]+"...", len(table), MaxTableName, "..."+longestSuffix(), maxTableName, ports.ErrInvalidArgument)
	}
	return nil
}

// TableNames are the tables the store named table uses: sessions, approval
// requests, break-glass events and locks, in that order.
func TableNames(table string) []string {
	names := make([]string, 0, len(tableSpecs))
	for _, spec := range tableSpecs {
		names = append(names, table+spec.suffix)
	}
	return names
}

// indexSpec is one global secondary index the store queries.
type indexSpec struct {
	name, hash, sort string
}

// tableSpec is the layout of one of the store's tables. All are keyed by id
// alone, with string index keys.
type tableSpec struct {
	records string // "sessions", for messages
	suffix  string
	indexes []indexSpec
	ttl     bool // the TTL sweeper runs on attrTTL
}

var tableSpecs = []tableSpec{
	{"sessions", "", []indexSpec{
		{indexUser, attrUser, attrCreatedSort},
		{indexStatus, attrStatus, attrCreatedSort},
		{indexProfile, attrProfile, attrCreatedSort},
		{indexInstance, attrInstance, attrStatus},
	}, true},
	{"approval requests", requestsSuffix, []indexSpec{
		{indexRequester, attrRequester, attrCreatedSort},
		{indexStatus, attrStatus, attrCreatedSort},
		{indexProfile, attrProfile, attrCreatedSort},
	}, false},
	{"break-glass events", breakGlassSuffix, []indexSpec{
		{indexInvoker, attrInvoker, attrCreatedSort},
		{indexStatus, attrStatus, attrCreatedSort},
		{indexProfile, attrProfile, attrCreatedSort},
	}, false},
	{"locks", locksSuffix, nil, false}, // few items: listed by a Scan (locks.go)
}

// InitTable creates the store's four tables (on-demand billing), their
// indexes and the sessions table's TTL attribute, one table after the
// other, waiting until each is ACTIVE. It is idempotent: an existing table
// with the right keys and indexes is fine (extra indexes are ignored); one
// that differs is an error wrapping ports.ErrInvalidArgument that names
// every difference, and the tables after it are not created. It never
// changes or deletes an existing table.
func InitTable(ctx context.Context, client *dynamodb.Client, table string) error {
	if err := ValidateTableName(table); err != nil {
		return fmt.Errorf("dynamo: init table: %w", err)
	}
	url := storeURL(Options{Table: table})
	for _, spec := range tableSpecs {
		if err := initOne(ctx, client, table+spec.suffix, url, spec); err != nil {
			return err
		}
	}
	return nil
}

func initOne(ctx context.Context, client *dynamodb.Client, table, url string, spec tableSpec) error {
	_, err := client.CreateTable(ctx, createTableInput(table, spec))
	var inUse *types.ResourceInUseException
	if err != nil && !errors.As(err, &inUse) { // in use: it exists already, or is being created
		return fmt.Errorf("dynamo: init table %q: create: %w", table, mapError(table, url, nil, err))
	}
	describe := &dynamodb.DescribeTableInput{TableName: aws.String(table)}
	waiter := dynamodb.NewTableExistsWaiter(client, func(o *dynamodb.TableExistsWaiterOptions) {
		o.MinDelay, o.MaxDelay = tableWaitMinDelay, tableWaitMaxDelay
	})
	out, err := waiter.WaitForOutput(ctx, describe, tableWaitMax)
	if err != nil {
		return fmt.Errorf("dynamo: init table %q: wait until ACTIVE: %w", table, mapError(table, url, nil, err))
	}
	if diffs := tableDiffs(out.Table, spec); len(diffs) > 0 {
		return fmt.Errorf("dynamo: init table %q: it exists but differs from the %s layout: %s: %w",
			table, spec.records, strings.Join(diffs, "; "), ports.ErrInvalidArgument)
	}
	if !spec.ttl {
		return nil
	}
	return enableTTL(ctx, client, table, url)
}

func createTableInput(table string, spec tableSpec) *dynamodb.CreateTableInput {
	in := &dynamodb.CreateTableInput{
		TableName:   aws.String(table),
		BillingMode: types.BillingModePayPerRequest,
		KeySchema:   []types.KeySchemaElement{{AttributeName: aws.String(attrID), KeyType: types.KeyTypeHash}},
	}
	defined := map[string]bool{}
	define := func(a string) {
		if !defined[a] {
			defined[a] = true
			in.AttributeDefinitions = append(in.AttributeDefinitions, types.AttributeDefinition{
				AttributeName: aws.String(a), AttributeType: types.ScalarAttributeTypeS,
			})
		}
	}
	define(attrID)
	for _, ix := range spec.indexes {
		define(ix.hash)
		define(ix.sort)
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

// tableDiffs lists how an existing table differs from what spec needs.
func tableDiffs(t *types.TableDescription, spec tableSpec) []string {
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
	for _, ix := range spec.indexes {
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
func enableTTL(ctx context.Context, client *dynamodb.Client, table, url string) error {
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

// Init creates the store's tables, indexes and TTL; it is idempotent.
func (s *Store) Init(ctx context.Context) error { return InitTable(ctx, s.client, s.table) }
