package faults

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

// latencyBound is what every credential request must finish within while a
// store is away: gateway.StoreBudget (1.5 s) bounds the store work of a
// request; the rest is slack for a loaded machine and the race detector.
const latencyBound = 2500 * time.Millisecond

// knownBugLatency is the most a request takes through the known View.read
// bug (StoreBudget, then the 2 s read it starts, plus slack): a request slower
// than this is a failure of its own.
const knownBugLatency = 4 * time.Second

// viewReadBug and feedTrustBug describe bugs in core/session/view.go that
// these tests find; see knownBugs.
const (
	viewReadBug = "core/session/view.go View.read: the request that starts a store read runs it with its own " +
		"2 s readTimeout (context.WithoutCancel), after it may already have waited for an earlier read, so it " +
		"ignores its StoreBudget (1.5 s) deadline; fix: run the shared read in a goroutine and have every caller, " +
		"the starter included, wait with f.wait(ctx)"
	feedTrustBug = "core/session/view.go View.handle: when the re-read after FeedResumed fails (here, right after " +
		"Redis restarts, with connection refused), feedWhole is never set again, so the server " +
		"reads the store on every request until the next disconnect; fix: retry the re-read (e.g. on the resync " +
		"tick) and set feedWhole once it succeeds"
)

// knownBugs collects checks for bugs this package found (and that were
// fixed): a regression fails the test, naming the bug and its fix.
type knownBugs struct {
	found []string
}

func (k *knownBugs) check(ok bool, bug, format string, args ...any) {
	if !ok {
		k.found = append(k.found, fmt.Sprintf(format, args...)+" -- "+bug)
	}
}

// failIfAny runs last and fails the test on any regression it saw.
func (k *knownBugs) failIfAny(t *testing.T) {
	t.Helper()
	if len(k.found) == 0 {
		return
	}
	if t.Failed() {
		t.Logf("known bugs also seen: %s", strings.Join(k.found, "; "))
		return
	}
	t.Errorf("BUG: %s", strings.Join(k.found, "; BUG: "))
}

// Server settings for the outage tests: a heartbeat every second, so a
// record lost with the store is recreated quickly, and a lease long enough
// that no outage here lapses it.
var outageServerFlags = []string{
	"--profile", "dev", "--no-session", "--identity-source", "os",
	"--heartbeat", "1s", "--lease", "2m",
}

// recreatedLog is what the tracker logs when it writes a lost record back.
const recreatedLog = "session record was missing from the store; recreated it"

// missingRefusal starts a deny server's refusal while its record is missing.
const missingRefusal = "session record missing from the store"

// storeFault takes one backend's store away and brings it back.
type storeFault struct {
	backend string
	// down takes the store away and returns once it is away.
	down func(t *testing.T)
	// up brings it back and returns once sentinel can use it again.
	up func(t *testing.T)
	// outage is how long the store stays away the first time.
	outage time.Duration
	// detectWithin bounds, for --on-store-error=deny, how long after down
	// returns the first refusal may start: memory the server trusts (a whole
	// feed, a fresh poll) serves until a store read fails.
	detectWithin time.Duration
	// revokeSays is what server-revoke prints once the store is back: the
	// server's confirmation, over the feed or (DynamoDB) through the record.
	revokeSays string
	// losesRecords: the store comes back empty, so the heartbeat must recreate the session.
	losesRecords bool
	// storeReads, when set, counts the session reads the store has served,
	// to show whether the servers trust memory again after the outage.
	storeReads func(t *testing.T) int
}

// runStoreOutage runs two servers on one store, --on-store-error=allow and
// deny, each with an SDK child under load, through: healthy; store away;
// store back; revoke (confirmed); store away again. Then it checks every
// request against what each phase promises.
func runStoreOutage(t *testing.T, sb *sandbox, f storeFault) {
	var bugs knownBugs
	defer bugs.failIfAny(t)
	modes := []string{"allow", "deny"}
	servers := map[string]*loadServer{}
	for _, mode := range modes {
		servers[mode] = sb.startLoadServer(serverOptions{
			name:    f.backend + "-" + mode,
			flags:   append(append([]string{}, outageServerFlags...), "--on-store-error", mode),
			workers: 2,
			pause:   5 * time.Millisecond,
		})
	}
	for _, mode := range modes {
		servers[mode].waitServed(t, time.Time{}, 200, 10, commandTimeout)
	}
	readsPerRequest(t, f, servers, "healthy")

	downAt := time.Now()
	f.down(t)
	awayAt := time.Now()
	t.Logf("%s: store taken away in %s", f.backend, awayAt.Sub(downAt).Round(time.Millisecond))
	time.Sleep(f.outage)

	upAt := time.Now()
	f.up(t)
	backAt := time.Now()
	t.Logf("%s: store back in %s (outage %s)", f.backend, backAt.Sub(upAt).Round(time.Millisecond), backAt.Sub(downAt).Round(time.Millisecond))

	recoveredAt := map[string]time.Time{}
	for _, mode := range modes {
		first := servers[mode].waitServed(t, backAt, 200, 1, 15*time.Second)
		recoveredAt[mode] = first.started()
		t.Logf("%s: first 200 %s after the store was back", servers[mode].name, first.started().Sub(backAt).Round(time.Millisecond))
	}
	if f.losesRecords {
		for _, mode := range modes {
			ls := servers[mode]
			testkit.Eventually(t, 30*time.Second, ls.name+": the heartbeat recreating the lost session record", func() bool {
				return strings.Contains(ls.proc.readStderr(), recreatedLog)
			})
			if s := sb.session(ls.session); s.Status != ports.SessionActive {
				t.Errorf("%s: recreated session is %s, want active", ls.name, s.Status)
			}
		}
	}
	if ratio := readsPerRequest(t, f, servers, "recovered"); f.storeReads != nil {
		bugs.check(ratio < 0.2, feedTrustBug, "%s: %.2f session reads per request after recovery, want the healthy rate (< 0.2)", f.backend, ratio)
	}

	// Revoke while the store is up; the server must see it and remember it.
	revokeAt, revokedAt := map[string]time.Time{}, map[string]time.Time{}
	revokes := map[string]*process{}
	for _, mode := range modes {
		revokeAt[mode] = time.Now()
		revokes[mode] = sb.start(nil, "server-revoke", servers[mode].session, "--reason", "fault test: revoked before the store went away")
	}
	for _, mode := range modes {
		ls := servers[mode]
		r := revokes[mode].wait(commandTimeout)
		revokedAt[mode] = revokes[mode].exitedAt
		if r.code != 0 {
			t.Fatalf("%s: server-revoke: %s", ls.name, r)
		}
		if !strings.Contains(r.stderr, f.revokeSays) {
			t.Errorf("%s: server-revoke said %q, want %q", ls.name, r.stderr, f.revokeSays)
		}
	}
	for _, mode := range modes {
		servers[mode].waitServed(t, revokedAt[mode], 403, 3, 10*time.Second)
	}

	down2At := time.Now()
	f.down(t)
	time.Sleep(3 * time.Second)
	endAt := time.Now()

	// The store is still away: stopping must not hang on it.
	for _, mode := range modes {
		servers[mode].askStop(t)
	}
	for _, mode := range modes {
		ls := servers[mode]
		r := ls.proc.wait(20 * time.Second)
		t.Logf("%s: exited %d, %s after its child was told to stop, with the store away", ls.name, r.code, ls.proc.exitedAt.Sub(endAt).Round(time.Millisecond))
		if r.code != 0 {
			t.Errorf("%s: exit code %d, want the child's 0: %s", ls.name, r.code, r)
		}
	}

	for _, mode := range modes {
		ls := servers[mode]
		all := ls.requests(t)
		whole := phase{name: "whole run", requests: all}
		phases := []phase{
			cut(all, "healthy", time.Time{}, downAt),
			cut(all, "store away", downAt, upAt),
			cut(all, "store returning", upAt, recoveredAt[mode]),
			cut(all, "recovered", recoveredAt[mode], revokeAt[mode]),
			cut(all, "revoking", revokeAt[mode], revokedAt[mode]),
			cut(all, "revoked", revokedAt[mode], down2At),
			cut(all, "revoked, away", down2At, endAt),
		}
		phases[0].from = time.Unix(0, all[0].Start)
		t.Logf("%s (--on-store-error=%s): %d requests, max latency %s", ls.name, mode, len(all), whole.maxLatency().Round(time.Millisecond))
		for _, p := range phases {
			t.Logf("  %s", p.summary())
		}
		for _, r := range all {
			if r.latency() >= knownBugLatency {
				t.Errorf("%s: request at %s took %s (answered %d %s), over the %s bound",
					ls.name, r.started().Format("15:04:05.000"), r.latency().Round(time.Millisecond), r.Status, r.Code, latencyBound)
			}
		}
		if slowest := whole.maxLatency(); slowest < knownBugLatency {
			bugs.check(slowest < latencyBound, viewReadBug, "%s: a request took %s, over the %s bound", ls.name, slowest.Round(time.Millisecond), latencyBound)
		}
		healthy, away, returning, recovered, revoking, revoked, revokedAway := phases[0], phases[1], phases[2], phases[3], phases[4], phases[5], phases[6]
		healthy.requireSome(t, ls.name, 10)
		// A deny server may refuse a request that started before the fault
		// but was still waiting on a store read when the fault began.
		healthy.without(func(r request) bool {
			return mode == "deny" && r.Status == 503 && !r.ended().Before(downAt)
		}).onlyStatus(t, ls.name, 200, "")
		away.requireSome(t, ls.name, 1)
		if mode == "allow" {
			away.onlyStatus(t, ls.name, 200, "")
			returning.onlyStatus(t, ls.name, 200, "")
		} else {
			checkDenied(t, ls.name, away, awayAt, upAt, f.detectWithin)
			for _, r := range returning.requests {
				if r.Status != 200 && r.Status != 503 {
					t.Errorf("%s, %s: answered %d %s %q, want 200 or 503", ls.name, returning.name, r.Status, r.Code, r.Message)
				}
			}
		}
		// The store is up from here on, but a deny server may still refuse a
		// request whose store read ran out the budget (DynamoDB Local on a
		// loaded machine): a 503 is right then, and only then.
		timedOut := func(r request) bool {
			return mode == "deny" && r.Status == 503 && r.latency() >= gateway.StoreBudget-100*time.Millisecond
		}
		// A store that lost the record: a deny server refuses until it has
		// written its record back (docs/revocation.md, missing records), and
		// a request that started just after the first 200 may have read the
		// store before that write-back landed.
		beforeWriteBack := func(r request) bool {
			return f.losesRecords && mode == "deny" && r.Status == 503 && strings.HasPrefix(r.Message, missingRefusal) &&
				r.started().Before(recoveredAt[mode].Add(time.Second))
		}
		recovered.requireSome(t, ls.name, 5)
		for _, r := range recovered.requests {
			if r.Status != 200 && !timedOut(r) && !beforeWriteBack(r) {
				t.Errorf("%s, %s: answered %d %s %q after %s, want 200", ls.name, recovered.name, r.Status, r.Code, r.Message, r.latency())
			}
		}
		for _, r := range revoking.requests {
			if r.Status != 200 && r.Status != 403 && !timedOut(r) {
				t.Errorf("%s, %s: answered %d %s %q after %s, want 200 or 403", ls.name, revoking.name, r.Status, r.Code, r.Message, r.latency())
			}
		}
		revoked.requireSome(t, ls.name, 3)
		// Confirmed on every store: nothing that starts after server-revoke
		// returned is served.
		revoked.onlyStatus(t, ls.name, 403, "SessionRevoked")
		// Remembered: the store is away and a revoked session is never served.
		revokedAway.requireSome(t, ls.name, 3)
		revokedAway.onlyStatus(t, ls.name, 403, "SessionRevoked")
	}
}

// checkDenied checks --on-store-error=deny during an outage: refusals come,
// they come soon, and once one came nothing is served until the store is
// back. The outage began at away.from and was complete at awayAt (stopping a
// container takes a while).
func checkDenied(t *testing.T, server string, away phase, awayAt, upAt time.Time, detectWithin time.Duration) {
	t.Helper()
	var first *request
	for i, r := range away.requests {
		if r.Status == 503 && (first == nil || r.Start < first.Start) {
			first = &away.requests[i]
		}
	}
	if first == nil {
		t.Errorf("%s: no 503 while the store was away (%s)", server, away.summary())
		return
	}
	noticed := first.started().Sub(away.from)
	servedBefore := 0
	for _, r := range away.requests {
		if r.Status == 200 && r.Start < first.Start {
			servedBefore++
		}
	}
	t.Logf("%s: first refusal started %s after the fault began (the store was away %s after it); %d request(s) served from trusted memory before it",
		server, noticed.Round(time.Millisecond), awayAt.Sub(away.from).Round(time.Millisecond), servedBefore)
	if late := first.started().Sub(awayAt); late > detectWithin {
		t.Errorf("%s: first refusal started %s after the store was away, want within %s", server, late, detectWithin)
	}
	bad := 0
	for _, r := range away.requests {
		if r.Start < first.End || r.ended().After(upAt) {
			continue // before the outage was noticed, or the store came back meanwhile
		}
		if r.Status != 503 || r.Code != "StoreUnavailable" {
			if bad++; bad <= 3 {
				t.Errorf("%s: request at +%s answered %d %s %q after the outage was noticed, want 503 StoreUnavailable",
					server, r.started().Sub(away.from).Round(time.Millisecond), r.Status, r.Code, r.Message)
			}
		}
	}
	if bad > 3 {
		t.Errorf("%s: %d more requests not refused", server, bad-3)
	}
}

// readsPerRequest logs, over one second, how many session reads the store
// served per credential request: about zero when the servers answer from
// memory they trust, about one when every request reads the store.
func readsPerRequest(t *testing.T, f storeFault, servers map[string]*loadServer, when string) float64 {
	t.Helper()
	if f.storeReads == nil {
		time.Sleep(time.Second)
		return 0
	}
	from, before := time.Now(), f.storeReads(t)
	time.Sleep(time.Second)
	to, reads := time.Now(), f.storeReads(t)-before
	requests := 0
	for _, ls := range servers {
		requests += len(cut(ls.requests(t), when, from, to).requests)
	}
	ratio := float64(reads) / float64(max(requests, 1))
	t.Logf("%s, %s: %d session reads for %d credential requests in %s (%.2f per request)",
		f.backend, when, reads, requests, to.Sub(from).Round(time.Millisecond), ratio)
	return ratio
}
