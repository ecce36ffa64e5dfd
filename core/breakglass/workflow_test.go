package breakglass

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
// t0, and the notifications they sent.
func workflows(t *testing.T) (Workflows, *ports.FakeClock, *workflowtest.Recorder) {
	t.Helper()
	store, clock := newStore(t)
	rec := &workflowtest.Recorder{}
	return Workflows{Store: store, Notifier: rec, Clock: clock}, clock, rec
}

func opening(t *testing.T, n int, d time.Duration) Opening {
	t.Helper()
	return Opening{ID: idN(n), Invoker: alice, Profile: "prod", ReasonCode: ReasonIncident, Justification: justification, Duration: d, Rule: testRule(t)}
}

func wantEvents(t *testing.T, rec *workflowtest.Recorder, want ...string) {
	t.Helper()
	if got := rec.Types(); !slices.Equal(got, want) {
		t.Fatalf("notifications = %v, want %v", got, want)
	}
}

func TestOpenStoresAndAnnounces(t *testing.T) {
	t.Parallel()
	w, _, rec := workflows(t)
	got, err := w.Open(context.Background(), opening(t, 1, 3*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	e := got.Event
	if e.Status != ports.BreakGlassActive || e.Version != 1 || e.Duration != 2*time.Hour || !e.ExpiresAt.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("opened = %+v, want active for the rule's 2h maximum", e)
	}
	if len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "capped to the 2h maximum of rule prod-emergency") {
		t.Errorf("warnings = %q, want the cap", got.Warnings)
	}
	if stored, err := w.Store.GetBreakGlass(context.Background(), idN(1)); err != nil || stored.Status != ports.BreakGlassActive {
		t.Fatalf("stored = %+v, %v", stored, err)
	}
	wantEvents(t, rec, ports.EventBreakGlassInvoked)
	if d := rec.Deliveries()[0]; d.Actor != "alice" || d.BreakGlass.ID != idN(1) || d.Request != nil {
		t.Errorf("invoked notification = %+v", d.Notification)
	}
}

// Open reads the history from the store, so its rate limits hold across
// invocations: a second one inside the rule's 30m cooldown is refused even
// after the first was closed, and allowed once the cooldown has passed.
func TestOpenAppliesTheStoredHistory(t *testing.T) {
	t.Parallel()
	w, clock, rec := workflows(t)
	if _, err := w.Open(context.Background(), opening(t, 1, time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, err := w.Open(context.Background(), opening(t, 2, time.Hour))
	wantError(t, err, []error{ports.ErrAlreadyExists}, "already has an active break-glass for prod")
	clock.Advance(time.Minute)
	if _, err := w.Close(context.Background(), idN(1), alice, testRule(t), "fixed"); err != nil {
		t.Fatal(err)
	}
	_, err = w.Open(context.Background(), opening(t, 2, time.Hour))
	wantError(t, err, []error{ErrRateLimited, ErrForbidden}, "cooldown")
	clock.Advance(30 * time.Minute)
	got, err := w.Open(context.Background(), opening(t, 2, time.Hour))
	// The second in the window is not above escalation_threshold 2.
	if err != nil || got.Event.ID != idN(2) || got.Event.Escalated {
		t.Fatalf("after the cooldown = %+v, %v, want opened, not escalated", got, err)
	}
	wantEvents(t, rec, ports.EventBreakGlassInvoked, ports.EventBreakGlassClosed, ports.EventBreakGlassInvoked)
}

// blindHistory hides every event from the listings, as a store whose index
// lags a concurrent create does: the history sees nothing, and only the
// store's own "one active event per invoker and profile" catches the race.
type blindHistory struct{ ports.BreakGlassStore }

func (blindHistory) ListBreakGlassByInvoker(context.Context, string, ports.Page) (ports.BreakGlassPage, error) {
	return ports.BreakGlassPage{}, nil
}

func (blindHistory) ListBreakGlassByProfile(context.Context, string, ports.Page) (ports.BreakGlassPage, error) {
	return ports.BreakGlassPage{}, nil
}

func TestOpenLosesTheRaceTheHistoryCannotSee(t *testing.T) {
	t.Parallel()
	w, _, rec := workflows(t)
	if _, err := w.Open(context.Background(), opening(t, 1, time.Hour)); err != nil {
		t.Fatal(err)
	}
	w.Store = blindHistory{w.Store}
	_, err := w.Open(context.Background(), opening(t, 2, time.Hour))
	wantError(t, err, []error{ports.ErrAlreadyExists}, "alice already has an active break-glass for prod: close it first (sentinel breakglass-list --invoker alice --status active)")
	if _, ok := errors.AsType[workflow.NotRecordedError](err); ok {
		t.Errorf("a lost race is a refusal, not a store failure: %v", err)
	}
	if _, err := w.Store.GetBreakGlass(context.Background(), idN(2)); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("the loser was stored: %v", err)
	}
	wantEvents(t, rec, ports.EventBreakGlassInvoked)
}

// failingCreate refuses every create with err.
type failingCreate struct {
	ports.BreakGlassStore
	err error
}

func (f failingCreate) CreateBreakGlass(context.Context, ports.BreakGlassEvent) (ports.BreakGlassEvent, error) {
	return ports.BreakGlassEvent{}, f.err
}

func TestOpenNotRecorded(t *testing.T) {
	t.Parallel()
	w, _, rec := workflows(t)
	w.Store = failingCreate{BreakGlassStore: w.Store, err: fmt.Errorf("redis: create: %w", ports.ErrUnavailable)}
	_, err := w.Open(context.Background(), opening(t, 1, time.Hour))
	nr, ok := errors.AsType[workflow.NotRecordedError](err)
	if !ok || nr.What != "break-glass" || !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("err = %v, want a NotRecordedError wrapping the store's", err)
	}
	wantEvents(t, rec)
}

func TestOpenRefusals(t *testing.T) {
	t.Parallel()
	noRule := opening(t, 1, time.Hour)
	noRule.Invoker, noRule.Rule = mallory, nil
	reason := opening(t, 1, time.Hour)
	reason.ReasonCode = ReasonMaintenance
	for _, tt := range []struct {
		name     string
		o        Opening
		want     []error
		contains string
	}{
		{"no rule", noRule, []error{ErrForbidden}, "no break-glass rule lets mallory"},
		{"reason not allowed", reason, []error{ErrForbidden}, "reason code maintenance is not allowed"},
		{"too short", opening(t, 1, time.Second), []error{ports.ErrInvalidArgument}, "too short"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			w, _, rec := workflows(t)
			_, err := w.Open(context.Background(), tt.o)
			wantError(t, err, tt.want, tt.contains)
			if _, err := w.Store.GetBreakGlass(context.Background(), idN(1)); !errors.Is(err, ports.ErrNotFound) {
				t.Errorf("a refused invocation was stored: %v", err)
			}
			wantEvents(t, rec)
		})
	}
}

func TestWorkflowsClose(t *testing.T) {
	t.Parallel()
	w, clock, rec := workflows(t)
	if _, err := w.Open(context.Background(), opening(t, 1, time.Hour)); err != nil {
		t.Fatal(err)
	}
	// mallory neither invoked it nor may invoke for prod.
	_, err := w.Close(context.Background(), idN(1), mallory, nil, "not mine")
	wantError(t, err, []error{ErrForbidden}, "mallory cannot close")
	// bob may: the rule lets him invoke for prod.
	clock.Advance(time.Minute)
	bobRule, _ := testPolicyParsed(t).BreakGlassRuleFor(bob, "prod")
	got, err := w.Close(context.Background(), idN(1), bob, bobRule, "  database restored ")
	if err != nil || got.Status != ports.BreakGlassClosed || got.ClosedBy != "bob" || got.ClosedReason != "database restored" || got.Version != 2 {
		t.Fatalf("closed = %+v, %v", got, err)
	}
	_, err = w.Close(context.Background(), idN(1), alice, nil, "again")
	wantError(t, err, []error{ports.ErrInvalidTransition}, "already closed")
	wantEvents(t, rec, ports.EventBreakGlassInvoked, ports.EventBreakGlassClosed)
	if d := rec.Deliveries()[1]; d.Actor != "bob" || d.BreakGlass.Status != ports.BreakGlassClosed {
		t.Errorf("closed notification = %+v", d.Notification)
	}
}

// A close that comes after the event ran out is refused, even though the
// stored record still says active: the retry loop judges the record as it
// is at the clock's now.
func TestWorkflowsCloseAfterExpiry(t *testing.T) {
	t.Parallel()
	w, clock, rec := workflows(t)
	if _, err := w.Open(context.Background(), opening(t, 1, time.Hour)); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	_, err := w.Close(context.Background(), idN(1), alice, nil, "too late")
	wantError(t, err, []error{ports.ErrInvalidTransition}, "already expired")
	wantEvents(t, rec, ports.EventBreakGlassInvoked)
}
