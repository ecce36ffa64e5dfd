package dynamo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sentinel-gw/sentinel/internal/testenv"
)

// testClient is a client for the test DynamoDB Local: dummy credentials, and
// no response checksum validation (DynamoDB Local's error replies trip it).
func testClient(t testing.TB) *dynamodb.Client {
	t.Helper()
	return clientFor(testenv.DynamoDBEndpoint(t))
}

func clientFor(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:                          "us-east-1",
		BaseEndpoint:                    aws.String(endpoint),
		Credentials:                     credentials.NewStaticCredentialsProvider("test", "test", ""),
		DisableValidateResponseChecksum: true,
		Retryer:                         newRetryer(),
	})
}

// newTestTable creates a randomly named store (its four tables) with
// InitTable and deletes them when t ends. Tests never touch a table they did
// not create.
func newTestTable(t testing.TB, client *dynamodb.Client) string {
	t.Helper()
	table := "sentinel-test-" + randomHex(8)
	t.Cleanup(func() { deleteTables(t, client, TableNames(table)...) })
	if err := InitTable(t.Context(), client, table); err != nil {
		t.Fatalf("InitTable(%s): %v", table, err)
	}
	return table
}

// deleteTables deletes the tables that exist among tables.
func deleteTables(t testing.TB, client *dynamodb.Client, tables ...string) {
	t.Helper()
	// t.Context() is already cancelled when cleanups run.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, table := range tables {
		_, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(table)})
		var missing *types.ResourceNotFoundException
		if err != nil && !errors.As(err, &missing) {
			t.Errorf("DeleteTable(%s): %v", table, err)
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return hex.EncodeToString(b)
}

// putForeign replaces the item under id in table with one this store did
// not write: an unknown schema marker and a version that is not a number.
// It keeps the index keys of any item already there, so every listing still
// reaches it.
func putForeign(t *testing.T, client *dynamodb.Client, table, id string) {
	t.Helper()
	out, err := client.GetItem(t.Context(), &dynamodb.GetItemInput{
		TableName: aws.String(table), Key: key(id), ConsistentRead: aws.Bool(true),
	})
	if err != nil {
		t.Fatalf("GetItem(%s): %v", id, err)
	}
	item := map[string]types.AttributeValue{
		attrID:      str(id),
		attrSchema:  str("someone-else/3"),
		attrVersion: str("seven"),
		"payload":   &types.AttributeValueMemberB{Value: []byte{0xff, 0x00}},
	}
	for _, spec := range tableSpecs {
		for _, ix := range spec.indexes {
			for _, name := range []string{ix.hash, ix.sort} {
				if v, ok := out.Item[name]; ok {
					item[name] = v
				}
			}
		}
	}
	if _, err := client.PutItem(t.Context(), &dynamodb.PutItemInput{TableName: aws.String(table), Item: maps.Clone(item)}); err != nil {
		t.Fatalf("PutItem(foreign %s): %v", id, err)
	}
}
