package main

import (
	"encoding/json"
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

// STS's rule for SourceIdentity, with Sentinel's prefix.
var sourceIdentityPattern = regexp.MustCompile(`^sentinel\.[A-Za-z0-9_+=,.@-]+$`)

// A role profile through STS: sentinel resolves the caller with
// GetCallerIdentity, assumes the role with its own SourceIdentity and
// RoleSessionName, and serves the child an Expiration capped at
// --server-duration although STS's floor is 15 minutes.
func TestExecServerAssumeRole(t *testing.T) {
	t.Parallel()
	const (
		userARN = "arn:aws:iam::123456789012:user/alice"
		roleARN = "arn:aws:iam::123456789012:role/Deployer"
	)
	sb := newSandbox(t)
	sts := fakests.New(t, fakests.WithUser(exampleKeyID, exampleSecret, userARN))
	sb.writeAWS(
		"[profile prod]\nrole_arn = "+roleARN+"\nsource_profile = base\nregion = us-east-1\n\n[profile base]\nregion = us-east-1\n",
		"[base]\naws_access_key_id = "+exampleKeyID+"\naws_secret_access_key = "+exampleSecret+"\n",
	)
	sb.writePolicy(allowAllPolicy)
	out := filepath.Join(sb.dir, "child.json")

	start := time.Now()
	r := sb.run(map[string]string{"AWS_ENDPOINT_URL_STS": sts.URL(), childModeEnv: childRetrieve, childOutEnv: out},
		"exec", "--server", "--profile", "prod", "--server-duration", "5m", "--identity-source", "sts",
		"--policy", sb.policy, "--log-file", sb.decisions, "--", childCommand(t))
	end := time.Now()
	if r.code != 0 {
		t.Fatalf("sentinel exec: %s", r)
	}
	sessionID := sessionFromStderr(t, r.stderr)

	var identityCalls int
	var assumes []fakests.Call
	for _, c := range sts.Calls() {
		switch c.Action {
		case "GetCallerIdentity":
			identityCalls++
			if c.AccessKeyID != exampleKeyID {
				t.Errorf("GetCallerIdentity signed with %q, want the source profile's key %q", c.AccessKeyID, exampleKeyID)
			}
		case "AssumeRole":
			assumes = append(assumes, c)
		default:
			t.Errorf("unexpected STS call %s", c.Action)
		}
	}
	if identityCalls == 0 {
		t.Error("no GetCallerIdentity: --identity-source sts did not ask STS who the caller is")
	}
	// The startup fetch assumes the role; the child's request is served from that.
	if len(assumes) != 1 {
		t.Fatalf("AssumeRole calls = %d, want 1 (startup prefetch, child served from cache): %+v", len(assumes), assumes)
	}
	ar := assumes[0]
	if ar.ErrorCode != "" || ar.Issued == nil {
		t.Fatalf("AssumeRole failed: %s %+v", ar.ErrorCode, ar.Params)
	}
	if ar.AccessKeyID != exampleKeyID {
		t.Errorf("AssumeRole signed with %q, want the source profile's key", ar.AccessKeyID)
	}
	if got := ar.Params["RoleArn"]; got != roleARN {
		t.Errorf("RoleArn = %q, want %q", got, roleARN)
	}
	if got := ar.Params["DurationSeconds"]; got != "900" {
		t.Errorf("DurationSeconds = %q, want 900 (STS's floor, for a 5m server duration)", got)
	}
	si := ar.Params["SourceIdentity"]
	if !sourceIdentityPattern.MatchString(si) || len(si) < 2 || len(si) > 64 || !strings.Contains(si, sessionID) {
		t.Errorf("SourceIdentity %q: want ^sentinel\\.[A-Za-z0-9_+=,.@-]+$ naming session %s, 2-64 characters", si, sessionID)
	}
	if rsn := ar.Params["RoleSessionName"]; !strings.HasPrefix(rsn, "sentinel.") || !strings.Contains(rsn, sessionID) || len(rsn) > 64 {
		t.Errorf("RoleSessionName %q: want sentinel.<caller>.<session id %s>, at most 64 characters", rsn, sessionID)
	}

	child := readChildResult(t, out)
	if !child.OK {
		t.Fatalf("child could not retrieve credentials: %s", child.Error)
	}
	issued := ar.Issued
	if child.AccessKeyID != issued.AccessKeyID || child.SecretSHA256 != sha256Hex(issued.SecretAccessKey) ||
		child.TokenSHA256 != sha256Hex(issued.SessionToken) {
		t.Errorf("child got key %s, not the credentials fakests issued (%s)", child.AccessKeyID, issued.AccessKeyID)
	}
	if issued.Expiration.Before(start.Add(14 * time.Minute)) {
		t.Fatalf("fakests issued credentials expiring at %s; the test expects STS's 15 minutes", issued.Expiration)
	}
	if !child.CanExpire {
		t.Error("served credentials carry no Expiration")
	}
	if latest := end.Add(5*time.Minute + time.Second); child.Expires.After(latest) {
		t.Errorf("served Expiration %s is later than exec end + 5m (%s): the --server-duration cap was not applied (STS gave %s)",
			child.Expires, latest, issued.Expiration)
	}
	if earliest := start.Add(5*time.Minute - 2*time.Second); child.Expires.Before(earliest) {
		t.Errorf("served Expiration %s is earlier than start + 5m (%s)", child.Expires, earliest)
	}
	if child.Region != "us-east-1" {
		t.Errorf("child region = %q, want the profile's us-east-1", child.Region)
	}

	var served []ports.DecisionRecord
	for _, d := range testkit.ReadJSONLines[ports.DecisionRecord](t, sb.decisions) {
		if d.Effect == "allow" {
			served = append(served, d)
		}
	}
	if len(served) != 1 {
		t.Fatalf("decision log has %d allow lines, want 1 (the child's request)", len(served))
	}
	d := served[0]
	if d.SourceIdentity != si {
		t.Errorf("decision log source_identity = %q, want the one sent to STS %q", d.SourceIdentity, si)
	}
	if d.User != "alice" || d.UserARN != userARN || d.IdentitySource != "sts" {
		t.Errorf("decision log user = %q arn = %q source = %q, want alice, %s, sts", d.User, d.UserARN, d.IdentitySource, userARN)
	}
	if diff := child.Expires.Sub(d.CredentialsExpire); diff < -time.Second || diff > time.Second {
		t.Errorf("child saw Expiration %s, the decision log says %s", child.Expires, d.CredentialsExpire)
	}
	if d.SessionID != sessionID || d.Profile != "prod" || d.Mode != "server" || d.ServedDuration != "5m0s" {
		t.Errorf("decision log line %+v: want session %s, profile prod, mode server, served 5m0s", d, sessionID)
	}

	// The session record names what AWS knows the session by.
	var rec ports.Session
	if err := json.Unmarshal([]byte(sb.mustRun("server-session", sessionID, "--output", "json").stdout), &rec); err != nil {
		t.Fatal(err)
	}
	wantID := fakests.RoleID(roleARN) + ":" + ar.Params["RoleSessionName"]
	if rec.SourceIdentity != si || !slices.Equal(rec.RoleARNs, []string{roleARN}) || !slices.Equal(rec.AssumedRoleIDs, []string{wantID}) {
		t.Errorf("session record: source_identity %q role_arns %v assumed_role_ids %v; want %q, [%s], [%s]",
			rec.SourceIdentity, rec.RoleARNs, rec.AssumedRoleIDs, si, roleARN, wantID)
	}
}

// A revoke from another process while the child fetches credentials in a
// loop: every request that starts after server-revoke returns is refused.
func TestExecServerRevokeFromAnotherProcess(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	sb.staticProfile("dev")
	sb.writePolicy(allowAllPolicy)
	requests := filepath.Join(sb.dir, "requests.jsonl")
	// The child's last 50 requests are counted from when the revoke has returned.
	arm := filepath.Join(sb.dir, "revoke-returned")

	p := sb.start(map[string]string{childModeEnv: childLoop, childOutEnv: requests, childAfterDenialEnv: "50", childMaxEnv: "20s", childArmEnv: arm},
		append(append([]string{"exec", "--server", "--profile", "dev", "--revocation-poll", "70ms"}, sb.offlineFlags()...), "--", childCommand(t))...)
	began := time.Now()
	sess := sb.waitActiveSession(p, "dev")
	t.Logf("session listed after %s", time.Since(began))
	testkit.Eventually(t, 15*time.Second, "20 served requests", func() bool {
		n := 0
		for _, r := range testkit.ReadJSONLines[requestRecord](t, requests) {
			if r.OK {
				n++
			}
		}
		return n >= 20
	})

	revokeStarted := time.Now()
	rv := sb.run(nil, "server-revoke", sess.ID, "--reason", "test", "--identity-source", "os")
	revoked := time.Now()
	if rv.code != 0 {
		t.Fatalf("server-revoke: %s", rv)
	}
	t.Logf("server-revoke took %s", revoked.Sub(revokeStarted))
	sb.write(arm, "")
	r := p.wait(40 * time.Second)
	if r.code != 0 {
		t.Fatalf("sentinel exec (the loop child exits 0): %s", r)
	}
	t.Logf("sentinel exited %s after the revoke returned", time.Since(revoked))

	me := osUserName(t)
	var ok, refused, startedAfter int
	for _, rec := range testkit.ReadJSONLines[requestRecord](t, requests) {
		after := rec.Start > revoked.UnixNano()
		if after {
			startedAfter++
		}
		if rec.OK {
			ok++
			if rec.AccessKeyID != exampleKeyID {
				t.Errorf("served key %q, want the profile's %q", rec.AccessKeyID, exampleKeyID)
			}
			if after {
				t.Errorf("a request started %s after server-revoke returned and got credentials",
					time.Duration(rec.Start-revoked.UnixNano()))
			}
			continue
		}
		refused++
		if rec.End < revokeStarted.UnixNano() {
			t.Errorf("a request was refused before the revoke began: %s", rec.Message)
		}
		if !strings.Contains(rec.Message, "revoked by "+me) || !strings.HasSuffix(rec.Message, ": test") {
			t.Errorf("refusal %q: want it to say revoked by %s and the reason test", rec.Message, me)
		}
	}
	if ok < 20 {
		t.Errorf("only %d requests served before the revoke", ok)
	}
	if startedAfter < 50 {
		t.Errorf("only %d requests started after server-revoke returned; the loop should run 50 past the first refusal", startedAfter)
	}
	t.Logf("%d served, %d refused, %d started after the revoke returned", ok, refused, startedAfter)

	// Shutdown must not turn the revoke into an expiry, and every served
	// request is counted (the startup prefetch is not a request).
	got := sb.session(sess.ID)
	if got.Status != ports.SessionRevoked || got.RevokedBy != me || got.RevokedReason != "test" {
		t.Errorf("after exit: status %s, revoked by %q for %q; want revoked by %s for test", got.Status, got.RevokedBy, got.RevokedReason, me)
	}
	if got.RequestCount != int64(ok) {
		t.Errorf("request_count = %d, want %d (the 200s the child saw)", got.RequestCount, ok)
	}
	// The server's --revocation-poll is kept on the session and shown.
	if got.RevocationPoll != 70*time.Millisecond {
		t.Errorf("revocation_poll = %s, want the server's 70ms", got.RevocationPoll)
	}
	if out := sb.mustRun("server-session", sess.ID).stdout; !strings.Contains(out, "revocation poll: 70ms\n") {
		t.Errorf("server-session does not show the revocation poll:\n%s", out)
	}
}

// require_server: cli mode and credential_process are refused with the
// remedy; server mode serves.
func TestRequireServer(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	sb.staticProfile("p")
	sb.writePolicy(`version: "1"
rules:
  - name: p-server-only
    effect: require_server
    conditions:
      profiles: [p]
    reason: p is served by the credential server only
`)

	t.Run("exec without --server", func(t *testing.T) {
		r := sb.run(nil, append(append([]string{"exec", "--profile", "p"}, sb.offlineFlags()...), "--", "true")...)
		if r.code != 1 || !strings.Contains(r.stderr, "add --server") {
			t.Errorf("want exit 1 saying add --server; got %s", r)
		}
	})
	t.Run("credentials", func(t *testing.T) {
		r := sb.run(nil, append([]string{"credentials", "--profile", "p"}, sb.offlineFlags()...)...)
		if r.code != 1 || !strings.Contains(r.stderr, "add --server") {
			t.Errorf("want exit 1 saying add --server; got %s", r)
		}
		if strings.Contains(r.stdout, exampleKeyID) {
			t.Errorf("refused credentials were printed: %s", r.stdout)
		}
	})
	t.Run("exec --server", func(t *testing.T) {
		out := filepath.Join(sb.dir, "child.json")
		r := sb.run(map[string]string{childModeEnv: childRetrieve, childOutEnv: out},
			append(append([]string{"exec", "--server", "--profile", "p"}, sb.offlineFlags()...), "--", childCommand(t))...)
		if r.code != 0 {
			t.Fatalf("exec --server: %s", r)
		}
		if child := readChildResult(t, out); !child.OK || child.AccessKeyID != exampleKeyID {
			t.Errorf("child got %+v, want the profile's key %s", child, exampleKeyID)
		}
	})
}

// A policy that denies at startup: the server starts anyway with a warning,
// the child's request is refused with the rule, and the child's exit code
// becomes sentinel's.
func TestExecServerDeniedAtStartup(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	sb.staticProfile("dev")
	sb.writePolicy(`version: "1"
rules:
  - name: no-dev
    effect: deny
    conditions:
      profiles: [dev]
    reason: dev is closed today
`)
	out := filepath.Join(sb.dir, "child.json")
	r := sb.run(map[string]string{childModeEnv: childRetrieve, childOutEnv: out, childFailCodeEnv: "42"},
		append(append([]string{"exec", "--server", "--profile", "dev"}, sb.offlineFlags()...), "--", childCommand(t))...)
	if r.code != 42 {
		t.Errorf("exit code %d, want the child's 42: %s", r.code, r)
	}
	if !strings.Contains(r.stderr, "warning") || !strings.Contains(r.stderr, "rule no-dev") || !strings.Contains(r.stderr, "starts anyway") {
		t.Errorf("stderr does not warn that rule no-dev denies and the server starts anyway:\n%s", r.stderr)
	}
	child := readChildResult(t, out)
	if child.OK || !strings.Contains(child.Error, "policy denied: rule no-dev") {
		t.Errorf("child result %+v: want a refusal saying policy denied: rule no-dev", child)
	}
	var denied bool
	for _, d := range testkit.ReadJSONLines[ports.DecisionRecord](t, sb.decisions) {
		if d.Effect == "allow" {
			t.Errorf("decision log has an allow: %+v", d)
		}
		denied = denied || (d.Effect == "deny" && d.Rule == "no-dev")
	}
	if !denied {
		t.Error("decision log has no deny line for rule no-dev")
	}
}

// The child's exit code is sentinel's, and a normal exit marks the session expired.
func TestExecExitCodes(t *testing.T) {
	t.Parallel()
	t.Run("child exit code", func(t *testing.T) {
		t.Parallel()
		sb := newSandbox(t)
		sb.staticProfile("dev")
		sb.writePolicy(allowAllPolicy)
		r := sb.run(nil, append(append([]string{"exec", "--server", "--profile", "dev"}, sb.offlineFlags()...), "--", "sh", "-c", "exit 7")...)
		if r.code != 7 {
			t.Fatalf("exit code %d, want 7: %s", r.code, r)
		}
		id := sessionFromStderr(t, r.stderr)
		if got := sb.session(id); got.Status != ports.SessionExpired {
			t.Errorf("session status after exit = %s, want expired", got.Status)
		}
	})
	t.Run("missing command", func(t *testing.T) {
		t.Parallel()
		sb := newSandbox(t)
		sb.staticProfile("dev")
		sb.writePolicy(allowAllPolicy)
		r := sb.run(nil, append(append([]string{"exec", "--server", "--profile", "dev"}, sb.offlineFlags()...), "--", "sentinel-e2e-no-such-command")...)
		if r.code != 127 || !strings.Contains(r.stderr, "sentinel-e2e-no-such-command") {
			t.Errorf("want exit 127 naming the command; got %s", r)
		}
	})
}

// A server killed with SIGKILL leaves an active session behind; once its
// lease runs out, the next lister marks it expired.
func TestExecServerKilled(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	sb.staticProfile("dev")
	sb.writePolicy(allowAllPolicy)
	p := sb.start(nil, append(append([]string{"exec", "--server", "--profile", "dev", "--heartbeat", "200ms", "--lease", "1s"},
		sb.offlineFlags()...), "--", "sleep", "30")...)
	began := time.Now()
	sess := sb.waitActiveSession(p, "dev")
	t.Logf("session listed after %s", time.Since(began))
	if lease := sess.ExpiresAt.Sub(sess.UpdatedAt); lease <= 0 || lease > time.Second {
		t.Errorf("lease of the live session = %s, want at most --lease 1s", lease)
	}

	// sentinel first, then its child (sleep, in sentinel's process group).
	if err := p.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	killed := time.Now()
	p.killGroup()
	if r := p.wait(10 * time.Second); r.code != -1 {
		t.Errorf("sentinel was not killed by the signal: %s", r)
	}
	time.Sleep(time.Until(killed.Add(1500 * time.Millisecond)))

	got := sb.session(sess.ID)
	if got.Status != ports.SessionExpired {
		t.Fatalf("status %s 1.5 s after kill -9 with a 1s lease, want expired", got.Status)
	}
	if got.ExpiresAt.After(killed.Add(time.Second + 100*time.Millisecond)) {
		t.Errorf("lease ran to %s, more than 1s after the kill at %s", got.ExpiresAt, killed)
	}
	// The lister wrote the expiry (a read alone would show it too).
	if got.UpdatedAt.Before(got.ExpiresAt) {
		t.Errorf("updated_at %s is before expires_at %s: the lapsed session was not swept", got.UpdatedAt, got.ExpiresAt)
	}
}
