package approval

import (
	"context"
	"errors"
	"testing"

	"github.com/sentinel-gw/sentinel/ports"
)

// Identities that share the short name alice.
var (
	aliceIAM     = ports.Identity{ARN: "arn:aws:iam::111122223333:user/alice", Name: "alice", Source: "sts"}
	aliceSession = ports.Identity{ARN: "arn:aws:sts::111122223333:assumed-role/deploy/alice", Name: "alice", Source: "sts"}
	aliceOtherIM = ports.Identity{ARN: "arn:aws:iam::444455556666:user/alice", Name: "alice", Source: "sts"}
)

// An approval is used only by the identity that asked for it: one made with
// an ARN by that ARN alone; one made by an OS user by the OS user of that
// name alone. Sharing the short name is not enough.
func TestLookupMatchesTheRequesterIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		requester ports.Identity
		caller    ports.Identity
		want      bool
	}{
		{"ARN request, same ARN", aliceIAM, aliceIAM, true},
		{"ARN request, assumed-role session named alice", aliceIAM, aliceSession, false},
		{"ARN request, same user name in another account", aliceIAM, aliceOtherIM, false},
		{"ARN request, OS user alice", aliceIAM, alice, false},
		{"assumed-role request, IAM user alice", aliceSession, aliceIAM, false},
		{"OS request, same OS user", alice, alice, true},
		{"OS request, IAM user alice", alice, aliceIAM, false},
		{"OS request, assumed-role session named alice", alice, aliceSession, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store, clock := newStore(t)
			rule := testRule(t)
			r := create(t, store, clock, i+1, tt.requester, "prod")
			if _, err := decide(t, store, r.ID, func(cur ports.ApprovalRequest) (ports.ApprovalRequest, error) {
				return Approve(cur, bob, rule, "", clock.Now())
			}); err != nil {
				t.Fatal(err)
			}
			grant, err := NewLookup(store, testPolicyNow).ActiveApproval(context.Background(), tt.caller, "prod", clock.Now())
			switch {
			case tt.want && (err != nil || grant.ID != r.ID):
				t.Fatalf("lookup by %+v = %+v, %v; want the approval %s", tt.caller, grant, err, r.ID)
			case !tt.want && !errors.Is(err, ports.ErrNotFound):
				t.Fatalf("lookup by %+v = %+v, %v; want ErrNotFound (the request is %+v's)", tt.caller, grant, err, tt.requester)
			}
		})
	}
}
