package corrupt

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/redis/go-redis/v9"
	bbolt "go.etcd.io/bbolt"

	"github.com/sentinel-gw/sentinel/adapters/dynamo"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/internal/testkit"
)

// corruptMessage starts what the child is told once its record is corrupt;
// unavailableMessage, when the store did not answer in time under deny.
const (
	corruptMessage     = "the session record in the store is corrupt"
	unavailableMessage = "session store unavailable and --on-store-error=deny"
)

// detectionBound: a server with a change feed (bbolt, Redis) trusts its
// memory copy until its next resync read, because a write that bypasses
// sentinel announces nothing; DynamoDB polls every 50ms. Detection needs a
// read that completes: until then a store too slow to answer is "unavailable"
// (and fail-open serves). The slack covers DynamoDB Local on a loaded 2-core
// machine under the race detector, where a read can take seconds.
const detectionBound = session.DefaultResync + 5*time.Second

// corruptCase is one way a session record goes bad behind a running server.
type corruptCase struct {
	backend, name string
	// onStoreError must not matter: a corrupt record is refused either way.
	onStoreError string
	// store returns the URL of a fresh, isolated store and a func that
	// overwrites the session id's record in it.
	store func(t *testing.T) (storeURL string, overwrite func(t *testing.T, id string))
}

func TestCorruptRecordIsRefused(t *testing.T) {
	cases := []corruptCase{
		{"bolt", "bytes that are not a record", "allow", boltStore([]byte("\xff\x00 not a sentinel record"))},
		{"bolt", "a request record where the session belongs", "deny",
			boltStore([]byte(`{"v":1,"request":{"id":"x","status":"pending","version":1}}`))},
		{"redis", "an unknown status", "allow", redisStore(func(ctx context.Context, c *redis.Client, key string) error {
			return c.HSet(ctx, key, "status", "paused").Err()
		})},
		{"redis", "a string instead of a hash", "deny", redisStore(func(ctx context.Context, c *redis.Client, key string) error {
			return c.Set(ctx, key, "someone else's value", 0).Err()
		})},
		{"dynamodb", "a foreign item under the same id", "allow", dynamoStore(func(item map[string]types.AttributeValue) {
			item["schema"] = &types.AttributeValueMemberS{Value: "someone-else/3"}
			item["version"] = &types.AttributeValueMemberS{Value: "seven"}
			item["payload"] = &types.AttributeValueMemberB{Value: []byte{0xff, 0x00}}
		})},
		// Not an unknown status: the status index has no entry a listing
		// asks for, so server-sessions cannot reach such an item at all.
		{"dynamodb", "a version that is not a number", "deny", dynamoStore(func(item map[string]types.AttributeValue) {
			item["version"] = &types.AttributeValueMemberS{Value: "7"}
		})},
	}
	for _, tc := range cases {
		t.Run(tc.backend+"/"+tc.name+"/on-store-error="+tc.onStoreError, func(t *testing.T) {
			t.Parallel()
			runCase(t, tc)
		})
	}
}

func runCase(t *testing.T, tc corruptCase) {
	storeURL, overwrite := tc.store(t)
	sb := newSandbox(t, storeURL)
	if tc.backend == "dynamodb" {
		sb.mustRun("store", "init")
	}
	fetches := filepath.Join(sb.dir, "fetches.jsonl")
	stop := filepath.Join(sb.dir, "stop")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	server := sb.start(map[string]string{childModeEnv: "loop", childOutEnv: fetches, childStopEnv: stop},
		"exec", "--server", "--profile", profile, "--no-session", "--identity-source", "os",
		"--policy", sb.policy, "--log-file", filepath.Join(sb.dir, "decisions.jsonl"),
		"--on-store-error", tc.onStoreError, "--", self)

	var id string
	testkit.Eventually(t, 30*time.Second, "the server's session id on its stderr", func() bool {
		if server.exited() {
			t.Fatalf("sentinel exited before serving: %s", server.wait(time.Second))
		}
		if m := sessionLine.FindStringSubmatch(server.stderr.String()); m != nil {
			id = m[1]
		}
		return id != ""
	})
	testkit.Eventually(t, 20*time.Second, "5 served requests", func() bool {
		return countServed(testkit.ReadJSONLines[fetch](t, fetches)) >= 5
	})

	overwrite(t, id)
	written := time.Now()

	var firstRefusal time.Time
	testkit.Eventually(t, 15*time.Second, "a refusal after the record was overwritten", func() bool {
		for _, f := range testkit.ReadJSONLines[fetch](t, fetches) {
			if f.Start > written.UnixNano() && !f.served() {
				firstRefusal = time.Unix(0, f.Start)
				return true
			}
		}
		return false
	})
	testkit.Eventually(t, 15*time.Second, "20 requests after the first refusal", func() bool {
		return countSince(testkit.ReadJSONLines[fetch](t, fetches), firstRefusal) >= 20
	})

	// The tools name the record; the server keeps running meanwhile.
	for _, args := range [][]string{{"server-session", id}, {"server-sessions", "--status", "all"}} {
		r := sb.run(args...)
		// The command's own error, not the sweep's warning that precedes it.
		msg := commandError(r.stderr)
		if r.code != 1 || !strings.Contains(msg, id) || !strings.Contains(msg, "corrupt record") {
			t.Errorf("sentinel %v: want exit 1 and an error naming %s as corrupt; got %s", args, id, r)
		}
		t.Logf("%s", msg)
	}
	if server.exited() {
		t.Fatalf("the server exited while its record was corrupt: %s", server.wait(time.Second))
	}
	afterTools := time.Now()
	testkit.Eventually(t, 15*time.Second, "10 requests after the tools ran", func() bool {
		return countSince(testkit.ReadJSONLines[fetch](t, fetches), afterTools) >= 10
	})

	sb.write(stop, "")
	r := server.wait(commandTimeout)
	if r.code != 0 {
		t.Errorf("sentinel exec: want the child's exit 0; got %s", r)
	}
	if strings.Contains(r.stderr, exampleSecret) {
		t.Errorf("the server's stderr holds the secret key:\n%s", r.stderr)
	}
	checkFetches(t, testkit.ReadJSONLines[fetch](t, fetches), written, firstRefusal)
}

// commandError is the "sentinel: ..." line a failed command ends with.
func commandError(stderr string) string {
	for line := range strings.Lines(stderr) {
		if strings.HasPrefix(line, "sentinel: ") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

func countServed(fs []fetch) int {
	n := 0
	for _, f := range fs {
		if f.served() {
			n++
		}
	}
	return n
}

func countSince(fs []fetch, at time.Time) int {
	n := 0
	for _, f := range fs {
		if f.Start >= at.UnixNano() {
			n++
		}
	}
	return n
}

// checkFetches holds every request the child made to the promise: served
// before the overwrite, refused as corrupt after it (within detectionBound),
// and never served again once refused.
func checkFetches(t *testing.T, fs []fetch, written, firstRefusal time.Time) {
	t.Helper()
	var served, refused, servedAfterWrite, corruptRefusals int
	refusedYet := false
	for _, f := range fs {
		start := time.Unix(0, f.Start)
		if f.Err != "" || f.Status == 0 {
			t.Errorf("request at %s got no proper answer (did the server crash?): %s", start.Format(time.RFC3339Nano), f.Err)
			continue
		}
		if f.served() {
			served++
			if f.Status != http.StatusOK || f.AccessKeyID != exampleKeyID || !f.HadSecret {
				t.Errorf("served answer %+v: want 200 with the profile's credentials", f)
			}
			if refusedYet {
				t.Errorf("credentials served %s after the first corrupt refusal", start.Sub(firstRefusal))
			}
			if start.After(written) {
				servedAfterWrite++
				if start.Sub(written) > detectionBound {
					t.Errorf("credentials served %s after the record was overwritten (bound %s)", start.Sub(written), detectionBound)
				}
			}
			continue
		}
		refused++
		refusedYet = true
		if f.End < written.UnixNano() {
			t.Errorf("a request was refused before the record was overwritten: %+v", f)
		}
		// Until a read completes the server cannot know the record is corrupt;
		// with --on-store-error=deny a store too slow to answer is refused as
		// unavailable meanwhile. Either way: a 503, never a serve.
		switch {
		case f.Status != http.StatusServiceUnavailable || f.Code != "StoreUnavailable":
			t.Errorf("refusal %d %s %q: want 503 StoreUnavailable", f.Status, f.Code, f.Message)
		case strings.HasPrefix(f.Message, corruptMessage):
			corruptRefusals++
		case !strings.HasPrefix(f.Message, unavailableMessage):
			t.Errorf("refusal %q: want %q... or %q...", f.Message, corruptMessage, unavailableMessage)
		}
	}
	if refused > 0 && corruptRefusals == 0 {
		t.Errorf("%d refusals, none saying the record is corrupt", refused)
	}
	t.Logf("%d served, %d refused; first refusal %s after the overwrite; %d served in between",
		served, refused, firstRefusal.Sub(written).Round(time.Millisecond), servedAfterWrite)
}

// boltStore is a bbolt file whose session record gets raw bytes.
func boltStore(raw []byte) func(t *testing.T) (string, func(*testing.T, string)) {
	return boltEdit(func(b *bbolt.Bucket, key []byte) error { return b.Put(key, raw) })
}

// boltEdit is a bbolt file whose session record edit changes in place.
func boltEdit(edit func(b *bbolt.Bucket, key []byte) error) func(t *testing.T) (string, func(*testing.T, string)) {
	return func(t *testing.T) (string, func(*testing.T, string)) {
		path := filepath.Join(t.TempDir(), "store", "sentinel.db")
		return "bolt://" + path, func(t *testing.T, id string) {
			t.Helper()
			// The server opens the file per transaction, so this waits at most
			// for one of its transactions, and holds the lock for one write.
			db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 10 * time.Second})
			if err != nil {
				t.Fatalf("open the store file: %v", err)
			}
			defer db.Close()
			err = db.Update(func(tx *bbolt.Tx) error {
				b := tx.Bucket([]byte("sessions"))
				if b == nil || b.Get([]byte(id)) == nil {
					return errors.New("no session record " + id + " in bucket sessions")
				}
				return edit(b, []byte(id))
			})
			if err != nil {
				t.Fatalf("overwrite session %s: %v", id, err)
			}
		}
	}
}

// redisStore is a fresh key prefix on the test Redis; its keys are deleted
// when the test ends.
func redisStore(overwrite func(ctx context.Context, c *redis.Client, key string) error) func(t *testing.T) (string, func(*testing.T, string)) {
	return func(t *testing.T) (string, func(*testing.T, string)) {
		base := testenv.Redis(t)
		prefix := "sentinel-corrupt-" + randomHex(8)
		opts, err := redis.ParseURL(base)
		if err != nil {
			t.Fatalf("parse %s: %v", base, err)
		}
		client := redis.NewClient(opts)
		t.Cleanup(func() {
			_ = client.Close()
			testkit.DeleteRedisPrefix(t, base, prefix)
		})
		return base + "?prefix=" + prefix, func(t *testing.T, id string) {
			t.Helper()
			key := "{" + prefix + "}:session:" + id
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if n, err := client.Exists(ctx, key).Result(); err != nil || n != 1 {
				t.Fatalf("session key %s: exists=%d err=%v", key, n, err)
			}
			if err := overwrite(ctx, client, key); err != nil {
				t.Fatalf("overwrite %s: %v", key, err)
			}
		}
	}
}

// dynamoStore is a freshly named table set on the test DynamoDB Local
// (created by `sentinel store init`, deleted when the test ends) whose
// session item is replaced by an edited copy: its index attributes stay, so
// every listing still reaches it.
func dynamoStore(edit func(item map[string]types.AttributeValue)) func(t *testing.T) (string, func(*testing.T, string)) {
	return dynamoChange(func(ctx context.Context, client *dynamodb.Client, table string, item map[string]types.AttributeValue) error {
		edit(item)
		_, err := client.PutItem(ctx, &dynamodb.PutItemInput{TableName: aws.String(table), Item: item})
		return err
	})
}

// dynamoChange is dynamoStore with the change to the session item (read
// with a consistent read) left to change.
func dynamoChange(change func(ctx context.Context, client *dynamodb.Client, table string, item map[string]types.AttributeValue) error) func(t *testing.T) (string, func(*testing.T, string)) {
	return func(t *testing.T) (string, func(*testing.T, string)) {
		endpoint := testenv.DynamoDBEndpoint(t)
		table := "sentinel-corrupt-" + randomHex(8)
		client := dynamodb.New(dynamodb.Options{
			Region:       "us-east-1",
			BaseEndpoint: aws.String(endpoint),
			Credentials:  credentials.NewStaticCredentialsProvider(exampleKeyID, exampleSecret, ""),
			// DynamoDB Local's error replies trip the response checksum check.
			DisableValidateResponseChecksum: true,
		})
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			for _, name := range dynamo.TableNames(table) {
				_, err := client.DeleteTable(ctx, &dynamodb.DeleteTableInput{TableName: aws.String(name)})
				var missing *types.ResourceNotFoundException
				if err != nil && !errors.As(err, &missing) {
					t.Errorf("DeleteTable(%s): %v", name, err)
				}
			}
		})
		q := url.Values{"region": {"us-east-1"}, "endpoint": {endpoint}, "profile": {profile}}
		return "dynamodb://" + table + "?" + q.Encode(), func(t *testing.T, id string) {
			t.Helper()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			key := map[string]types.AttributeValue{"id": &types.AttributeValueMemberS{Value: id}}
			out, err := client.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(table), Key: key, ConsistentRead: aws.Bool(true)})
			if err != nil || out.Item == nil {
				t.Fatalf("GetItem(%s): item %v, err %v", id, out, err)
			}
			if err := change(ctx, client, table, out.Item); err != nil {
				t.Fatalf("change item %s: %v", id, err)
			}
		}
	}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return hex.EncodeToString(b)
}
