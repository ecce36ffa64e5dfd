package breakglass

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/workflow"
	"github.com/sentinel-gw/sentinel/ports"
)

// Workflows runs the break-glass workflows (open, close) over the ports:
// each step is announced to Notifier (nil: nobody) after it is stored. Now
// is Clock's. The CLI and the team server call the same functions.
type Workflows struct {
	Store    ports.BreakGlassStore
	Notifier ports.Notifier
	Clock    ports.Clock
}

// Opening is a break-glass invocation as its invoker asks for it.
type Opening struct {
	// ID is the new event's id: a fresh 128-bit hex id.
	ID            string
	Invoker       ports.Identity
	Profile       string
	ReasonCode    string
	Justification string
	Duration      time.Duration
	// Rule is the one policy.BreakGlassRuleFor(Invoker, Profile) found
	// (nil: none, and the invocation is refused).
	Rule *policy.BreakGlassRule
}

// Opened is what Open stored, with the warnings to show (a capped
// duration, an escalation).
type Opened struct {
	Event    ports.BreakGlassEvent
	Warnings []string
}

// Open invokes break-glass: it reads the invoker's and the profile's
// history, applies Invoke's rules and rate limits to it, stores the event
// and announces it (breakglass.invoked). Refusals are Invoke's. An
// invocation that loses the race to another one the history could not see
// yet is refused with ports.ErrAlreadyExists, like one the history did
// see; any other store refusal of the create is a workflow.NotRecordedError.
func (w Workflows) Open(ctx context.Context, o Opening) (Opened, error) {
	now := w.Clock.Now()
	history, err := History(ctx, w.Store, o.Invoker.Name, o.Profile, HistorySince(o.Rule, now))
	if err != nil {
		return Opened{}, err
	}
	e, warnings, err := Invoke(o.ID, o.Invoker, o.Profile, o.ReasonCode, o.Justification, o.Duration, o.Rule, history, now)
	if err != nil {
		return Opened{}, err
	}
	if e, err = w.Store.CreateBreakGlass(ctx, e); err != nil {
		if errors.Is(err, ports.ErrAlreadyExists) {
			return Opened{}, fmt.Errorf("%s already has an active break-glass for %s: close it first (sentinel breakglass-list --invoker %s --status active): %w",
				o.Invoker.Name, o.Profile, o.Invoker.Name, ports.ErrAlreadyExists)
		}
		return Opened{}, workflow.NotRecordedError{What: "break-glass", Err: err}
	}
	workflow.Notify(ctx, w.Notifier, w.Clock, ports.EventBreakGlassInvoked, o.Invoker, nil, &e)
	return Opened{Event: e, Warnings: warnings}, nil
}

// Close ends the event early under the retry loop (so a close racing an
// expiry is judged against whichever landed first) and announces it
// (breakglass.closed). rule is the one policy.BreakGlassRuleFor(who, the
// event's profile) found, nil when none or when the policy could not be
// read (then only the invoker may close). Refusals are those of Close.
func (w Workflows) Close(ctx context.Context, id string, who ports.Identity, rule *policy.BreakGlassRule, reason string) (ports.BreakGlassEvent, error) {
	e, err := UpdateWithRetry(ctx, w.Store, id, func(cur ports.BreakGlassEvent) (ports.BreakGlassEvent, error) {
		return Close(cur, who, rule, reason, w.Clock.Now())
	})
	if err != nil {
		return ports.BreakGlassEvent{}, err
	}
	workflow.Notify(ctx, w.Notifier, w.Clock, ports.EventBreakGlassClosed, who, nil, &e)
	return e, nil
}
