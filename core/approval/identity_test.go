package approval

import (
	"context"
	"errors"
	"testing"

	"github.com/sentinel-gw/sentinel/internal/identitypairs"
	"github.com/sentinel-gw/sentinel/ports"
)

// An approval is used only by the identity that asked for it: one made with
// an ARN by that ARN alone; one made by an OS user by the OS user of that
// name alone. Sharing the short name is not enough.
func TestLookupMatchesTheRequesterIdentity(t *testing.T) {
	t.Parallel()
	for i, tt := range identitypairs.All() {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			store, clock := newStore(t)
			r := create(t, store, clock, i+1, tt.Maker, "prod")
			if _, err := decide(t, store, r.ID, func(cur ports.ApprovalRequest) (ports.ApprovalRequest, error) {
				return Approve(cur, bob, testRule(t), "", clock.Now())
			}); err != nil {
				t.Fatal(err)
			}
			grant, err := NewLookup(store, testPolicyNow).ActiveApproval(context.Background(), tt.Caller, "prod", clock.Now())
			switch {
			case tt.CallerMayUseIt && (err != nil || grant.ID != r.ID):
				t.Fatalf("lookup by %+v = %+v, %v; want the approval %s", tt.Caller, grant, err, r.ID)
			case !tt.CallerMayUseIt && !errors.Is(err, ports.ErrNotFound):
				t.Fatalf("lookup by %+v = %+v, %v; want ErrNotFound (the request is %+v's)", tt.Caller, grant, err, tt.Maker)
			}
		})
	}
}
