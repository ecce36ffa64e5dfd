package dynamo

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/aws/smithy-go"

	"github.com/sentinel-gw/sentinel/internal/gather"
)

// maxBatchGet is BatchGetItem's limit of keys per call.
const maxBatchGet = 100

// item is one DynamoDB item; nil when absent.
type item = map[string]types.AttributeValue

// itemGets gathers the strongly consistent record reads of one table: the
// reads asked for while one is on the wire go out as the next BatchGetItem
// (internal/gather), one round trip for up to 100 distinct items. A read
// alone is a plain GetItem. Keys DynamoDB leaves unprocessed (its limits on
// size and capacity) are read one by one, and so is a batch whose reply
// never came whole. A principal whose IAM policy lacks
// dynamodb:BatchGetItem (one granted before this read path) is answered
// with GetItems from then on, so an upgrade cannot lock a broker out.
type itemGets struct {
	client *dynamodb.Client
	table  string
	group  *gather.Group[string, item]
	// noBatch is set once BatchGetItem was refused for access.
	noBatch atomic.Bool
}

func newItemGets(client *dynamodb.Client, table string) *itemGets {
	g := &itemGets{client: client, table: table}
	g.group = gather.New(maxBatchGet, g.send)
	return g
}

// get reads id's item, gathered with the reads asked for meanwhile.
func (g *itemGets) get(ctx context.Context, id string) (item, error) {
	return g.group.Do(ctx, id)
}

func (g *itemGets) send(ctx context.Context, ids []string) []gather.Result[item] {
	out := make([]gather.Result[item], len(ids))
	if len(ids) == 1 || g.noBatch.Load() {
		g.oneByOne(ctx, ids, out)
		return out
	}
	keys := make([]item, len(ids))
	for i, id := range ids {
		keys[i] = key(id)
	}
	resp, err := g.client.BatchGetItem(ctx, &dynamodb.BatchGetItemInput{
		RequestItems: map[string]types.KeysAndAttributes{g.table: {Keys: keys, ConsistentRead: aws.Bool(true)}},
	})
	if err != nil {
		api, isAPI := errors.AsType[smithy.APIError](err)
		switch {
		case isAPI && api.ErrorCode() == "AccessDeniedException":
			g.noBatch.Store(true)
			g.oneByOne(ctx, ids, out)
		case !isAPI && ctx.Err() == nil:
			// No answer from DynamoDB (a reply cut short, a dropped
			// connection): a read is safe to send again, one by one.
			g.oneByOne(ctx, ids, out)
		default:
			for i := range out {
				out[i].Err = err
			}
		}
		return out
	}
	found := make(map[string]item, len(ids))
	for _, it := range resp.Responses[g.table] {
		if id, ok := it[attrID].(*types.AttributeValueMemberS); ok {
			found[id.Value] = it
		}
	}
	left := map[string]bool{}
	for _, k := range resp.UnprocessedKeys[g.table].Keys {
		if id, ok := k[attrID].(*types.AttributeValueMemberS); ok {
			left[id.Value] = true
		}
	}
	var again []int
	for i, id := range ids {
		if left[id] {
			again = append(again, i)
			continue
		}
		out[i].Value = found[id] // nil: no such item
	}
	if len(again) > 0 {
		rest := make([]string, len(again))
		restOut := make([]gather.Result[item], len(again))
		for j, i := range again {
			rest[j] = ids[i]
		}
		g.oneByOne(ctx, rest, restOut)
		for j, i := range again {
			out[i] = restOut[j]
		}
	}
	return out
}

// oneByOne reads each id with its own GetItem, all at once.
func (g *itemGets) oneByOne(ctx context.Context, ids []string, out []gather.Result[item]) {
	var wg sync.WaitGroup
	for i, id := range ids {
		wg.Go(func() { out[i].Value, out[i].Err = getOne(ctx, g.client, g.table, id) })
	}
	wg.Wait()
}

// getOne reads one item with a strongly consistent GetItem; nil when absent.
func getOne(ctx context.Context, client *dynamodb.Client, table, id string) (item, error) {
	resp, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return nil, err
	}
	return resp.Item, nil
}
