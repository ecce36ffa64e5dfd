package ports

import (
	"context"
	"time"
)

// The notification event types.
const (
	EventRequestCreated    = "request.created"
	EventRequestApproved   = "request.approved"
	EventRequestDenied     = "request.denied"
	EventBreakGlassInvoked = "breakglass.invoked"
	EventBreakGlassClosed  = "breakglass.closed"
)

// Notification is one event sent to the configured webhooks. Exactly one of
// Request and BreakGlass is set.
type Notification struct {
	Type       string           `json:"type"`
	Time       time.Time        `json:"time"`
	Actor      string           `json:"actor"` // who did it
	Request    *ApprovalRequest `json:"request,omitempty"`
	BreakGlass *BreakGlassEvent `json:"breakglass,omitempty"`
}

// Notifier delivers notifications. Delivery is best effort and bounded in
// time: failures are logged by the notifier and never block or undo the
// action that caused them, so Notify returns nothing.
type Notifier interface {
	Notify(ctx context.Context, n Notification)
}
