package breakglass

import (
	"context"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// MaxLookupScan bounds how many of a user's events one lookup reads; past
// it the lookup finds nothing (fail closed) rather than slow the server.
const MaxLookupScan = 200

// MaxHistoryScan bounds each of the two listings History reads. Limits in a
// policy are far below it, so a longer history would be refused anyway.
const MaxHistoryScan = 1000

// listPage is the page size of the listings here.
const listPage = 100

// Lookup finds the active break-glass event of a user for a profile. It
// implements ports.BreakGlassLookup on top of a BreakGlassStore, and honours
// only events the policy in force authorizes (Authorized).
type Lookup struct {
	store  ports.BreakGlassStore
	policy func() (*policy.Policy, error)
}

var _ ports.BreakGlassLookup = (*Lookup)(nil)

// NewLookup returns a Lookup reading store and checking each event against
// the policy current returns (the server's hot-reloaded policy).
func NewLookup(store ports.BreakGlassStore, current func() (*policy.Policy, error)) *Lookup {
	return &Lookup{store: store, policy: current}
}

// Authorized re-checks, at use time, that the policy in force lets e's
// invoker break glass for e.Profile with e's reason code and duration, so an
// event written straight into the store grants nothing, and a user taken out
// of the rule loses an event already running.
func Authorized(e ports.BreakGlassEvent, pol *policy.Policy) bool {
	rule, ok := pol.BreakGlassRuleFor(ports.Identity{Name: e.Invoker, ARN: e.InvokerARN}, e.Profile)
	return ok && rule.AllowsReason(e.ReasonCode) && e.Duration <= rule.MaxDuration
}

// ActiveBreakGlass returns the newest event of who for profile that is
// Active at now, or an error wrapping ports.ErrNotFound. Only events who
// invoked count (ports.Identity.Made): one invoked with an ARN matches only
// that ARN, one invoked by an OS identity only the OS identity of that name.
// It reads the events filed under who's name
// events newest first and stops at the first one started more than
// MaxDuration before now (no older event can still be active), or after
// MaxLookupScan events. Store errors are returned wrapped.
func (l *Lookup) ActiveBreakGlass(ctx context.Context, who ports.Identity, profile string, now time.Time) (ports.BreakGlassGrant, error) {
	user := who.Name
	if user == "" || profile == "" {
		return ports.BreakGlassGrant{}, fmt.Errorf("break-glass lookup: no user or profile: %w", ports.ErrNotFound)
	}
	pol, err := l.policy()
	if err != nil {
		return ports.BreakGlassGrant{}, fmt.Errorf("break-glass lookup for %s on %s: policy: %w", user, profile, err)
	}
	oldest := now.Add(-MaxDuration)
	var found *ports.BreakGlassEvent
	err = walk(func(p ports.Page) (ports.BreakGlassPage, error) {
		return l.store.ListBreakGlassByInvoker(ctx, user, p)
	}, MaxLookupScan, func(e ports.BreakGlassEvent) bool {
		if e.CreatedAt.Before(oldest) {
			return false
		}
		if who.Made(e.Invoker, e.InvokerARN) && Active(e, user, profile, now) && Authorized(e, pol) {
			found = &e
			return false
		}
		return true
	})
	switch {
	case err != nil:
		return ports.BreakGlassGrant{}, fmt.Errorf("break-glass lookup for %s on %s: %w", user, profile, err)
	case found == nil:
		return ports.BreakGlassGrant{}, fmt.Errorf("no active break-glass of %s for %s: %w", user, profile, ports.ErrNotFound)
	}
	return ports.BreakGlassGrant{ID: found.ID, ExpiresAt: found.ExpiresAt}, nil
}

// History gathers what Invoke needs: the invoker's events and the profile's
// events created after since (use HistorySince), newest first per listing,
// each listing bounded by MaxHistoryScan. Events in both listings appear
// twice; Invoke counts each once.
func History(ctx context.Context, store ports.BreakGlassStore, invoker, profile string, since time.Time) ([]ports.BreakGlassEvent, error) {
	var out []ports.BreakGlassEvent
	collect := func(e ports.BreakGlassEvent) bool {
		if !e.CreatedAt.After(since) {
			return false
		}
		out = append(out, e)
		return true
	}
	if err := walk(func(p ports.Page) (ports.BreakGlassPage, error) {
		return store.ListBreakGlassByInvoker(ctx, invoker, p)
	}, MaxHistoryScan, collect); err != nil {
		return nil, fmt.Errorf("break-glass history of %s: %w", invoker, err)
	}
	if err := walk(func(p ports.Page) (ports.BreakGlassPage, error) {
		return store.ListBreakGlassByProfile(ctx, profile, p)
	}, MaxHistoryScan, collect); err != nil {
		return nil, fmt.Errorf("break-glass history of %s: %w", profile, err)
	}
	return out, nil
}

// walk visits a newest-first listing page by page until visit returns
// false, the listing ends, or limit events were visited.
func walk(list func(ports.Page) (ports.BreakGlassPage, error), limit int, visit func(ports.BreakGlassEvent) bool) error {
	page := ports.Page{Limit: min(listPage, limit)}
	for visited := 0; ; {
		got, err := list(page)
		if err != nil {
			return err
		}
		for _, e := range got.Events {
			if visited == limit || !visit(e) {
				return nil
			}
			visited++
		}
		if got.Next == "" || len(got.Events) == 0 {
			return nil
		}
		page.Cursor = got.Next
	}
}
