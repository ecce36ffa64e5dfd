package broker_test

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/sentinel-gw/sentinel/core/broker"
	"github.com/sentinel-gw/sentinel/ports"
)

// inlinePolicies records the deny policies a revoke at AWS writes (our own
// port; internal/fakeiam and cmd/sentinel's at-aws tests cover IAM itself).
type inlinePolicies struct {
	mu   sync.Mutex
	puts map[string]string // role/name -> document
}

func (p *inlinePolicies) PutRolePolicy(_ context.Context, role, name, doc string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.puts == nil {
		p.puts = map[string]string{}
	}
	p.puts[role+"/"+name] = doc
	return nil
}
func (p *inlinePolicies) DeleteRolePolicy(context.Context, string, string) error { return nil }
func (p *inlinePolicies) ListRolePolicies(context.Context, string) ([]string, error) {
	return nil, nil
}
func (p *inlinePolicies) PutUserPolicy(context.Context, string, string, string) error { return nil }
func (p *inlinePolicies) DeleteUserPolicy(context.Context, string, string) error      { return nil }
func (p *inlinePolicies) ListUserPolicies(context.Context, string) ([]string, error) {
	return nil, nil
}

// A revoke through the broker with at-aws (or under the policy's
// revoke_at_aws) denies the session's credentials on the role it assumed,
// with the broker's IAM access; without that access it says so per
// session; the fallback flags alone are refused.
func TestRevokeAtAWSThroughTheBroker(t *testing.T) {
	tm := newTeam(t)
	iam := &inlinePolicies{}
	b := tm.replicaWith(t, func(d *broker.Deps) { d.InlinePolicies = iam })
	sid := open(t, b, alice, "dev").Session.ID
	if err := creds(b, alice, sid); err != nil {
		t.Fatal(err)
	}
	out, err := b.Revoke(t.Context(), carol, ports.RevokeInput{ID: sid, Reason: "key leaked", AtAWS: true})
	if err != nil || len(out.Denials) != 1 || !out.Denials[0].Denied || out.Denials[0].RoleARN != fakeRoleARN {
		t.Fatalf("Revoke at AWS = %+v, %v; want one denial on %s", out, err, fakeRoleARN)
	}
	if len(iam.puts) != 1 {
		t.Fatalf("IAM got %d policies, want 1: %v", len(iam.puts), iam.puts)
	}
	for key, doc := range iam.puts {
		if !strings.HasPrefix(key, "Deployer/SentinelRevoke-"+sid+"-") || !strings.Contains(doc, "aws:SourceIdentity") || !strings.Contains(doc, sid) {
			t.Errorf("policy %s: %s; want a deny on the session's SourceIdentity", key, doc)
		}
	}

	// The policy's default does the same; a broker without IAM access says so.
	tm.policy.set(t, teamPolicy+"revoke_at_aws: true\n")
	bare := tm.replica(t)
	sid2 := open(t, bare, alice, "dev").Session.ID
	if err := creds(bare, alice, sid2); err != nil {
		t.Fatal(err)
	}
	out, err = bare.Revoke(t.Context(), alice, ports.RevokeInput{ID: sid2, Reason: "done"})
	if err != nil || len(out.Denials) != 1 || out.Denials[0].Denied || !strings.Contains(out.Denials[0].Error, "no IAM access") {
		t.Errorf("revoke_at_aws on a broker without IAM access = %+v, %v; want a denial that failed, saying why", out, err)
	}
	_, err = b.Revoke(t.Context(), carol, ports.RevokeInput{User: "bob", Reason: "x", FallbackAllSessions: true})
	if err != nil {
		t.Errorf("fallback with the policy's default on: %v", err)
	}
	tm.policy.set(t, teamPolicy)
	_, err = b.Revoke(t.Context(), carol, ports.RevokeInput{User: "bob", Reason: "x", FallbackAllSessions: true})
	wantIs(t, "fallback without at-aws", err, ports.ErrInvalidArgument)
}
