package workflow_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/workflow"
	"github.com/sentinel-gw/sentinel/core/workflow/workflowtest"
	"github.com/sentinel-gw/sentinel/ports"
)

var t0 = time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)

// A caller that has already given up (a CLI interrupted, a server request
// whose client left) must not silence the announcement of a step that is
// stored: the notifier gets a live context, bounded by Budget.
func TestNotifyOutlivesTheCallersContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	rec := &workflowtest.Recorder{}
	r := ports.ApprovalRequest{ID: "0123456789abcdef0123456789abcdef"}
	before := time.Now()
	workflow.Notify(ctx, rec, ports.NewFakeClock(t0), ports.EventRequestCreated, ports.Identity{Name: "alice", ARN: "arn:aws:iam::111122223333:user/alice"}, &r, nil)
	got := rec.Deliveries()
	if len(got) != 1 {
		t.Fatalf("deliveries = %d, want 1", len(got))
	}
	d := got[0]
	if d.CtxErr != nil {
		t.Errorf("notifier got a dead context: %v", d.CtxErr)
	}
	if d.Deadline.IsZero() || d.Deadline.Before(before) || d.Deadline.After(time.Now().Add(workflow.Budget)) {
		t.Errorf("deadline = %v, want within Budget (%s) of now", d.Deadline, workflow.Budget)
	}
	if d.Type != ports.EventRequestCreated || !d.Time.Equal(t0) || d.Actor != "alice" || d.Request != &r || d.BreakGlass != nil {
		t.Errorf("notification = %+v, want request.created by alice at the clock's now", d.Notification)
	}
}

func TestNotRecordedError(t *testing.T) {
	t.Parallel()
	cause := errors.Join(errors.New("dynamo: put request"), ports.ErrUnavailable)
	err := error(workflow.NotRecordedError{What: "request", Err: cause})
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Errorf("%v does not wrap the store's error", err)
	}
	if _, ok := errors.AsType[workflow.NotRecordedError](err); !ok {
		t.Errorf("%v is not a NotRecordedError", err)
	}
	if want := "could not record the request: " + cause.Error(); err.Error() != want {
		t.Errorf("message = %q, want %q", err.Error(), want)
	}
}
