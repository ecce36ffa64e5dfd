package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sentinel-gw/sentinel/internal/fakeapi"
	"github.com/sentinel-gw/sentinel/internal/fakeiam"
)

// A revoke at AWS through the broker: carol (an admin) revokes alice's
// session with --at-aws; the broker, with its own IAM access, puts the deny
// on the role the session assumed, and the credentials alice's child
// already holds are refused by AWS (the local API stand-in evaluates the
// deny) while bob's session on the same role keeps working.
func TestTeamModeRevokeAtAWS(t *testing.T) {
	t.Parallel()
	w := newTeamWorld(t)
	iam := fakeiam.New(t, fakeiam.WithKey(teamBroker.keyID, teamBroker.secret), fakeiam.WithRole("Deployer"))
	api := fakeapi.New(t, w.sts, iam)
	w.brokerEnv = map[string]string{"AWS_ENDPOINT_URL_IAM": iam.URL()}
	b := w.startBroker("", teamPolicy, "--iam-profile", "base")

	dir := t.TempDir()
	aliceProc, aliceSession := w.startLoopAs(teamAlice, b, "dev", filepath.Join(dir, "alice.jsonl"), filepath.Join(dir, "alice-arm"))
	bobProc, bobSession := w.startLoopAs(teamBob, b, "dev", filepath.Join(dir, "bob.jsonl"), filepath.Join(dir, "bob-arm"))
	waitRecord(t, filepath.Join(dir, "alice.jsonl"), "alice served", func(r requestRecord) bool { return r.OK })
	waitRecord(t, filepath.Join(dir, "bob.jsonl"), "bob served", func(r requestRecord) bool { return r.OK })
	issued := func(sid string) aws.Credentials {
		t.Helper()
		for _, c := range w.sts.Calls() {
			if c.Issued != nil && strings.Contains(c.Params["SourceIdentity"], sid) {
				return aws.Credentials{AccessKeyID: c.Issued.AccessKeyID, SecretAccessKey: c.Issued.SecretAccessKey, SessionToken: c.Issued.SessionToken}
			}
		}
		t.Fatalf("the local STS issued nothing for session %s", sid)
		return aws.Credentials{}
	}
	call := func(c aws.Credentials) string {
		t.Helper()
		code, err := fakeapi.ListTables(context.Background(), api.URL(), c)
		if err != nil {
			t.Fatalf("ListTables: %v", err)
		}
		return code
	}
	aliceCreds, bobCreds := issued(aliceSession), issued(bobSession)
	if code := call(aliceCreds); code != "" {
		t.Fatalf("alice's credentials before the revoke: %s", code)
	}

	r := w.mustAs(teamCarol, b, "server-revoke", aliceSession, "--reason", "key leaked", "--at-aws")
	if !strings.Contains(r.stdout, "denied") || !strings.Contains(r.stdout, "Deployer") {
		t.Errorf("server-revoke --at-aws through the broker should report the role denied:\n%s", r)
	}
	policies := iam.RolePolicies("Deployer")
	if len(policies) != 1 {
		t.Fatalf("the role carries %d policies, want the one deny: %v", len(policies), policies)
	}
	for name := range policies {
		if !strings.HasPrefix(name, "SentinelRevoke-"+aliceSession+"-") {
			t.Errorf("policy %s: want SentinelRevoke-<alice's session>-<time>", name)
		}
	}
	if code := call(aliceCreds); code != "AccessDeniedException" {
		t.Errorf("alice's credentials after the revoke at AWS: %q, want AccessDeniedException", code)
	}
	if code := call(bobCreds); code != "" {
		t.Errorf("bob's credentials on the same role after alice's revoke: %q, want allowed", code)
	}
	// A user who is no admin cannot use the broker's IAM access on others' sessions.
	w.refusedAs(teamAlice, b, []string{"server-revoke", bobSession, "--reason", "x", "--at-aws"}, "not permitted")
	if got := iam.RolePolicies("Deployer"); len(got) != 1 {
		t.Errorf("after a refused revoke at AWS by a user who is no admin, the role carries %d policies, want still the one: %v", len(got), got)
	}
	if code := call(bobCreds); code != "" {
		t.Errorf("bob's credentials after alice's refused revoke at AWS: %q, want allowed", code)
	}
	aliceProc.killGroup()
	bobProc.killGroup()
}
