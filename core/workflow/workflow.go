// Package workflow holds what the request and break-glass workflows
// (core/approval, core/breakglass) share: announcing a step the same way
// for every caller, and the error of a record the store did not take.
package workflow

import (
	"context"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// Budget bounds the wait for webhook deliveries after an action; each
// webhook has its own, shorter, timeout (at most policy.MaxWebhookTimeout).
const Budget = policy.MaxWebhookTimeout + 5*time.Second

// Notify tells n (nil: nobody) about event, done by actor at clock's now.
// Exactly one of r and e is set. Delivery is the notifier's best effort:
// it never fails the action, so Send returns nothing.
func Notify(ctx context.Context, n ports.Notifier, clock ports.Clock, event string, actor ports.Identity, r *ports.ApprovalRequest, e *ports.BreakGlassEvent) {
	if n == nil {
		return
	}
	// The action is done: a caller that gives up now must not silence it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), Budget)
	defer cancel()
	n.Notify(ctx, ports.Notification{Type: event, Time: clock.Now(), Actor: actor.Name, Request: r, BreakGlass: e})
}

// NotRecordedError is a workflow step whose new record (a request, a
// break-glass event) the store did not take: nothing was created. Err is
// the store's error.
type NotRecordedError struct {
	What string // "request", "break-glass"
	Err  error
}

func (e NotRecordedError) Error() string {
	return "could not record the " + e.What + ": " + e.Err.Error()
}

func (e NotRecordedError) Unwrap() error { return e.Err }
