package redisstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/conformance"
	"github.com/sentinel-gw/sentinel/internal/redisproc"
	"github.com/sentinel-gw/sentinel/internal/storeurl"
	"github.com/sentinel-gw/sentinel/internal/testca"
	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/ports"
)

// TestConformanceTLS runs the whole suite against a real redis-server that
// speaks only TLS, with a certificate of the test's own CA, as an ACL user
// limited to the store's keys and channels; every store is opened from a
// rediss:// URL with ?ca_file=, the way the CLI opens it.
func TestConformanceTLS(t *testing.T) {
	srv := redisproc.StartTLS(t, redisproc.TLSOptions{})
	conformance.Run(t, func(t *testing.T, clock ports.Clock) conformance.Backend {
		opts := tlsOptions(t, srv, srv.StorePrefix(newID()), "")
		return openedBackend(t, opts, opts, clock)
	}, conformance.Features{
		SharedHandles: true, CorruptInjection: true, Feed: conformance.FeedPush,
		Waivers: map[string]string{"FeedGaps": "cutting one subscription needs a proxy that reads the commands, " +
			"which TLS hides; the same feed code is cut and resumed in TestConformance on a plain port"},
	})
}

// A TLS server refuses what it should, and each refusal says the fix.
func TestTLSRefusals(t *testing.T) {
	srv := redisproc.StartTLS(t, redisproc.TLSOptions{})
	prefix := srv.StorePrefix(newID())
	clock := ports.SystemClock{}
	tests := []struct {
		name string
		opts func() Options
		says []string
	}{
		{"wrong password", func() Options {
			o := tlsOptions(t, srv, prefix, "")
			o.Password = "not-" + srv.Password
			return o
		}, []string{"refused sentinel's credentials", "check the user and password"}},
		{"a CA that did not sign the server's certificate", func() Options {
			other := testca.New(t, "another CA")
			o := tlsOptions(t, srv, prefix, "")
			o.TLSConfig.RootCAs = other.Pool()
			return o
		}, []string{"TLS certificate is not trusted", "ca_file"}},
		{"the system roots only", func() Options {
			return Options{Addr: srv.Addr, Username: srv.User, Password: srv.Password, TLS: true, Prefix: prefix}
		}, []string{"TLS certificate is not trusted", "ca_file"}},
		{"plain redis:// to the TLS port", func() Options {
			return Options{Addr: srv.Addr, Username: srv.User, Password: srv.Password, Prefix: prefix}
		}, []string{"closed the connection at the first command", "rediss://"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store, err := Open(t.Context(), tc.opts(), clock)
			if err == nil {
				_ = store.Close()
				t.Fatal("Open succeeded")
			}
			if !errors.Is(err, ports.ErrUnavailable) {
				t.Errorf("Open: %v, want ErrUnavailable", err)
			}
			for _, s := range append(tc.says, srv.Addr) {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Open: %v\nwant it to say %q", err, s)
				}
			}
			if strings.Contains(err.Error(), srv.Password) {
				t.Errorf("Open's error shows the password: %v", err)
			}
		})
	}
}

// rediss:// to a port that speaks plain Redis says so.
func TestTLSToPlainPort(t *testing.T) {
	plain, err := redis.ParseURL(testenv.Redis(t))
	if err != nil {
		t.Fatal(err)
	}
	// Redis reads a TLS hello as the start of an inline command and waits
	// for its end: the handshake times out (one dial and one read timeout).
	_, err = Open(t.Context(), Options{Addr: plain.Addr, TLS: true, Prefix: "tls-" + newID(), ReadTimeout: 500 * time.Millisecond},
		ports.SystemClock{})
	if !errors.Is(err, ports.ErrUnavailable) || !strings.Contains(err.Error(), "write redis:// for it") {
		t.Errorf("Open(rediss:// to a plain port) = %v; want ErrUnavailable saying to write redis://", err)
	}
}

// A server that wants client certificates takes the one cert_file and
// key_file name, and without one the error says to give it.
func TestTLSClientCertificate(t *testing.T) {
	srv := redisproc.StartTLS(t, redisproc.TLSOptions{ClientCerts: true})
	prefix := srv.StorePrefix(newID())
	with := tlsOptions(t, srv, prefix, "&cert_file="+url.QueryEscape(srv.ClientCertFile)+"&key_file="+url.QueryEscape(srv.ClientKeyFile))
	store := openWith(t, with, ports.SystemClock{})
	if _, err := store.GetSession(t.Context(), newID()); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("GetSession over TLS with a client certificate: %v, want ErrNotFound", err)
	}
	_, err := Open(t.Context(), tlsOptions(t, srv, prefix, ""), ports.SystemClock{})
	if !errors.Is(err, ports.ErrUnavailable) || !strings.Contains(err.Error(), "cert_file") {
		t.Errorf("Open without a client certificate = %v; want ErrUnavailable naming cert_file", err)
	}
}

// tlsOptions are the Options the CLI opens for the TLS server's rediss://
// URL with ?ca_file= (and extra, "&k=v..."), with the test timeouts.
func tlsOptions(t testing.TB, srv *redisproc.TLSServer, prefix, extra string) Options {
	t.Helper()
	raw := "rediss://" + url.UserPassword(srv.User, srv.Password).String() + "@" + srv.Addr +
		"?prefix=" + prefix + "&ca_file=" + url.QueryEscape(srv.CAFile) + extra
	spec, err := storeurl.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := spec.RedisTLS()
	if err != nil {
		t.Fatal(err)
	}
	return Options{
		Addr: spec.Addr, Username: spec.Username, Password: spec.Password, TLS: spec.TLS, TLSConfig: cfg,
		Cluster: spec.Cluster, Prefix: spec.Prefix, ReadTimeout: testTimeout, WriteTimeout: testTimeout,
	}
}

// openWith opens a Store with opts that is closed when t ends.
func openWith(t testing.TB, opts Options, clock ports.Clock) *Store {
	t.Helper()
	s, err := Open(t.Context(), opts, clock)
	if err != nil {
		t.Fatalf("Open(%s, prefix %s): %v", opts.Addr, opts.Prefix, err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// openedBackend is the suite's Backend for a store opened with opts, whose
// second handle opens with another (the same store, perhaps by another
// way); foreign data goes in through the store's own client.
func openedBackend(t *testing.T, opts, another Options, clock ports.Clock) conformance.Backend {
	t.Helper()
	store := openWith(t, opts, clock)
	return conformance.Backend{
		Store: store, Approvals: store, BreakGlass: store, Locks: store,
		OpenAnother:      func(t *testing.T) ports.SessionStore { return openWith(t, another, clock) },
		PutCorruptRecord: putCorruptThrough(store),
	}
}

// putCorruptThrough writes foreign data for the suite with store's own
// client, on the node that holds the key (any server: TLS, a cluster).
func putCorruptThrough(store *Store) func(t *testing.T, kind conformance.Kind, id string) {
	var n atomic.Int64
	return func(t *testing.T, kind conformance.Kind, id string) {
		t.Helper()
		if kind == conformance.KindLock {
			node := nodeFor(t, store, store.locksKey())
			if err := node.HSet(t.Context(), store.locksKey(), id, `{"v":1,"lock":{"id":`).Err(); err != nil {
				t.Fatalf("write a foreign lock at %s: %v", id, err)
			}
			return
		}
		key := recordKeyOf(t, store, kind, id)
		foreign := corruptKinds[n.Add(1)%int64(len(corruptKinds))]
		if err := foreign.write(t.Context(), nodeFor(t, store, key), key); err != nil {
			t.Fatalf("write %s at %s: %v", foreign.name, key, err)
		}
	}
}

// nodeFor is the client of the server that holds key.
func nodeFor(t *testing.T, store *Store, key string) *redis.Client {
	t.Helper()
	switch c := store.client.(type) {
	case *redis.Client:
		return c
	case *redis.ClusterClient:
		node, err := c.MasterForKey(t.Context(), key)
		if err != nil {
			t.Fatalf("the cluster node of %s: %v", key, err)
		}
		return node
	}
	t.Fatalf("unknown client %T", store.client)
	return nil
}

// firstReachError names the fix for each way a first PING fails.
func TestFirstReachError(t *testing.T) {
	tests := []struct {
		name   string
		useTLS bool
		err    error
		says   string
	}{
		{"untrusted", true, &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}, "?ca_file="},
		{"not TLS", true, tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, "write redis:// for a plain port"},
		{"no client certificate", true, errors.New("remote error: tls: certificate required"), "?cert_file="},
		{"TLS timeout", true, context.DeadlineExceeded, "write redis:// for it"},
		{"plain port closed", false, io.EOF, "write rediss://"},
		{"plain port reset", false, syscall.ECONNRESET, "write rediss://"},
		{"plain timeout", false, context.DeadlineExceeded, "is redis-server running?"},
		{"refused", true, syscall.ECONNREFUSED, "is redis-server running?"},
	}
	for _, tc := range tests {
		err := firstReachError("h:1", tc.useTLS, tc.err)
		if !errors.Is(err, ports.ErrUnavailable) || !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: %v; want ErrUnavailable wrapping %v and saying %q", tc.name, err, tc.err, tc.says)
		}
	}
}
