package faults

import (
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/tcpproxy"
	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/internal/testkit"
)

// The promise of docs/revocation.md: no credential request that starts
// after server-revoke returned is served, also when the revoke cannot reach
// the server over the change feed. These tests take the feed away in ways
// the server does not notice at once.

// revokeServerFlags: a loaded server, no feature besides the session.
var revokeServerFlags = []string{"--profile", "dev", "--no-session", "--identity-source", "os"}

// revokeUnderLoad revokes ls's session while its child is under load and
// checks that server-revoke said says and that nothing that started after
// it returned was served. then, when set, runs while the server still runs.
func revokeUnderLoad(t *testing.T, sb *sandbox, ls *loadServer, says string, then func()) {
	t.Helper()
	ls.waitServed(t, time.Time{}, 200, 20, commandTimeout)
	// A generous --ack-timeout: on a loaded machine a confirmation through
	// DynamoDB Local can take longer than the default 2s.
	p := sb.start(nil, "server-revoke", ls.session, "--reason", "fault test: the feed cannot reach the server", "--ack-timeout", "10s")
	r := p.wait(commandTimeout)
	returned := p.exitedAt
	if r.code != 0 {
		t.Fatalf("server-revoke: %s", r)
	}
	if !strings.Contains(r.stderr, says) {
		t.Errorf("server-revoke said %q, want %q", r.stderr, says)
	}
	ls.waitServed(t, returned, 403, 20, 10*time.Second)
	if then != nil {
		then()
	}
	ls.askStop(t)
	all := ls.requests(t)
	before := cut(all, "before the revoke returned", time.Unix(0, all[0].Start), returned)
	after := cut(all, "after the revoke returned", returned, time.Unix(0, all[len(all)-1].End+1))
	t.Logf("%s\n%s", before.summary(), after.summary())
	after.requireSome(t, ls.name, 20)
	after.onlyStatus(t, ls.name, 403, "SessionRevoked")
}

// The server runs in a network namespace of its own, so the revoker cannot
// see the bbolt feed's abstract socket: nobody hears the announcement.
// Not hearing is no proof that nothing serves; server-revoke waits out the
// bound within which any live server re-reads the store.
func TestRevokeReachesAServerInAnotherNetworkNamespace(t *testing.T) {
	t.Parallel()
	if out, err := exec.Command("unshare", "--net", "--", "ip", "link", "set", "lo", "up").CombinedOutput(); err != nil {
		testenv.Need(t, "cannot run a process in a network namespace of its own (unshare --net needs root; CI runs as root): %v: %s", err, out)
	}
	sb := newSandbox(t)
	ls := sb.startLoadServer(serverOptions{
		name: "netns", flags: revokeServerFlags, workers: 2, pause: time.Millisecond,
		// The child shares the namespace, and reaches the server on its loopback.
		wrap: []string{"unshare", "--net", "--", "sh", "-c", `ip link set lo up && exec "$@"`, "sh"},
	})
	revokeUnderLoad(t, sb, ls, "no running server heard the change feed", nil)
}

// Redis dropped the server's subscription while the server's socket stays
// open (a half-closed connection behind a proxy: PUBLISH finds no
// subscriber, the server hears nothing). server-revoke gets no listener and
// waits out the re-read bound; the server notices the dead subscription by
// its unanswered PINGs and stops trusting its memory.
func TestRevokeWithTheRedisSubscriptionHalfClosed(t *testing.T) {
	t.Parallel()
	redis := newRedisServer(t)
	proxy := tcpproxy.New(t, redis.addr())
	sb := newSandbox(t)
	sb.store = "redis://" + proxy.Addr() + "/0"
	ls := sb.startLoadServer(serverOptions{name: "redis-half-closed", flags: revokeServerFlags, workers: 2, pause: time.Millisecond})
	ls.waitServed(t, time.Time{}, 200, 20, commandTimeout)
	// Only the server's feed subscription: the revoker's announcement and
	// every store command still get through.
	if n := proxy.Silence(tcpproxy.Contains("subscribe", ":feed:")); n != 1 {
		t.Fatalf("silenced %d feed subscriptions, want the server's 1", n)
	}
	revokeUnderLoad(t, sb, ls, "no running server heard the change feed", func() {
		testkit.Eventually(t, 10*time.Second, "the server reporting its feed lost", func() bool {
			return strings.Contains(ls.proc.readStderr(), "session feed lost")
		})
	})
}

// DynamoDB has no feed: a server polling its session every second (the
// cap) confirms the revoke through the record at its next poll, and
// server-revoke waits for that, not for the default poll's bound.
func TestRevokeDynamoDBServerPollingSlowly(t *testing.T) {
	t.Parallel()
	sb := newDynamoLocal(t).sandbox(t, "revoke")
	ls := sb.startLoadServer(serverOptions{
		name: "dynamodb-poll-1s", flags: append(append([]string{}, revokeServerFlags...), "--revocation-poll", "1s"),
		workers: 2, pause: time.Millisecond,
	})
	revokeUnderLoad(t, sb, ls, "the running server confirmed it refuses from now on", nil)
	if s := sb.session(ls.session); s.RevocationPoll != time.Second {
		t.Errorf("the session records a revocation poll of %s, want the server's 1s", s.RevocationPoll)
	}
}
