package dynamo

import (
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/conformance"
	"github.com/sentinel-gw/sentinel/internal/testca"
	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/ports"
)

// tlsProxy serves the test DynamoDB Local over HTTPS, with a certificate
// for 127.0.0.1 that a CA of the test's own signed (DynamoDB Local speaks
// only HTTP). It returns the proxy's https:// URL and the CA.
func tlsProxy(t *testing.T) (string, *testca.CA) {
	t.Helper()
	target, err := url.Parse(testenv.DynamoDBEndpoint(t))
	if err != nil {
		t.Fatal(err)
	}
	ca := testca.New(t, "sentinel test DynamoDB CA")
	proxy := httputil.NewSingleHostReverseProxy(target)
	// A transport of its own: nothing else in the test binary closes its
	// connections to DynamoDB Local.
	proxy.Transport = http.DefaultTransport.(*http.Transport).Clone()
	srv := httptest.NewUnstartedServer(proxy)
	srv.TLS = &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{ca.Server(t, "127.0.0.1").TLS}}
	// Refused handshakes are what some tests want; they need no log line.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL, ca
}

// isolateAWSEnv gives Open an SDK default chain with test credentials and
// nothing of the machine's AWS setup; it returns the config file path it
// points AWS_CONFIG_FILE at. Not for parallel tests: it sets environment
// variables.
func isolateAWSEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	config := filepath.Join(dir, "config")
	for k, v := range map[string]string{
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test", "AWS_SESSION_TOKEN": "",
		"AWS_PROFILE": "", "AWS_REGION": "", "AWS_DEFAULT_REGION": "", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CA_BUNDLE":               "",
		"AWS_CONFIG_FILE":             config,
		"AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
	} {
		t.Setenv(k, v)
	}
	return config
}

// TestConformanceTLS runs the whole suite through Open against DynamoDB
// Local behind a TLS proxy, trusting the proxy's CA through a CA bundle
// only (the system roots do not hold it). Not parallel itself: it sets
// environment variables; its subtests are.
func TestConformanceTLS(t *testing.T) {
	endpoint, ca := tlsProxy(t)
	isolateAWSEnv(t)
	plain := testClient(t)
	conformance.Run(t, func(t *testing.T, clock ports.Clock) conformance.Backend {
		t.Helper()
		table := newTestTable(t, plain)
		opts := Options{Table: table, Region: "us-east-1", Endpoint: endpoint, CABundle: ca.PEM}
		open := func(t *testing.T) *Store {
			store, err := Open(t.Context(), opts, clock)
			if err != nil {
				t.Fatalf("Open through the TLS proxy: %v", err)
			}
			return store
		}
		store := open(t)
		return conformance.Backend{
			Store: store, Approvals: store, BreakGlass: store, Locks: store,
			OpenAnother: func(t *testing.T) ports.SessionStore { return open(t) },
			PutCorruptRecord: func(t *testing.T, kind conformance.Kind, id string) {
				t.Helper()
				tables := map[conformance.Kind]string{
					conformance.KindSession: store.table, conformance.KindRequest: store.requestsTable,
					conformance.KindBreakGlass: store.eventsTable, conformance.KindLock: store.locksTable(),
				}
				putForeign(t, plain, tables[kind], id)
			},
		}
	}, conformance.Features{
		SharedHandles: true, CorruptInjection: true, Feed: conformance.FeedPoll,
		Waivers: map[string]string{"FeedGaps": "poll mode: the server reads the table on its poll bound, there is no feed to lose"},
	})
}

// Without a CA bundle that holds the endpoint's CA, the first call is
// refused with an error that says how to give one; AWS_CA_BUNDLE and a
// profile's ca_bundle are honoured like the option, and the option wins
// over them. Not parallel: it sets environment variables.
func TestCABundle(t *testing.T) {
	endpoint, ca := tlsProxy(t)
	config := isolateAWSEnv(t)
	table := newTestTable(t, testClient(t))
	dir := t.TempDir()
	caFile := testca.WriteFile(t, dir, "ca.pem", ca.PEM)
	otherFile := testca.WriteFile(t, dir, "other.pem", testca.New(t, "another CA").PEM)
	clock := ports.NewFakeClock(testNow)
	id := randomHex(16)

	get := func(t *testing.T, bundle []byte) error {
		t.Helper()
		store, err := Open(t.Context(), Options{Table: table, Region: "us-east-1", Endpoint: endpoint, CABundle: bundle}, clock)
		if err != nil {
			return err
		}
		_, err = store.GetSession(t.Context(), id)
		return err
	}
	refused := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, ports.ErrUnavailable) || !strings.Contains(err.Error(), "TLS certificate is not trusted") ||
			!strings.Contains(err.Error(), "?ca_bundle=") {
			t.Errorf("GetSession = %v; want ErrUnavailable saying the certificate is not trusted and naming ?ca_bundle=", err)
		}
	}
	trusted := func(t *testing.T, err error) {
		t.Helper()
		if !errors.Is(err, ports.ErrNotFound) {
			t.Errorf("GetSession of a missing id = %v, want ErrNotFound (the call went through)", err)
		}
	}

	t.Run("no bundle", func(t *testing.T) { refused(t, get(t, nil)) })
	t.Run("another CA's bundle", func(t *testing.T) { refused(t, get(t, testca.New(t, "another CA").PEM)) })
	t.Run("the option", func(t *testing.T) { trusted(t, get(t, ca.PEM)) })
	t.Run("AWS_CA_BUNDLE", func(t *testing.T) {
		t.Setenv("AWS_CA_BUNDLE", caFile)
		trusted(t, get(t, nil))
	})
	t.Run("the option wins over AWS_CA_BUNDLE", func(t *testing.T) {
		t.Setenv("AWS_CA_BUNDLE", otherFile)
		trusted(t, get(t, ca.PEM))
		refused(t, get(t, nil))
	})
	t.Run("the profile's ca_bundle", func(t *testing.T) {
		if err := os.WriteFile(config, []byte("[default]\nca_bundle = "+caFile+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = os.Remove(config) })
		trusted(t, get(t, nil))
	})
	t.Run("with Options.HTTPClient", func(t *testing.T) {
		_, err := Open(t.Context(), Options{Table: table, Region: "us-east-1", Endpoint: endpoint, CABundle: ca.PEM,
			HTTPClient: &http.Client{}}, clock)
		if !errors.Is(err, ports.ErrInvalidArgument) {
			t.Errorf("Open with a CA bundle and an HTTP client = %v, want ErrInvalidArgument", err)
		}
	})
}
