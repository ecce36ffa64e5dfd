package redisstore

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/ports"
)

// The policies of Redis 7 and what Open must do with each.
var policies = []struct {
	policy string
	safe   bool
}{
	{"noeviction", true},
	{"volatile-lru", true},
	{"volatile-lfu", true},
	{"volatile-random", true},
	{"volatile-ttl", true},
	{"allkeys-lru", false},
	{"allkeys-lfu", false},
	{"allkeys-random", false},
}

func TestEvictionSafe(t *testing.T) {
	t.Parallel()
	for _, p := range policies {
		if got := evictionSafe(p.policy); got != p.safe {
			t.Errorf("evictionSafe(%q) = %v, want %v", p.policy, got, p.safe)
		}
	}
	// A policy a later Redis may add is refused until someone reads what it does.
	for _, unknown := range []string{"", "allkeys-lrm", "NOEVICTION", "evict-everything"} {
		if evictionSafe(unknown) {
			t.Errorf("evictionSafe(%q) = true, want an unknown policy refused", unknown)
		}
	}
}

// privateRedis starts a redis-server of this test alone, since the tests
// change its configuration; the binary comes from SENTINEL_REDIS_SERVER_BIN
// or PATH. It returns the address.
func privateRedis(t *testing.T) string {
	t.Helper()
	bin := testenv.RedisServerBin(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	_ = ln.Close()
	cmd := exec.Command(bin, "--bind", "127.0.0.1", "--port", strconv.Itoa(port),
		"--save", "", "--appendonly", "no", "--dir", t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatalf("start redis-server: %v", err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(t.Context()).Err() != nil {
		if time.Now().After(deadline) {
			t.Fatalf("redis-server on %s does not answer", addr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return addr
}

// configSet sets one parameter through a plain client.
func configSet(t *testing.T, addr, key, value string) {
	t.Helper()
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	if err := c.ConfigSet(t.Context(), key, value).Err(); err != nil {
		t.Fatalf("CONFIG SET %s %s: %v", key, value, err)
	}
}

func TestOpenRefusesAnEvictingMaxmemoryPolicy(t *testing.T) {
	t.Parallel()
	addr := privateRedis(t)
	for _, p := range policies {
		configSet(t, addr, "maxmemory-policy", p.policy)
		s, err := Open(t.Context(), Options{Addr: addr}, ports.NewFakeClock(testStart))
		if p.safe {
			if err != nil {
				t.Errorf("Open with maxmemory-policy %s: %v", p.policy, err)
				continue
			}
			_ = s.Close()
			continue
		}
		if err == nil {
			_ = s.Close()
			t.Errorf("Open with maxmemory-policy %s succeeded; it may evict sentinel's keys", p.policy)
			continue
		}
		msg := err.Error()
		if !errors.Is(err, ports.ErrInvalidArgument) || !strings.Contains(msg, "maxmemory-policy "+p.policy) ||
			!strings.Contains(msg, "noeviction") || !strings.Contains(msg, addr) {
			t.Errorf("Open with maxmemory-policy %s = %v; want ErrInvalidArgument naming the server, the policy and the fix", p.policy, err)
		}
	}
}

// A user whose ACL forbids CONFIG can still open the store: the check is
// skipped, since it cannot be made.
func TestOpenWithoutConfigPermission(t *testing.T) {
	t.Parallel()
	addr := privateRedis(t)
	configSet(t, addr, "maxmemory-policy", "allkeys-lru")
	admin := redis.NewClient(&redis.Options{Addr: addr})
	defer admin.Close()
	const user, password = "sentinel-noconfig", "pw-not-printed"
	if err := admin.Do(t.Context(), "ACL", "SETUSER", user, "on", ">"+password, "~*", "&*", "+@all", "-config").Err(); err != nil {
		t.Fatalf("ACL SETUSER: %v", err)
	}
	s, err := Open(t.Context(), Options{Addr: addr, Username: user, Password: password}, ports.NewFakeClock(testStart))
	if err != nil {
		t.Fatalf("Open as a user without CONFIG: %v", err)
	}
	defer s.Close()
	if _, err := s.CreateSession(t.Context(), activeSession(newID(), "alice", testStart)); err != nil {
		t.Fatalf("CreateSession as a user without CONFIG: %v", err)
	}
}

// The volatile-* policies are accepted only because sentinel never sets a
// TTL: every key a full round of writes leaves behind has none.
func TestSentinelKeysCarryNoTTL(t *testing.T) {
	t.Parallel()
	url := testenv.Redis(t)
	prefix := newPrefix(t, url)
	clock := ports.NewFakeClock(testStart)
	store := openStore(t, url, prefix, clock)
	ctx := t.Context()
	live, lapsing := activeSession(newID(), "alice", testStart), activeSession(newID(), "bob", testStart)
	lapsing.ExpiresAt = testStart.Add(time.Second)
	for _, s := range []ports.Session{live, lapsing} {
		if _, err := store.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	touched, err := store.TouchSession(ctx, live.ID, testStart.Add(time.Millisecond), 1)
	if err != nil {
		t.Fatal(err)
	}
	touched.Status, touched.RevokedBy, touched.RevokedReason, touched.RevokedAt = ports.SessionRevoked, "sec", "r", testStart
	if _, err := store.UpdateSession(ctx, touched); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Minute)
	if n, err := store.ExpireLapsedSessions(ctx, clock.Now()); err != nil || n != 1 {
		t.Fatalf("ExpireLapsedSessions = %d, %v", n, err)
	}
	if _, err := store.CreateRequest(ctx, pendingRequest(newID(), "alice", testStart)); err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateBreakGlass(ctx, activeEvent(newID(), "alice", "prod", testStart)); err != nil {
		t.Fatal(err)
	}

	c := rawClient(t, url)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	iter := c.Scan(ctx, 0, "{"+prefix+"}:*", 100).Iterator()
	n := 0
	for iter.Next(ctx) {
		n++
		ttl, err := c.PTTL(ctx, iter.Val()).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl != -1 {
			t.Errorf("key %s has a TTL (%s): a volatile-* policy could evict it; refuse those policies too (evictionSafe)", iter.Val(), ttl)
		}
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	if n < 10 {
		t.Fatalf("found %d keys under the prefix, want the records and indexes of two sessions, a request and an event", n)
	}
}
