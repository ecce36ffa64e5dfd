package approval

import (
	"context"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// MaxLookupScan bounds how many of a user's requests one lookup reads. The
// lookup runs on every credential request, so a user with more recent
// requests than this gets no approval (fail closed) rather than a slow server.
const MaxLookupScan = 200

// lookupPage is the page size of the lookup's listing.
const lookupPage = 50

// Lookup finds the approval that applies to a user and profile now. It
// implements ports.ApprovalLookup on top of an ApprovalStore, and honours
// only approvals the policy in force authorizes (Authorized).
type Lookup struct {
	store  ports.ApprovalStore
	policy func() (*policy.Policy, error)
}

var _ ports.ApprovalLookup = (*Lookup)(nil)

// NewLookup returns a Lookup reading store and checking each approval
// against the policy current returns (the server's hot-reloaded policy).
func NewLookup(store ports.ApprovalStore, current func() (*policy.Policy, error)) *Lookup {
	return &Lookup{store: store, policy: current}
}

// ActiveApproval returns the newest request of who for profile that is
// Active at now, or an error wrapping ports.ErrNotFound. Only requests who
// made count (ports.Identity.Made): one made with an ARN matches only that
// ARN, one made by an OS identity only the OS identity of that name. It
// reads the requests filed under who's name
// requests newest first and stops at the first one created too long ago to
// be active still (DecisionWindow + MaxDuration before now), or after
// MaxLookupScan requests. Store errors are returned wrapped.
func (l *Lookup) ActiveApproval(ctx context.Context, who ports.Identity, profile string, now time.Time) (ports.ApprovalGrant, error) {
	user := who.Name
	if user == "" || profile == "" {
		return ports.ApprovalGrant{}, fmt.Errorf("approval lookup: no user or profile: %w", ports.ErrNotFound)
	}
	pol, err := l.policy()
	if err != nil {
		return ports.ApprovalGrant{}, fmt.Errorf("approval lookup for %s on %s: policy: %w", user, profile, err)
	}
	oldest := now.Add(-(DecisionWindow + MaxDuration))
	page := ports.Page{Limit: lookupPage}
	for scanned := 0; scanned < MaxLookupScan; {
		got, err := l.store.ListRequestsByRequester(ctx, user, page)
		if err != nil {
			return ports.ApprovalGrant{}, fmt.Errorf("approval lookup for %s on %s: %w", user, profile, err)
		}
		for _, r := range got.Requests {
			if r.CreatedAt.Before(oldest) || scanned == MaxLookupScan {
				return ports.ApprovalGrant{}, notFound(user, profile)
			}
			scanned++
			if who.Made(r.Requester, r.RequesterARN) && Active(r, user, profile, now) && Authorized(r, pol) {
				return ports.ApprovalGrant{ID: r.ID, ExpiresAt: r.ExpiresAt}, nil
			}
		}
		if got.Next == "" || len(got.Requests) == 0 {
			break
		}
		page.Cursor = got.Next
	}
	return ports.ApprovalGrant{}, notFound(user, profile)
}

func notFound(user, profile string) error {
	return fmt.Errorf("no approved request of %s for %s applies now: %w", user, profile, ports.ErrNotFound)
}
