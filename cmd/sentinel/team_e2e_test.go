package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

// The team-mode story end to end, over loopback HTTPS with real AWS SDK
// children: alice's child is refused until bob approves (alice cannot
// approve herself), then served; alice can neither list nor revoke anyone
// else's sessions; carol, an admin, revokes alice's session and no request
// that starts after the revoke returns is served. Users hold only their own
// AWS keys: no store, no policy file.
func TestTeamModeApprovalAndRevoke(t *testing.T) {
	t.Parallel()
	w := newTeamWorld(t)
	b := w.startBroker("", teamPolicy, "--metrics-listen", "127.0.0.1:0")

	records := filepath.Join(t.TempDir(), "alice.jsonl")
	arm := filepath.Join(t.TempDir(), "revoked")
	p, aliceSession := w.startLoopAs(teamAlice, b, "prod", records, arm)
	first := waitRecord(t, records, "alice's first refusal (no approval yet)", func(r requestRecord) bool { return !r.OK })
	if !strings.Contains(first.Message, "requires approval") {
		t.Errorf("the refusal before approval should say the profile requires approval: %q", first.Message)
	}

	created := w.mustAs(teamAlice, b, "request", "--profile", "prod", "--justification", "deploy the 4.2 hotfix (CHG-1)")
	requestID := idFrom(t, created)
	w.refusedAs(teamAlice, b, []string{"approve", requestID}, "own request")
	w.refusedAs(teamCarol, b, []string{"approve", requestID}, "approver")
	w.mustAs(teamBob, b, "approve", requestID, "--comment", "ok")
	approved := time.Now()
	var shownReq ports.ApprovalRequest
	decodeJSON(t, w.mustAs(teamAlice, b, "request-show", requestID[:12], "-o", "json").stdout, &shownReq)
	if shownReq.ID != requestID || shownReq.Status != ports.RequestApproved || shownReq.Approver != "bob" {
		t.Errorf("request-show through the broker: %+v, want the request approved by bob", shownReq)
	}
	var shownSession ports.Session
	decodeJSON(t, w.mustAs(teamAlice, b, "server-session", aliceSession, "-o", "json").stdout, &shownSession)
	if shownSession.ID != aliceSession || shownSession.UserARN != teamAlice.arn {
		t.Errorf("server-session through the broker: %+v, want alice's own session", shownSession)
	}
	waitRecord(t, records, "a request served after bob approved", func(r requestRecord) bool { return r.OK && r.Start > approved.UnixNano() })

	// bob has a session of his own, on dev.
	bobRecords := filepath.Join(t.TempDir(), "bob.jsonl")
	bobArm := filepath.Join(t.TempDir(), "bob-arm")
	bobProc, bobSession := w.startLoopAs(teamBob, b, "dev", bobRecords, bobArm)
	waitRecord(t, bobRecords, "bob served on dev", func(r requestRecord) bool { return r.OK })

	// alice is no admin: her own sessions only, and no revoking bob's.
	for _, s := range w.sessionsAs(teamAlice, b, "--status", "all") {
		if s.UserARN != teamAlice.arn {
			t.Errorf("alice's listing shows %s's session %s", s.User, s.ID)
		}
	}
	w.refusedAs(teamAlice, b, []string{"server-sessions", "--user", "bob"}, "not permitted")
	w.refusedAs(teamAlice, b, []string{"server-session", bobSession}, "is not yours")
	w.refusedAs(teamAlice, b, []string{"server-revoke", bobSession, "--reason", "mischief"}, "not permitted")
	w.refusedAs(teamAlice, b, []string{"server-revoke", "--user", "bob", "--reason", "mischief"}, "not permitted")
	if _, refused := served(t, bobRecords); refused != 0 {
		t.Errorf("bob's child was refused %d times after alice's failed revokes", refused)
	}

	// carol, an admin, sees both sessions and revokes alice's.
	listed := w.sessionsAs(teamCarol, b, "--status", "active")
	ids := make([]string, 0, len(listed))
	for _, s := range listed {
		ids = append(ids, s.ID)
	}
	if !slices.Contains(ids, aliceSession) || !slices.Contains(ids, bobSession) {
		t.Errorf("carol (admin) lists %v, want alice's %s and bob's %s", ids, aliceSession, bobSession)
	}
	w.mustAs(teamCarol, b, "server-revoke", aliceSession, "--reason", "incident 4711")
	revoked := time.Now()
	if err := os.WriteFile(arm, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := p.wait(60 * time.Second); r.code != 0 {
		t.Fatalf("alice's sentinel exec (the loop child exits 0): %s", r)
	}
	after := noneServedAfter(t, records, revoked, "carol's revoke returned")
	if after < 30 {
		t.Errorf("only %d requests started after the revoke; the child runs 30 past it", after)
	}
	last := testkit.ReadJSONLines[requestRecord](t, records)
	if msg := last[len(last)-1].Message; !strings.Contains(msg, "revoked by "+teamCarol.arn) || !strings.Contains(msg, "incident 4711") {
		t.Errorf("the refusal after the revoke should name carol and the reason: %q", msg)
	}
	// bob's session is untouched.
	if _, refused := served(t, bobRecords); refused != 0 {
		t.Errorf("bob's child was refused %d times: carol revoked only alice's session", refused)
	}
	if err := os.WriteFile(bobArm, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	bobProc.killGroup()

	// What the broker shows for alice's session: her ARN, the revoke.
	var got ports.Session
	for _, s := range w.sessionsAs(teamCarol, b, "--status", "all", "--user", "alice") {
		if s.ID == aliceSession {
			got = s
		}
	}
	if got.Status != ports.SessionRevoked || got.RevokedBy != teamCarol.arn || got.UserARN != teamAlice.arn {
		t.Errorf("alice's session at the broker: status %s, revoked by %q, user arn %q", got.Status, got.RevokedBy, got.UserARN)
	}

	// The audit trail is the broker's decision log: the refused self-approval,
	// bob's approval, alice's refused revoke and carol's revoke are in it.
	type act struct{ action, user, effect string }
	want := []act{{"request_approve", "alice", "deny"}, {"request_approve", "bob", "allow"}, {"revoke", "alice", "deny"}, {"revoke", "carol", "allow"}}
	testkit.Eventually(t, 10*time.Second, "the broker's audit lines", func() bool {
		var seen []act
		for _, d := range testkit.ReadJSONLines[ports.DecisionRecord](t, b.log) {
			seen = append(seen, act{d.Action, d.User, d.Effect})
		}
		for _, a := range want {
			if !slices.Contains(seen, a) {
				return false
			}
		}
		return true
	})

	// The broker's metrics count what happened.
	metricsURL := metricsLine.FindStringSubmatch(b.proc.stderr.String())
	if metricsURL == nil {
		t.Fatalf("the broker did not say where its metrics are:\n%s", b.proc.stderr.String())
	}
	text := scrape(t, metricsURL[1])
	for _, want := range []string{"sentinel_revocations_total 1", "sentinel_approvals_total 1", `sentinel_policy_info{version="sha256:`} {
		if !strings.Contains(text, want) {
			t.Errorf("the broker's metrics lack %q", want)
		}
	}
	if !regexp.MustCompile(`sentinel_credential_requests_total\{mode="server",outcome="revoked"\} [1-9]`).MatchString(text) {
		t.Errorf("no revoked credential requests counted:\n%s", grepLines(text, "sentinel_credential_requests_total"))
	}

	// The broker assumed the role with its own keys, never a user's.
	for _, c := range w.sts.Calls() {
		if c.Action == "AssumeRole" && c.AccessKeyID != teamBroker.keyID {
			t.Errorf("AssumeRole signed with %s, want only the broker's key", c.AccessKeyID)
		}
	}
}

// A policy change at the broker refuses the next request of a session that
// was being served: users cannot edit the broker's policy, and need not
// restart anything for it to apply.
func TestTeamModePolicyChangeRefusesTheNextRequest(t *testing.T) {
	t.Parallel()
	w := newTeamWorld(t)
	b := w.startBroker("", teamPolicy)
	records := filepath.Join(t.TempDir(), "alice.jsonl")
	arm := filepath.Join(t.TempDir(), "changed")
	p, _ := w.startLoopAs(teamAlice, b, "dev", records, arm)
	waitRecord(t, records, "alice served on dev", func(r requestRecord) bool { return r.OK })

	b.sb.writePolicy(strings.Replace(teamPolicy, "effect: allow", "effect: deny", 1))
	changed := time.Now()
	waitRecord(t, records, "a refusal after the policy change", func(r requestRecord) bool { return !r.OK && r.Start > changed.UnixNano() })
	// The broker notices a change within its watch window; from then on nothing is served.
	settled := changed.Add(2 * time.Second)
	for time.Now().Before(settled.Add(500 * time.Millisecond)) {
		time.Sleep(100 * time.Millisecond)
	}
	if err := os.WriteFile(arm, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if r := p.wait(60 * time.Second); r.code != 0 {
		t.Fatalf("sentinel exec: %s", r)
	}
	noneServedAfter(t, records, settled, "the policy change settled")
}

// A proof made for another broker is refused: the client signs the host of
// its --broker URL into X-Sentinel-Broker, and this broker's id is 127.0.0.1.
func TestTeamModeRefusesAProofForAnotherBroker(t *testing.T) {
	t.Parallel()
	w := newTeamWorld(t)
	b := w.startBroker("", teamPolicy)
	other := strings.Replace(b.url, "127.0.0.1", "localhost", 1)
	r := w.as(teamAlice, b, map[string]string{"SENTINEL_BROKER": other}, "server-sessions")
	if r.code != exitError || !strings.Contains(r.stderr, `made for broker "localhost"`) {
		t.Errorf("a proof for broker id localhost at broker 127.0.0.1: want a refusal naming the broker id: %s", r)
	}
	// A user whose keys STS does not know is refused too.
	stranger := teamUser{"mallory", "AKIATEAMMALLORY00001", "not/a/key/the/sts/knows/00000000000000", "arn:aws:iam::123456789012:user/mallory"}
	r = w.as(stranger, b, nil, "server-sessions")
	if r.code != exitError || !strings.Contains(r.stderr, "authenticated") {
		t.Errorf("unknown keys: want a refusal saying not authenticated: %s", r)
	}
	var identities int
	for _, c := range w.sts.Calls() {
		if c.Action == "GetCallerIdentity" {
			identities++
		}
	}
	if identities == 0 {
		t.Error("the broker never asked STS who the caller is")
	}
}

// The one-shot modes through the broker: exec without --server (cli mode)
// puts the credentials the broker got from STS in the child's environment,
// and credentials (credential_process) prints them; a profile policy denies
// is refused in both, and nothing is written on the user's machine.
func TestTeamModeOneShotModes(t *testing.T) {
	t.Parallel()
	w := newTeamWorld(t)
	b := w.startBroker("", teamPolicy)
	issued := func() *fakests.Credentials {
		var last *fakests.Credentials
		for _, c := range w.sts.Calls() {
			if c.Action == "AssumeRole" && c.Issued != nil {
				last = c.Issued
			}
		}
		return last
	}

	out := filepath.Join(t.TempDir(), "child.json")
	r := w.as(teamAlice, b, map[string]string{childModeEnv: childRetrieve, childOutEnv: out},
		"exec", "--profile", "dev", "--", childCommand(t))
	if r.code != 0 {
		t.Fatalf("exec --broker (cli mode): %s", r)
	}
	child := readChildResult(t, out)
	got := issued()
	if !child.OK || got == nil || child.AccessKeyID != got.AccessKeyID || child.TokenSHA256 != sha256Hex(got.SessionToken) {
		t.Fatalf("the cli-mode child got %+v, want the credentials STS issued to the broker (%+v)", child, got)
	}

	r = w.mustAs(teamAlice, b, "credentials", "--profile", "dev")
	var cp credentialProcessOutput
	decodeJSON(t, r.stdout, &cp)
	if got := issued(); cp.Version != 1 || cp.AccessKeyID != got.AccessKeyID || cp.Expiration == "" {
		t.Errorf("credentials --broker printed %+v, want STS's last issued key %s with an Expiration", cp, got.AccessKeyID)
	}

	// prod requires approval; alice has none: both modes are refused with the reason.
	w.refusedAs(teamAlice, b, []string{"credentials", "--profile", "prod"}, "requires approval")
	w.refusedAs(teamAlice, b, []string{"exec", "--profile", "prod", "--", childCommand(t)}, "requires approval")
	// A flag that only means something locally is refused, not ignored.
	r = w.as(teamAlice, b, nil, "credentials", "--profile", "dev", "--no-session")
	if r.code != exitUsage || !strings.Contains(r.stderr, "--no-session applies only without --broker") {
		t.Errorf("credentials --broker --no-session: want a usage error: %s", r)
	}
	// The broker's decision log records each, with alice's ARN.
	testkit.Eventually(t, 10*time.Second, "alice's four decisions in the broker's log", func() bool {
		mine := 0
		for _, d := range testkit.ReadJSONLines[ports.DecisionRecord](t, b.log) {
			if d.UserARN == teamAlice.arn {
				mine++
			}
		}
		return mine >= 4
	})
}

var metricsLine = regexp.MustCompile(`metrics at (http://\S+)`)

// scrape GETs a Prometheus text page.
func scrape(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url) // #nosec G107 -- the test's own loopback listener
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %d %v", url, resp.StatusCode, err)
	}
	return string(b)
}

// grepLines keeps the lines of text that contain s.
func grepLines(text, s string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
