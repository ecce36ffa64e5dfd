package approval

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/workflow"
	"github.com/sentinel-gw/sentinel/core/workflow/workflowtest"
	"github.com/sentinel-gw/sentinel/ports"
)

// workflows returns Workflows over the reference store on a fake clock at
// t0 (a Monday, 09:00: inside dave's auto-approval hours), and the
// notifications they sent.
func workflows(t *testing.T) (Workflows, *workflowtest.Recorder) {
	t.Helper()
	store, clock := newStore(t)
	rec := &workflowtest.Recorder{}
	return Workflows{Store: store, Notifier: rec, Clock: clock}, rec
}

func submission(t *testing.T, who ports.Identity, d time.Duration) Submission {
	t.Helper()
	return Submission{ID: testID, Requester: who, Profile: "prod", Justification: justification, Duration: d, Rule: testRule(t)}
}

// submit drafts s at the workflows' now and submits it.
func submit(t *testing.T, w Workflows, s Submission) (Submitted, error) {
	t.Helper()
	d, err := NewDraft(s, w.Clock.Now())
	if err != nil {
		t.Fatalf("draft: %v", err)
	}
	return w.Submit(context.Background(), d)
}

func wantEvents(t *testing.T, rec *workflowtest.Recorder, want ...string) {
	t.Helper()
	if got := rec.Types(); !slices.Equal(got, want) {
		t.Fatalf("notifications = %v, want %v", got, want)
	}
}

func TestSubmitStoresAPendingRequestAndAnnouncesIt(t *testing.T) {
	t.Parallel()
	w, rec := workflows(t)
	got, err := submit(t, w, submission(t, alice, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if got.AutoApproved || got.Request.Status != ports.RequestPending || got.Request.Version != 1 {
		t.Fatalf("submitted = %+v, want a stored pending request", got)
	}
	stored, err := w.Store.GetRequest(context.Background(), testID)
	if err != nil || stored.Status != ports.RequestPending || stored.Requester != "alice" {
		t.Fatalf("stored = %+v, %v", stored, err)
	}
	wantEvents(t, rec, ports.EventRequestCreated)
	if d := rec.Deliveries()[0]; d.Actor != "alice" || d.Request.ID != testID {
		t.Errorf("created notification = %+v", d.Notification)
	}
}

func TestSubmitAutoApprovesUnderTheRule(t *testing.T) {
	t.Parallel()
	w, rec := workflows(t)
	got, err := submit(t, w, submission(t, dave, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !got.AutoApproved || got.Request.Status != ports.RequestApproved || got.Request.Approver != AutoApproverPrefix+"prod-approvals" {
		t.Fatalf("submitted = %+v, want approved by the rule", got)
	}
	stored, err := w.Store.GetRequest(context.Background(), testID)
	if err != nil || stored.Status != ports.RequestApproved || !stored.ExpiresAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("stored = %+v, %v", stored, err)
	}
	wantEvents(t, rec, ports.EventRequestCreated, ports.EventRequestApproved)
	if d := rec.Deliveries()[1]; d.Actor != AutoApproverPrefix+"prod-approvals" || d.Request.Status != ports.RequestApproved {
		t.Errorf("approved notification = %+v", d.Notification)
	}
}

// The auto-approval is judged again under the retry loop: a cancel that
// lands between the create and the approval wins, and the request stays
// cancelled (an approval written over it would grant access withdrawn).
func TestSubmitAutoApprovalLosesToARacingCancel(t *testing.T) {
	t.Parallel()
	w, rec := workflows(t)
	hook := &hookStore{ApprovalStore: w.Store}
	hook.beforeUpdate = func(ctx context.Context, inner ports.ApprovalStore) {
		hook.mu.Lock()
		hook.beforeUpdate = nil // once
		hook.mu.Unlock()
		cur, err := inner.GetRequest(ctx, testID)
		if err != nil {
			t.Error(err)
			return
		}
		cancelled, err := Cancel(cur, dave, nil, t0)
		if err != nil {
			t.Error(err)
			return
		}
		if _, err := inner.UpdateRequest(ctx, cancelled); err != nil {
			t.Error(err)
		}
	}
	w.Store = hook
	got, err := submit(t, w, submission(t, dave, time.Hour))
	if err == nil || !strings.Contains(err.Error(), "was created but not auto-approved") || !strings.Contains(err.Error(), "no longer qualifies") {
		t.Fatalf("err = %v, want the lost auto-approval", err)
	}
	if got.AutoApproved || got.Request.ID != testID {
		t.Errorf("submitted = %+v, want the created request, not approved", got)
	}
	stored, err := hook.GetRequest(context.Background(), testID)
	if err != nil || stored.Status != ports.RequestCancelled {
		t.Fatalf("stored = %+v, %v, want cancelled", stored, err)
	}
	wantEvents(t, rec, ports.EventRequestCreated)
}

// failingCreate is a store that refuses every create.
type failingCreate struct {
	ports.ApprovalStore
	err error
}

func (f failingCreate) CreateRequest(context.Context, ports.ApprovalRequest) (ports.ApprovalRequest, error) {
	return ports.ApprovalRequest{}, f.err
}

func TestSubmitNotRecorded(t *testing.T) {
	t.Parallel()
	w, rec := workflows(t)
	cause := fmt.Errorf("dynamo: put request: %w", ports.ErrUnavailable)
	w.Store = failingCreate{ApprovalStore: w.Store, err: cause}
	_, err := submit(t, w, submission(t, dave, time.Hour))
	nr, ok := errors.AsType[workflow.NotRecordedError](err)
	if !ok || nr.What != "request" || !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("err = %v, want a NotRecordedError wrapping the store's", err)
	}
	wantEvents(t, rec) // nothing happened, so nothing is announced
}

func TestNewDraftRefusesBeforeAnyStore(t *testing.T) {
	t.Parallel()
	noRule := submission(t, alice, time.Hour)
	noRule.Rule = nil
	short := submission(t, alice, time.Hour)
	short.Justification = "because"
	tests := []struct {
		name     string
		s        Submission
		want     error
		contains string
	}{
		{"no rule covers the profile", noRule, ErrForbidden, "no approval rule covers profile prod"},
		{"rule for another profile", func() Submission { s := submission(t, alice, time.Hour); s.Profile = "dev"; return s }(), ErrForbidden, "no approval rule covers profile dev"},
		{"justification too short", short, ports.ErrInvalidArgument, "justification"},
		{"duration too short", submission(t, alice, time.Second), ports.ErrInvalidArgument, "too short"},
		{"bad id", func() Submission { s := submission(t, alice, time.Hour); s.ID = "x"; return s }(), ports.ErrInvalidArgument, "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := NewDraft(tt.s, t0)
			wantError(t, err, tt.want, tt.contains)
		})
	}
	d, err := NewDraft(submission(t, alice, 12*time.Hour), t0)
	if err != nil || d.Request.Duration != MaxDuration || len(d.Warnings) != 1 || !strings.Contains(d.Warnings[0], "capped") {
		t.Fatalf("draft = %+v, %v, want capped with a warning", d, err)
	}
}

func TestWorkflowsDecide(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		decision   Decision
		wantStatus ports.RequestStatus
		wantEvent  string
		want       error
		contains   string
	}{
		{"bob approves", Decision{Who: bob, Approve: true, Comment: "ok"}, ports.RequestApproved, ports.EventRequestApproved, nil, ""},
		{"carol denies by ARN", Decision{Who: carol, Comment: "use staging"}, ports.RequestDenied, ports.EventRequestDenied, nil, ""},
		{"alice approves her own", Decision{Who: alice, Approve: true}, ports.RequestPending, "", ErrForbidden, "your own request"},
		{"mallory is no approver", Decision{Who: mallory, Approve: true}, ports.RequestPending, "", ErrForbidden, "not an approver"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, rec := workflows(t)
			if _, err := submit(t, w, submission(t, alice, time.Hour)); err != nil {
				t.Fatal(err)
			}
			w.Clock.(*ports.FakeClock).Advance(time.Minute)
			d := tt.decision
			d.ID, d.Rule = testID, testRule(t)
			got, err := w.Decide(context.Background(), d)
			wantError(t, err, tt.want, tt.contains)
			stored, gerr := w.Store.GetRequest(context.Background(), testID)
			if gerr != nil || stored.Status != tt.wantStatus {
				t.Fatalf("stored = %+v, %v, want %s", stored, gerr, tt.wantStatus)
			}
			if tt.want != nil {
				wantEvents(t, rec, ports.EventRequestCreated)
				return
			}
			if got.Status != tt.wantStatus || got.Approver != d.Who.Name || got.ApproverComment != d.Comment {
				t.Errorf("decided = %+v", got)
			}
			if tt.wantStatus == ports.RequestApproved && !got.ExpiresAt.Equal(t0.Add(time.Minute+time.Hour)) {
				t.Errorf("access until %v, want an hour from the approval", got.ExpiresAt)
			}
			wantEvents(t, rec, ports.EventRequestCreated, tt.wantEvent)
			if n := rec.Deliveries()[1]; n.Actor != d.Who.Name || n.Request.Status != tt.wantStatus {
				t.Errorf("decision notification = %+v", n.Notification)
			}
		})
	}
}

// An approval racing the requester's cancel is judged against the record
// that landed first: the cancel wins, the approval is refused and not
// announced.
func TestWorkflowsDecideLosesToARacingCancel(t *testing.T) {
	t.Parallel()
	w, rec := workflows(t)
	if _, err := submit(t, w, submission(t, alice, time.Hour)); err != nil {
		t.Fatal(err)
	}
	hook := &hookStore{ApprovalStore: w.Store}
	hook.beforeUpdate = func(ctx context.Context, inner ports.ApprovalStore) {
		hook.mu.Lock()
		hook.beforeUpdate = nil // once
		hook.mu.Unlock()
		if _, err := (Workflows{Store: inner, Clock: w.Clock}).Cancel(ctx, testID, alice, nil); err != nil {
			t.Error(err)
		}
	}
	w.Store = hook
	_, err := w.Decide(context.Background(), Decision{ID: testID, Who: bob, Approve: true, Rule: testRule(t)})
	wantError(t, err, ports.ErrInvalidTransition, "was cancelled")
	if stored, err := hook.GetRequest(context.Background(), testID); err != nil || stored.Status != ports.RequestCancelled {
		t.Fatalf("stored = %+v, %v, want cancelled", stored, err)
	}
	wantEvents(t, rec, ports.EventRequestCreated)
}

func TestWorkflowsCancel(t *testing.T) {
	t.Parallel()
	w, rec := workflows(t)
	if _, err := submit(t, w, submission(t, alice, time.Hour)); err != nil {
		t.Fatal(err)
	}
	// An approver may not cancel a pending request (they deny it instead).
	_, err := w.Cancel(context.Background(), testID, bob, testRule(t))
	wantError(t, err, ErrForbidden, "only its requester (alice)")
	// Without the policy (rule nil), the requester still may.
	got, err := w.Cancel(context.Background(), testID, alice, nil)
	if err != nil || got.Status != ports.RequestCancelled || got.CancelledBy != "alice" || got.Version != 2 {
		t.Fatalf("cancelled = %+v, %v", got, err)
	}
	_, err = w.Cancel(context.Background(), testID, alice, nil)
	wantError(t, err, ports.ErrInvalidTransition, "was cancelled")
	_, err = w.Cancel(context.Background(), "ffffffffffffffffffffffffffffffff", alice, nil)
	wantError(t, err, ports.ErrNotFound, "")
	wantEvents(t, rec, ports.EventRequestCreated) // there is no cancellation event
}

// Workflows without a notifier (a policy without webhooks) still act.
func TestWorkflowsWithoutNotifier(t *testing.T) {
	t.Parallel()
	w, _ := workflows(t)
	w.Notifier = nil
	got, err := submit(t, w, submission(t, dave, time.Hour))
	if err != nil || !got.AutoApproved {
		t.Fatalf("submitted = %+v, %v", got, err)
	}
}
