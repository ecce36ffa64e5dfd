package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/sentinel-gw/sentinel/adapters/bolt"
	"github.com/sentinel-gw/sentinel/adapters/dynamo"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

// bulkStore is one real store for a bulk revoke test: the URL the sentinel
// binary is given, the environment it needs, and the test's own handle on
// the same store.
type bulkStore struct {
	url   string
	env   map[string]string
	store ports.Stores
}

func randomName(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func newBoltBulkStore(t testing.TB) bulkStore {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sentinel.db")
	store, err := bolt.Open(path, ports.SystemClock{}, bolt.Options{LockTimeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("create %s: %v", path, err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return bulkStore{url: "bolt://" + path, store: store}
}

func newRedisBulkStore(t testing.TB) bulkStore {
	t.Helper()
	base := testenv.Redis(t)
	prefix := "bulk-" + randomName(t)
	t.Cleanup(func() { testkit.DeleteRedisPrefix(t, base, prefix) })
	url := base + "?prefix=" + prefix
	return bulkStore{url: url, store: openForTest(t, url)}
}

func newDynamoBulkStore(t testing.TB) bulkStore {
	t.Helper()
	endpoint := testenv.DynamoDBEndpoint(t)
	table := "bulk-" + randomName(t)
	client := dynamoClient(endpoint)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := dynamo.InitTable(ctx, client, table); err != nil {
		t.Fatalf("create the test tables: %v", err)
	}
	t.Cleanup(func() {
		for _, name := range dynamo.TableNames(table) {
			if _, err := client.DeleteTable(context.Background(), &dynamodb.DeleteTableInput{TableName: aws.String(name)}); err != nil {
				t.Logf("delete table %s: %v", name, err)
			}
		}
	})
	// DynamoDB Local takes any key; the binary's SDK needs one.
	env := map[string]string{"AWS_ACCESS_KEY_ID": exampleKeyID, "AWS_SECRET_ACCESS_KEY": exampleSecret}
	return bulkStore{
		url: "dynamodb://" + table + "?region=us-east-1&endpoint=" + endpoint, env: env,
		store: dynamo.New(client, table, ports.SystemClock{}),
	}
}

func dynamoClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:                          "us-east-1",
		BaseEndpoint:                    aws.String(endpoint),
		Credentials:                     credentials.NewStaticCredentialsProvider(exampleKeyID, exampleSecret, ""),
		DisableValidateResponseChecksum: true,
	})
}

// openForTest opens url the way the command does, closed when t ends.
func openForTest(t testing.TB, url string) ports.Stores {
	t.Helper()
	store, err := openStore(context.Background(), url, ports.SystemClock{})
	if err != nil {
		t.Fatalf("open %s: %v", url, err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return store
}

// seedActive creates n active sessions of user on profile, leased for an
// hour, created a millisecond apart, 16 at a time; it returns their ids.
func seedActive(t testing.TB, store ports.SessionStore, user, profile string, n int) []string {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Millisecond)
	ids := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 16)
	for i := range n {
		id, err := record.NewID()
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
		s := activeAt(id, user, profile, now.Add(-time.Duration(n-i)*time.Millisecond))
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			if _, err := store.CreateSession(context.Background(), s); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("seed sessions: %v", err)
	}
	return ids
}

// activeAt is an active session created at, leased for an hour.
func activeAt(id, user, profile string, at time.Time) ports.Session {
	return ports.Session{
		ID: id, User: user, Profile: profile, ServerInstanceID: "bulk-" + id[:8], Status: ports.SessionActive,
		IdentitySource: "os", StartedAt: at, LastAccessAt: at, CreatedAt: at, UpdatedAt: at, ExpiresAt: at.Add(time.Hour),
	}
}

// TestServerRevokeBulkOnRealStores runs server-revoke --user and --profile
// (the binary) on each real backend while new sessions of the same user keep
// arriving: every session that existed before the command is revoked, the
// command ends, a run with nothing left to revoke exits 1 saying so, and
// other users' sessions stay active.
func TestServerRevokeBulkOnRealStores(t *testing.T) {
	t.Parallel()
	for name, open := range map[string]func(testing.TB) bulkStore{
		"bolt": newBoltBulkStore, "redis": newRedisBulkStore, "dynamodb": newDynamoBulkStore,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			bs := open(t)
			seeded := time.Now()
			// More than one listing page: the command used to stop at 1,000.
			victim := seedActive(t, bs.store, "victim", "demo", ports.MaxPageLimit+30)
			other := seedActive(t, bs.store, "bystander", "prod", 3)
			t.Logf("seeding took %s", time.Since(seeded).Round(time.Millisecond))
			sb := newSandbox(t)
			revoke := func(args ...string) result {
				return sb.run(bs.env, append([]string{"server-revoke", "--store", bs.url, "--identity-source", "os",
					"--reason", "incident 18", "--ack-timeout", "500ms"}, args...)...)
			}

			// New sessions of the victim arrive the whole time the revoke runs.
			stop, arrived := make(chan struct{}), make(chan int)
			go func() {
				n := 0
				defer func() { arrived <- n }()
				for {
					select {
					case <-stop:
						return
					case <-time.After(5 * time.Millisecond):
					}
					id, err := record.NewID()
					if err == nil {
						_, err = bs.store.CreateSession(context.Background(), activeAt(id, "victim", "demo", time.Now().UTC()))
					}
					if err != nil {
						t.Errorf("a session arriving during the revoke: %v", err)
						return
					}
					n++
				}
			}()
			began := time.Now()
			r := revoke("--user", "victim")
			took := time.Since(began)
			close(stop)
			t.Logf("server-revoke --user victim (%d sessions, %d arriving meanwhile) took %s", len(victim), <-arrived, took.Round(time.Millisecond))
			if r.code != 0 || !strings.Contains(r.stdout, "active session(s) of user victim") {
				t.Fatalf("server-revoke --user victim: %s", r)
			}
			for _, id := range victim {
				s, err := bs.store.GetSession(context.Background(), id)
				if err != nil || s.Status != ports.SessionRevoked || s.RevokedReason != "incident 18" {
					t.Fatalf("session %s, there before the bulk revoke, is afterwards %s, %q, %v", id, s.Status, s.RevokedReason, err)
				}
			}
			// The sessions that arrived late are revoked by this run or the next.
			if r := revoke("--user", "victim"); r.code != 0 && !strings.Contains(r.stderr, "no active session of user victim") {
				t.Fatalf("a second server-revoke --user victim: %s", r)
			}
			r = revoke("--user", "victim")
			if r.code != 1 || !strings.Contains(r.stderr, "no active session of user victim") {
				t.Fatalf("server-revoke --user victim with nothing left should exit 1 with \"no active session of user victim\": %s", r)
			}
			r = revoke("--profile", "no-such-profile")
			if r.code != 1 || !strings.Contains(r.stderr, "no active session of profile no-such-profile") {
				t.Fatalf("server-revoke --profile no-such-profile should exit 1: %s", r)
			}
			for _, id := range other {
				if s, err := bs.store.GetSession(context.Background(), id); err != nil || s.Status != ports.SessionActive {
					t.Fatalf("another user's session %s: %s, %v", id, s.Status, err)
				}
			}
		})
	}
}

// BenchmarkBulkRevokeDynamoDB revokes 1,000 sessions on DynamoDB Local the
// old way (one at a time, each revoke followed by its confirmation wait) and
// the command's way, in the same run, so the two figures compare:
//
//	go test -run '^$' -bench BulkRevoke -benchtime 1x ./cmd/sentinel/
func BenchmarkBulkRevokeDynamoDB(b *testing.B) { benchBulkRevoke(b, newDynamoBulkStore(b)) }

// BenchmarkBulkRevokeRedis is the same on Redis, where each confirmation
// is a pub/sub round trip (no server follows these sessions).
func BenchmarkBulkRevokeRedis(b *testing.B) { benchBulkRevoke(b, newRedisBulkStore(b)) }

func benchBulkRevoke(b *testing.B, bs bulkStore) {
	const n = 1000
	env := &Env{Stdout: &strings.Builder{}, Stderr: &syncWriter{w: &strings.Builder{}}, Clock: ports.SystemClock{}}
	ctx := context.Background()
	b.Run("one-at-a-time", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			user := "seq-" + randomName(b)
			ids := seedActive(b, bs.store, user, "bench", n)
			b.StartTimer()
			for _, id := range ids {
				s, err := session.UpdateWithRetry(ctx, bs.store, id, func(s ports.Session) (ports.Session, error) {
					return session.Revoke(s, "bench", "bench", env.Clock.Now())
				})
				if err != nil {
					b.Fatal(err)
				}
				announce(ctx, env, bs.store, s, 2*time.Second)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/1000-sessions")
	})
	b.Run("bulk", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			user := "bulk-" + randomName(b)
			seedActive(b, bs.store, user, "bench", n)
			b.StartTimer()
			cmd := &ServerRevokeCmd{User: user, Reason: "bench", AckTimeout: 2 * time.Second}
			if err := cmd.revokeAll(ctx, env, bs.store, "bench"); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(b.Elapsed().Seconds()/float64(b.N), "s/1000-sessions")
	})
}
