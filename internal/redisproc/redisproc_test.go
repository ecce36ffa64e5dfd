package redisproc

import (
	"context"
	"crypto/tls"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// The TLS server answers its ACL user over TLS, and only within its
// prefixes; the default user is off.
func TestStartTLS(t *testing.T) {
	s := StartTLS(t, TLSOptions{})
	ctx := t.Context()
	rc := redis.NewClient(&redis.Options{Addr: s.Addr, Username: s.User, Password: s.Password, TLSConfig: s.ClientTLS()})
	defer rc.Close()
	key := "{" + s.StorePrefix("x") + "}:k"
	if err := rc.Set(ctx, key, "v", 0).Err(); err != nil {
		t.Fatalf("SET %s as the ACL user: %v", key, err)
	}
	if err := rc.Set(ctx, "other:k", "v", 0).Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("SET outside the ACL's keys: %v, want NOPERM", err)
	}
	if err := rc.ConfigGet(ctx, "maxmemory-policy").Err(); err != nil {
		t.Errorf("CONFIG GET as the ACL user: %v", err)
	}
	if err := rc.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err(); err == nil || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("CONFIG SET as the ACL user: %v, want NOPERM", err)
	}
	anon := redis.NewClient(&redis.Options{Addr: s.Addr, TLSConfig: s.ClientTLS(), MaxRetries: -1})
	defer anon.Close()
	if err := anon.Ping(ctx).Err(); err == nil {
		t.Error("PING as the default user succeeded; it should be off")
	}
	plain := redis.NewClient(&redis.Options{Addr: s.Addr, Username: s.User, Password: s.Password, MaxRetries: -1})
	defer plain.Close()
	if err := plain.Ping(ctx).Err(); err == nil {
		t.Error("PING without TLS succeeded on the TLS port")
	}
}

// With ClientCerts the server refuses a client without a certificate.
func TestStartTLSClientCerts(t *testing.T) {
	s := StartTLS(t, TLSOptions{ClientCerts: true})
	ctx := t.Context()
	with := redis.NewClient(&redis.Options{Addr: s.Addr, Username: s.User, Password: s.Password, TLSConfig: s.ClientTLS()})
	defer with.Close()
	if err := with.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING with the client certificate: %v", err)
	}
	without := redis.NewClient(&redis.Options{Addr: s.Addr, Username: s.User, Password: s.Password, MaxRetries: -1,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: s.CA.Pool()}})
	defer without.Close()
	if err := without.Ping(ctx).Err(); err == nil {
		t.Error("PING without a client certificate succeeded")
	}
}

// The cluster has three masters that share the slots, and keys of one hash
// tag land on one node.
func TestStartCluster(t *testing.T) {
	c := StartCluster(t)
	if len(c.Addrs) != 3 {
		t.Fatalf("%d addresses, want 3", len(c.Addrs))
	}
	ctx := t.Context()
	cc := redis.NewClusterClient(&redis.ClusterOptions{Addrs: c.Addrs[:1]})
	defer cc.Close()
	var mu sync.Mutex
	masters := map[string]bool{}
	if err := cc.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		masters[n.Options().Addr] = true
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(masters) != 3 {
		t.Errorf("masters %v, want 3", masters)
	}
	if err := cc.MSet(ctx, "{a}:1", "x", "{a}:2", "y").Err(); err != nil {
		t.Errorf("MSET of one hash tag: %v", err)
	}
	if err := cc.MSet(ctx, "a1", "x", "b2", "y").Err(); err == nil {
		t.Error("MSET across slots succeeded; is it a cluster?")
	}
}
