// Package workflowtest holds the notifier the workflow tests read back.
package workflowtest

import (
	"context"
	"sync"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// Delivery is one notification as a Recorder received it, with what its
// context said at delivery time.
type Delivery struct {
	ports.Notification
	// CtxErr is the context's error when Notify ran (nil: still live).
	CtxErr error
	// Deadline is the context's deadline (zero: none).
	Deadline time.Time
}

// Recorder is a ports.Notifier that keeps every notification in order.
type Recorder struct {
	mu  sync.Mutex
	got []Delivery
}

// Notify records n.
func (r *Recorder) Notify(ctx context.Context, n ports.Notification) {
	d := Delivery{Notification: n, CtxErr: ctx.Err()}
	d.Deadline, _ = ctx.Deadline()
	r.mu.Lock()
	r.got = append(r.got, d)
	r.mu.Unlock()
}

// Deliveries returns what was delivered so far, in a fresh slice.
func (r *Recorder) Deliveries() []Delivery {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Delivery(nil), r.got...)
}

// Types returns the event type of each delivery, in order.
func (r *Recorder) Types() []string {
	var out []string
	for _, d := range r.Deliveries() {
		out = append(out, d.Type)
	}
	return out
}
