package corrupt

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"
	"github.com/redis/go-redis/v9"
	bbolt "go.etcd.io/bbolt"

	"github.com/sentinel-gw/sentinel/internal/e2e"
	"github.com/sentinel-gw/sentinel/internal/testkit"
)

// The session record deleted behind the server's back (a Redis DEL, a
// DynamoDB DeleteItem, a bbolt key removed), on every backend.

// missingMessage starts what a deny server says while its record is missing;
// recreatedLog is the server's one log line per write-back.
const (
	missingMessage = "session record missing from the store"
	recreatedLog   = "session record was missing from the store; recreated it"
)

// restoreBound is how soon the server must have written its record back:
// its next read (a resync, 250ms; a DynamoDB poll, 50ms) finds it missing
// and writes it back at once. The slack covers a loaded 2-core machine under
// the race detector; it stays well below the 20s heartbeat that used to be
// the only repair.
const restoreBound = 8 * time.Second

type deleteCase struct {
	backend string
	store   func(t *testing.T) (storeURL string, remove func(t *testing.T, id string))
}

// restoreFile puts an empty bbolt store back where the file was removed, as
// an operator would: a running server never creates a file deleted under it
// (that would be a new, empty store it cannot tell from the real one), so
// until then its requests meet an unavailable store, and only its memory of
// an end refuses. Other cases have nothing to restore.
func (tc deleteCase) restoreFile(t *testing.T, q *quietServer) {
	t.Helper()
	if tc.backend == "bolt-file-removed" {
		q.sb.mustRun("store", "init")
	}
}

// onEachBackend runs test on every backend, in parallel.
func onEachBackend(t *testing.T, test func(t *testing.T, tc deleteCase)) {
	for _, tc := range deleteCases() {
		t.Run(tc.backend, func(t *testing.T) {
			t.Parallel()
			test(t, tc)
		})
	}
}

func deleteCases() []deleteCase {
	return []deleteCase{
		{"bolt", boltEdit(func(b *bbolt.Bucket, key []byte) error { return b.Delete(key) })},
		{"bolt-file-removed", func(t *testing.T) (string, func(*testing.T, string)) {
			path := filepath.Join(t.TempDir(), "store", "sentinel.db")
			return "bolt://" + path, func(t *testing.T, _ string) {
				t.Helper()
				if err := os.Remove(path); err != nil {
					t.Fatalf("remove the store file: %v", err)
				}
			}
		}},
		{"redis", redisStore(func(ctx context.Context, c *redis.Client, key string) error { return c.Del(ctx, key).Err() })},
		{"dynamodb", dynamoChange(func(ctx context.Context, client *dynamodb.Client, table string, item map[string]types.AttributeValue) error {
			_, err := client.DeleteItem(ctx, &dynamodb.DeleteItemInput{TableName: aws.String(table),
				Key: map[string]types.AttributeValue{"id": item["id"]}})
			return err
		})},
	}
}

// quietServer is a running `sentinel exec --server` whose child makes no
// request: it hands its endpoint to the test, which asks only when it means to.
type quietServer struct {
	sb        *sandbox
	proc      *process
	id        string
	uri, auth string
	client    *http.Client
}

func startQuietServer(t *testing.T, tc deleteCase, onStoreError string) (*quietServer, func(*testing.T, string)) {
	t.Helper()
	storeURL, remove := tc.store(t)
	sb := newSandbox(t, storeURL)
	if tc.backend == "dynamodb" {
		sb.mustRun("store", "init")
	}
	endpoint := filepath.Join(sb.dir, "endpoint")
	script := `printf '%s\n%s\n' "$AWS_CONTAINER_CREDENTIALS_FULL_URI" "$AWS_CONTAINER_AUTHORIZATION_TOKEN" > "$SENTINEL_TEST_ENDPOINT.tmp" && mv "$SENTINEL_TEST_ENDPOINT.tmp" "$SENTINEL_TEST_ENDPOINT" && exec sleep 300`
	proc := sb.start(map[string]string{"SENTINEL_TEST_ENDPOINT": endpoint},
		"exec", "--server", "--profile", profile, "--no-session", "--identity-source", "os",
		"--policy", sb.policy, "--on-store-error", onStoreError, "--", "/bin/sh", "-c", script)
	q := &quietServer{sb: sb, proc: proc, client: &http.Client{Timeout: 5 * time.Second}}
	testkit.Eventually(t, 30*time.Second, "the server's session id and the child's endpoint", func() bool {
		if proc.exited() {
			t.Fatalf("sentinel exited before serving: %s", proc.wait(time.Second))
		}
		if m := sessionLine.FindStringSubmatch(proc.stderr.String()); m != nil {
			q.id = m[1]
		}
		data, err := os.ReadFile(endpoint)
		if err != nil {
			return false
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) == 2 {
			q.uri, q.auth = lines[0], lines[1]
		}
		return q.id != "" && q.uri != ""
	})
	if f := q.fetch(); !f.served() {
		t.Fatalf("first request: %+v, want served", f)
	}
	return q, remove
}

func (q *quietServer) fetch() fetch { return fetchOnce(q.client, q.uri, q.auth) }

// status is the session's stored status, "" while its record is missing.
func (q *quietServer) status(t *testing.T) string {
	t.Helper()
	r := q.sb.run("server-session", q.id, "--output", "json")
	if r.code != 0 {
		// Not written back yet: the record, or (bbolt) the whole file.
		if strings.Contains(r.stderr, "no session with id") || strings.Contains(r.stderr, "no store at") {
			return ""
		}
		t.Fatalf("server-session %s: %s", q.id, r)
	}
	var s struct{ Status string }
	if err := json.Unmarshal([]byte(r.stdout), &s); err != nil {
		t.Fatalf("server-session %s -o json: %v\n%s", q.id, err, r.stdout)
	}
	return s.Status
}

func (q *quietServer) revoke(t *testing.T, reason string) result {
	t.Helper()
	r := q.sb.run("server-revoke", q.id, "--reason", reason, "--identity-source", "os", "--ack-timeout", "10s")
	if r.code != 0 {
		t.Fatalf("server-revoke %s: %s", q.id, r)
	}
	return r
}

// #11.1: a revoke the server acknowledged (or, on DynamoDB, read by its
// poll) stays refused after the record is deleted, with no request between
// the revoke and the deletion; the record comes back revoked, never active.
func TestARevokeSurvivesTheDeletionOfTheRecord(t *testing.T) {
	onEachBackend(t, func(t *testing.T, tc deleteCase) {
		q, remove := startQuietServer(t, tc, "allow")
		r := q.revoke(t, "laptop stolen")
		if tc.backend == "dynamodb" {
			// No feed confirms it: give the 50ms poll ample time, still
			// without a request.
			time.Sleep(time.Second)
		} else if !strings.Contains(r.stderr, "confirmed") {
			t.Fatalf("server-revoke did not have the server's confirmation: %s", r)
		}
		remove(t, q.id)
		deleted := time.Now()
		// Still no request: let the server's resync reads (or polls) find
		// the record gone first, so only its memory can refuse.
		time.Sleep(time.Second)
		for i := range 5 {
			f := q.fetch()
			if f.Status != http.StatusForbidden || f.Code != "SessionRevoked" || !strings.Contains(f.Message, "laptop stolen") {
				t.Fatalf("request %d, %s after the record was deleted: %+v; want 403 SessionRevoked", i, time.Since(deleted), f)
			}
			time.Sleep(100 * time.Millisecond)
		}
		tc.restoreFile(t, q)
		var st string
		testkit.Eventually(t, restoreBound, "the record written back", func() bool {
			st = q.status(t)
			if st == "active" {
				t.Fatalf("the record was written back active")
			}
			return st != ""
		})
		if st != "revoked" {
			t.Fatalf("written back %s, want revoked", st)
		}
		if f := q.fetch(); f.served() {
			t.Fatalf("served after the record came back: %+v", f)
		}
	})
}

// #18.1: a deleted record is a store fault. The server writes it back at
// once (not at its next heartbeat, 20s away), logs the episode once, and
// under deny never serves while it is missing: any refusal says so.
func TestADeletedRecordIsWrittenBackAtOnce(t *testing.T) {
	onEachBackend(t, func(t *testing.T, tc deleteCase) {
		q, remove := startQuietServer(t, tc, "deny")
		remove(t, q.id)
		tc.restoreFile(t, q)
		deleted := time.Now()
		var fetches []fetch
		testkit.Eventually(t, restoreBound, "the record written back", func() bool {
			fetches = append(fetches, q.fetch())
			return q.status(t) == "active"
		})
		t.Logf("written back within %s; %d requests meanwhile", time.Since(deleted).Round(time.Millisecond), len(fetches))
		for _, f := range fetches {
			if f.served() {
				continue
			}
			// A removed bbolt file is a missing store until it is restored:
			// a read that met it then is refused as unavailable, which is
			// as right under deny as the missing record that follows.
			storeGone := tc.backend == "bolt-file-removed" && f.Code == "StoreUnavailable"
			if f.Status != http.StatusServiceUnavailable || !strings.HasPrefix(f.Message, missingMessage) && !storeGone {
				t.Errorf("refusal %d %s %q: want 503 %q...", f.Status, f.Code, f.Message, missingMessage)
			}
		}
		for i := range 20 {
			if f := q.fetch(); !f.served() {
				t.Fatalf("request %d once the record is back: %+v", i, f)
			}
		}
		logged := func() int { return strings.Count(q.proc.stderr.String(), recreatedLog) }
		testkit.Eventually(t, restoreBound, "the write-back logged", func() bool { return logged() >= 1 })
		if n := logged(); n != 1 {
			t.Errorf("the server logged the missing record %d times, want once:\n%s", n, q.proc.stderr.String())
		}
	})
}

// #18.1: server-revoke with a full id revokes even while the record is
// missing: it writes a revoked record, which the server reads and refuses on.
func TestARevokeByFullIDWorksWithTheRecordMissing(t *testing.T) {
	onEachBackend(t, func(t *testing.T, tc deleteCase) {
		q, remove := startQuietServer(t, tc, "allow")
		remove(t, q.id)
		// The server writes its record back within a resync: whichever
		// lands first, the revoke must hold.
		q.revoke(t, "record gone, revoke anyway")
		testkit.Eventually(t, restoreBound, "the revoke to be refused", func() bool {
			f := q.fetch()
			return f.Status == http.StatusForbidden && f.Code == "SessionRevoked"
		})
		if st := q.status(t); st != "revoked" {
			t.Fatalf("stored status %q, want revoked", st)
		}

		// With no server to write it back, the missing path for certain.
		e2e.KillProcessGroup(q.proc.cmd.Process)
		<-q.proc.done
		remove(t, q.id)
		r := q.revoke(t, "second revoke of a missing record")
		if !strings.Contains(r.stdout, "no record was in the store") {
			t.Errorf("server-revoke did not say the record was missing: %s", r)
		}
		if st := q.status(t); st != "revoked" {
			t.Fatalf("stored status %q after revoking a missing record, want revoked", st)
		}
	})
}
