package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/sentinel-gw/sentinel/adapters/awscreds"
	"github.com/sentinel-gw/sentinel/adapters/brokerhttp"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/ports"
)

// Three broker replicas on one shared store (Redis; DynamoDB Local): a
// session opened through the first, revoked by an admin through the second,
// is refused by all three at the next request. The replicas share nothing
// but the store.
func TestTeamModeReplicasHonourARevoke(t *testing.T) {
	t.Parallel()
	for _, backend := range []struct {
		name  string
		store func(t testing.TB) bulkStore
	}{
		{"redis", newRedisBulkStore},
		{"dynamodb", newDynamoBulkStore},
	} {
		t.Run(backend.name, func(t *testing.T) {
			t.Parallel()
			w := newTeamWorld(t)
			shared := backend.store(t)
			// DynamoDB Local keeps tables per access key: the brokers use the test's.
			w.brokerEnv = shared.env
			store := shared.url
			replicas := []*teamBrokerProc{w.startBroker(store, teamPolicy), w.startBroker(store, teamPolicy), w.startBroker(store, teamPolicy)}

			records := filepath.Join(t.TempDir(), "alice.jsonl")
			arm := filepath.Join(t.TempDir(), "revoked")
			p, sid := w.startLoopAs(teamAlice, replicas[0], "dev", records, arm)
			waitRecord(t, records, "alice served through the first replica", func(r requestRecord) bool { return r.OK })

			// The third replica, which never saw the session, serves it too.
			third := aliceClient(t, w, replicas[2])
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if _, err := third.SessionCredentials(ctx, ports.SessionCredentialsInput{SessionID: sid}); err != nil {
				t.Fatalf("the third replica refused a live session: %v", err)
			}

			w.mustAs(teamCarol, replicas[1], "server-revoke", sid, "--reason", "incident")
			revoked := time.Now()
			if _, err := third.SessionCredentials(ctx, ports.SessionCredentialsInput{SessionID: sid}); !errors.As(err, new(*gateway.RevokedError)) {
				t.Errorf("the third replica after the revoke: %v, want the session revoked", err)
			}
			if err := os.WriteFile(arm, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			if r := p.wait(60 * time.Second); r.code != 0 {
				t.Fatalf("sentinel exec: %s", r)
			}
			if n := noneServedAfter(t, records, revoked, "the revoke through the second replica returned"); n < 30 {
				t.Errorf("only %d requests through the first replica after the revoke", n)
			}
		})
	}
}

// aliceClient is an in-process broker client that signs with alice's keys.
func aliceClient(t *testing.T, w *teamWorld, b *teamBrokerProc) *brokerhttp.Client {
	t.Helper()
	creds := credentials.NewStaticCredentialsProvider(teamAlice.keyID, teamAlice.secret, "")
	signer := awscreds.NewCallerSigner(creds, "us-east-1", w.sts.URL(), "127.0.0.1", ports.SystemClock{})
	c, err := brokerhttp.NewClient(brokerhttp.ClientConfig{URL: b.url, Signer: signer, CAFile: w.tls.CA})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
