package testenv_test

import (
	"context"
	"crypto/rand"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/internal/testenv"
)

func TestMain(m *testing.M) { os.Exit(testenv.Main(m)) }

func TestRedisAnswersPingAndStoresAValue(t *testing.T) {
	start := time.Now()
	url := testenv.Redis(t)
	t.Logf("redis from %s in %v", testenv.Source(testenv.KindRedis), time.Since(start).Round(time.Millisecond))

	client := newRedisClient(t, url)
	ctx := t.Context()
	pong, err := client.Ping(ctx).Result()
	if err != nil || pong != "PONG" {
		t.Fatalf("PING = %q, %v; want PONG", pong, err)
	}
	// Our own key: never touch data on a shared server.
	key, value := "testenv:"+rand.Text(), rand.Text()
	t.Cleanup(func() { client.Del(context.Background(), key) })
	if err := client.Set(ctx, key, value, time.Minute).Err(); err != nil {
		t.Fatalf("SET: %v", err)
	}
	got, err := client.Get(ctx, key).Result()
	if err != nil || got != value {
		t.Fatalf("GET = %q, %v; want %q", got, err, value)
	}
}

func TestDynamoDBListsATableItCreated(t *testing.T) {
	start := time.Now()
	endpoint := testenv.DynamoDBEndpoint(t)
	t.Logf("dynamodb from %s in %v", testenv.Source(testenv.KindDynamoDB), time.Since(start).Round(time.Millisecond))

	client := newDynamoClient(endpoint)
	ctx := t.Context()
	table := "testenv-" + rand.Text()
	_, err := client.CreateTable(ctx, &dynamodb.CreateTableInput{
		TableName:            aws.String(table),
		BillingMode:          types.BillingModePayPerRequest,
		AttributeDefinitions: []types.AttributeDefinition{{AttributeName: aws.String("pk"), AttributeType: types.ScalarAttributeTypeS}},
		KeySchema:            []types.KeySchemaElement{{AttributeName: aws.String("pk"), KeyType: types.KeyTypeHash}},
	})
	if err != nil {
		t.Fatalf("CreateTable: %v", err)
	}
	t.Cleanup(func() {
		if _, err := client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(table)}); err != nil {
			t.Errorf("DeleteTable: %v", err)
		}
	})
	var names []string
	pages := dynamodb.NewListTablesPaginator(client, &dynamodb.ListTablesInput{})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			t.Fatalf("ListTables: %v", err)
		}
		names = append(names, page.TableNames...)
	}
	if !slices.Contains(names, table) {
		t.Fatalf("ListTables = %v; want it to contain %q", names, table)
	}
}

// The env variable wins over a container: point it at the running server.
func TestEndpointFromEnvironmentWins(t *testing.T) {
	containerURL := testenv.Redis(t)
	if testenv.Source(testenv.KindRedis) == testenv.SourceEnv {
		t.Skip("SENTINEL_TEST_REDIS_URL is already set; nothing to override")
	}
	t.Setenv(testenv.EnvRedisURL, containerURL)

	if got := testenv.Redis(t); got != containerURL {
		t.Fatalf("Redis() = %q; want the env value %q", got, containerURL)
	}
	if got := testenv.Source(testenv.KindRedis); got != testenv.SourceEnv {
		t.Fatalf("Source = %q; want %q", got, testenv.SourceEnv)
	}
	if err := newRedisClient(t, testenv.Redis(t)).Ping(t.Context()).Err(); err != nil {
		t.Fatalf("PING via env URL: %v", err)
	}
}

func TestInCI(t *testing.T) {
	for _, tc := range []struct {
		value string
		want  bool
	}{
		{"", false},
		{"true", true},
		{"1", true},
		{"false", false},
		{"0", false},
		{"yes", true}, // some CI systems set a non-boolean marker
	} {
		t.Run("CI="+tc.value, func(t *testing.T) {
			t.Setenv("CI", tc.value)
			if got := testenv.InCI(); got != tc.want {
				t.Fatalf("InCI() with CI=%q = %v; want %v", tc.value, got, tc.want)
			}
		})
	}
}

func newRedisClient(t *testing.T, url string) *redis.Client {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parse %q: %v", url, err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	return client
}

func newDynamoClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("testenv", "testenv", ""),
		// DynamoDB Local's error replies trip the CRC32 check (a harmless warning).
		DisableValidateResponseChecksum: true,
	})
}
