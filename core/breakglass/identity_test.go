package breakglass

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

// A break-glass event is used only by the identity that invoked it: one
// invoked with an ARN by that ARN alone; one invoked by an OS user by the OS
// user of that name alone. Sharing the short name is not enough.
func TestLookupMatchesTheInvokerIdentity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		invoker ports.Identity
		caller  ports.Identity
		want    bool
	}{
		{"ARN event, same ARN", aliceIAM, aliceIAM, true},
		{"ARN event, assumed-role session named alice", aliceIAM, aliceSession, false},
		{"ARN event, same user name in another account", aliceIAM, aliceOtherIM, false},
		{"ARN event, OS user alice", aliceIAM, alice, false},
		{"assumed-role event, IAM user alice", aliceSession, aliceIAM, false},
		{"OS event, same OS user", alice, alice, true},
		{"OS event, IAM user alice", alice, aliceIAM, false},
		{"OS event, assumed-role session named alice", alice, aliceSession, false},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			store, clock := newStore(t)
			e, _, err := invoke(t, store, clock, i+1, tt.invoker, "prod")
			if err != nil {
				t.Fatal(err)
			}
			grant, err := NewLookup(store, testPolicyNow).ActiveBreakGlass(context.Background(), tt.caller, "prod", clock.Now())
			switch {
			case tt.want && (err != nil || grant.ID != e.ID):
				t.Fatalf("lookup by %+v = %+v, %v; want the event %s", tt.caller, grant, err, e.ID)
			case !tt.want && !errors.Is(err, ports.ErrNotFound):
				t.Fatalf("lookup by %+v = %+v, %v; want ErrNotFound (the event is %+v's)", tt.caller, grant, err, tt.invoker)
			}
		})
	}
}
