package breakglass

import (
	"context"
	"errors"
	"testing"

	"github.com/sentinel-gw/sentinel/internal/identitypairs"
	"github.com/sentinel-gw/sentinel/ports"
)

// A break-glass event is used only by the identity that invoked it: one
// invoked with an ARN by that ARN alone; one invoked by an OS user by the OS
// user of that name alone. Sharing the short name is not enough.
func TestLookupMatchesTheInvokerIdentity(t *testing.T) {
	t.Parallel()
	for i, tt := range identitypairs.All() {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			store, clock := newStore(t)
			e, _, err := invoke(t, store, clock, i+1, tt.Maker, "prod")
			if err != nil {
				t.Fatal(err)
			}
			grant, err := NewLookup(store, testPolicyNow).ActiveBreakGlass(context.Background(), tt.Caller, "prod", clock.Now())
			switch {
			case tt.CallerMayUseIt && (err != nil || grant.ID != e.ID):
				t.Fatalf("lookup by %+v = %+v, %v; want the event %s", tt.Caller, grant, err, e.ID)
			case !tt.CallerMayUseIt && !errors.Is(err, ports.ErrNotFound):
				t.Fatalf("lookup by %+v = %+v, %v; want ErrNotFound (the event is %+v's)", tt.Caller, grant, err, tt.Maker)
			}
		})
	}
}
