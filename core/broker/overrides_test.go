package broker_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/ports"
)

func TestApprovalThroughTheBroker(t *testing.T) {
	tm := newTeam(t)
	s := tm.replica(t)
	id := open(t, s, alice, "prod").Session.ID
	var denied *gateway.DeniedError
	if err := creds(s, alice, id); !errors.As(err, &denied) || !denied.RequiresApproval {
		t.Fatalf("prod before approval: err = %v, want a denial that requires approval", err)
	}
	req, err := s.CreateRequest(t.Context(), alice, ports.RequestInput{Profile: "prod", Justification: "deploy the fix for INC-42", Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	r := req.Request
	if r.Requester != "alice" || r.RequesterARN != alice.ARN || r.Status != ports.RequestPending {
		t.Errorf("request = %+v, want alice's pending request", r)
	}
	if len(req.Warnings) != 1 || !strings.Contains(req.Warnings[0], "webhook delivery failed") || !strings.Contains(req.Warnings[0], "request.created") {
		t.Errorf("warnings = %q, want the failed request.created delivery", req.Warnings)
	}
	// alice is an approver of prod, but not of her own request.
	_, err = s.DecideRequest(t.Context(), alice, ports.DecideInput{ID: r.ID, Approve: true})
	wantIs(t, "self-approval", err, ports.ErrForbidden)
	// mallory approves nothing and may not even see it.
	_, err = s.DecideRequest(t.Context(), mallory, ports.DecideInput{ID: r.ID, Approve: true})
	wantIs(t, "mallory approves", err, ports.ErrForbidden)
	_, err = s.ShowRequest(t.Context(), mallory, r.ID)
	wantIs(t, "mallory shows it", err, ports.ErrForbidden)
	_, err = s.CancelRequest(t.Context(), mallory, r.ID)
	wantIs(t, "mallory cancels it", err, ports.ErrForbidden)
	_, err = s.DecideRequest(t.Context(), mallory, ports.DecideInput{ID: r.ID[:8], Approve: true})
	wantIs(t, "mallory approves by prefix", err, ports.ErrNotFound)

	lists := map[string]ports.Identity{"alice": alice, "bob": bob, "carol": carol, "mallory": mallory}
	want := map[string]int{"alice": 1, "bob": 1, "carol": 1, "mallory": 0}
	for name, who := range lists {
		got, err := s.ListRequests(t.Context(), who, ports.ListRequestsInput{})
		if err != nil || len(got) != want[name] {
			t.Errorf("%s lists %d requests (%v), want %d", name, len(got), err, want[name])
		}
	}
	approved, err := s.DecideRequest(t.Context(), bob, ports.DecideInput{ID: r.ID[:8], Approve: true, Comment: "ok"})
	if err != nil || approved.Request.Status != ports.RequestApproved || approved.Request.Approver != "bob" {
		t.Fatalf("bob approves = %+v, %v", approved.Request, err)
	}
	if len(approved.Warnings) != 1 || !strings.Contains(approved.Warnings[0], "request.approved") {
		t.Errorf("approve warnings = %q, want the failed request.approved delivery", approved.Warnings)
	}
	// The session's very next request is served, through any replica.
	if err := creds(s, alice, id); err != nil {
		t.Errorf("prod after approval: %v", err)
	}
	if err := creds(tm.replica(t), alice, id); err != nil {
		t.Errorf("prod after approval via another replica: %v", err)
	}
	// Cancelling the approval ends it at the next request.
	if _, err := s.CancelRequest(t.Context(), alice, r.ID); err != nil {
		t.Fatal(err)
	}
	if err := creds(s, alice, id); !errors.As(err, &denied) {
		t.Errorf("prod after the cancel: err = %v, want a denial", err)
	}
}

func TestBreakGlassThroughTheBroker(t *testing.T) {
	tm := newTeam(t)
	s := tm.replica(t)
	_, err := s.OpenBreakGlass(t.Context(), mallory, ports.BreakGlassInput{Profile: "prod", ReasonCode: "incident", Justification: "the database is on fire", Duration: time.Hour})
	wantIs(t, "mallory breaks glass", err, ports.ErrForbidden)
	// A role session calling itself alice is not alice's IAM user.
	_, err = s.OpenBreakGlass(t.Context(), alias, ports.BreakGlassInput{Profile: "prod", ReasonCode: "incident", Justification: "the database is on fire", Duration: time.Hour})
	wantIs(t, "the alias breaks glass", err, ports.ErrForbidden)

	id := open(t, s, alice, "prod").Session.ID
	out, err := s.OpenBreakGlass(t.Context(), alice, ports.BreakGlassInput{Profile: "prod", ReasonCode: "incident", Justification: "the database is on fire", Duration: time.Hour})
	if err != nil || out.Event.Status != ports.BreakGlassActive || out.Event.InvokerARN != alice.ARN {
		t.Fatalf("alice breaks glass = %+v, %v", out.Event, err)
	}
	if len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], "breakglass.invoked") {
		t.Errorf("warnings = %q, want the failed breakglass.invoked delivery", out.Warnings)
	}
	if err := creds(s, alice, id); err != nil {
		t.Errorf("prod under break-glass: %v", err)
	}
	_, err = s.ShowBreakGlass(t.Context(), mallory, out.Event.ID)
	wantIs(t, "mallory shows it", err, ports.ErrForbidden)
	_, err = s.CloseBreakGlass(t.Context(), mallory, ports.CloseBreakGlassInput{ID: out.Event.ID, Reason: "mine now"})
	wantIs(t, "mallory closes it", err, ports.ErrForbidden)
	for who, want := range map[*ports.Identity]int{&alice: 1, &carol: 1, &mallory: 0, &bob: 0} {
		got, err := s.ListBreakGlass(t.Context(), *who, ports.ListBreakGlassInput{})
		if err != nil || len(got) != want {
			t.Errorf("%s lists %d events (%v), want %d", who.Name, len(got), err, want)
		}
	}
	if got, err := s.ShowBreakGlass(t.Context(), carol, out.Event.ID[:8]); err != nil || got.ID != out.Event.ID {
		t.Errorf("admin shows it by prefix: %+v, %v", got, err)
	}
	closed, err := s.CloseBreakGlass(t.Context(), alice, ports.CloseBreakGlassInput{ID: out.Event.ID[:8], Reason: "fixed"})
	if err != nil || closed.Event.Status != ports.BreakGlassClosed {
		t.Fatalf("alice closes it = %+v, %v", closed.Event, err)
	}
	var denied *gateway.DeniedError
	if err := creds(s, alice, id); !errors.As(err, &denied) {
		t.Errorf("prod after closing break-glass: err = %v, want a denial", err)
	}
}

func TestEveryOperationNeedsAVerifiedCaller(t *testing.T) {
	tm := newTeam(t)
	s := tm.replica(t)
	id := open(t, s, alice, "dev").Session.ID
	nobody := ports.Identity{Name: "alice", Source: "os"} // no ARN: no proof was checked
	ops := map[string]func() error{
		"WhoAmI": func() error { _, err := s.WhoAmI(t.Context(), nobody); return err },
		"OpenSession": func() error {
			_, err := s.OpenSession(t.Context(), nobody, ports.OpenSessionInput{Profile: "dev"})
			return err
		},
		"Heartbeat":   func() error { _, err := s.Heartbeat(t.Context(), nobody, id); return err },
		"Close":       func() error { return s.CloseSession(t.Context(), nobody, id) },
		"Credentials": func() error { return creds(s, nobody, id) },
		"OneShot": func() error {
			_, err := s.OneShot(t.Context(), nobody, ports.OneShotInput{Profile: "dev", Mode: "cli"})
			return err
		},
		"List": func() error { _, err := s.ListSessions(t.Context(), nobody, ports.ListSessionsInput{}); return err },
		"Show": func() error { _, err := s.ShowSession(t.Context(), nobody, id); return err },
		"Revoke": func() error {
			_, err := s.Revoke(t.Context(), nobody, ports.RevokeInput{ID: id, Reason: "x"})
			return err
		},
		"Request": func() error {
			_, err := s.CreateRequest(t.Context(), nobody, ports.RequestInput{Profile: "prod", Justification: "deploy the fix", Duration: time.Hour})
			return err
		},
		"Decide": func() error {
			_, err := s.DecideRequest(t.Context(), nobody, ports.DecideInput{ID: id, Approve: true})
			return err
		},
		"Cancel":       func() error { _, err := s.CancelRequest(t.Context(), nobody, id); return err },
		"ListRequests": func() error { _, err := s.ListRequests(t.Context(), nobody, ports.ListRequestsInput{}); return err },
		"ShowRequest":  func() error { _, err := s.ShowRequest(t.Context(), nobody, id); return err },
		"BreakGlass": func() error {
			_, err := s.OpenBreakGlass(t.Context(), nobody, ports.BreakGlassInput{Profile: "prod", ReasonCode: "incident", Justification: "fire", Duration: time.Hour})
			return err
		},
		"CloseBreakGlass": func() error {
			_, err := s.CloseBreakGlass(t.Context(), nobody, ports.CloseBreakGlassInput{ID: id, Reason: "x"})
			return err
		},
		"ListBreakGlass": func() error { _, err := s.ListBreakGlass(t.Context(), nobody, ports.ListBreakGlassInput{}); return err },
		"ShowBreakGlass": func() error { _, err := s.ShowBreakGlass(t.Context(), nobody, id); return err },
	}
	for name, op := range ops {
		wantIs(t, name, op(), ports.ErrUnauthenticated)
	}
	if got, _ := tm.store.GetSession(t.Context(), id); got.Status != ports.SessionActive {
		t.Errorf("the session is %s after the refused calls, want active", got.Status)
	}
}

func TestAdminSeesButDoesNotDecideOrClose(t *testing.T) {
	tm := newTeam(t)
	s := tm.replica(t)
	req, err := s.CreateRequest(t.Context(), alice, ports.RequestInput{Profile: "prod", Justification: "deploy the fix for INC-42", Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := s.ShowRequest(t.Context(), carol, req.Request.ID); err != nil || got.ID != req.Request.ID {
		t.Errorf("admin shows the request: %+v, %v", got, err)
	}
	// Approvers stay as the policy's approvals say: admins is not among them.
	_, err = s.DecideRequest(t.Context(), carol, ports.DecideInput{ID: req.Request.ID, Approve: true})
	wantIs(t, "admin approves", err, ports.ErrForbidden)
	bg, err := s.OpenBreakGlass(t.Context(), alice, ports.BreakGlassInput{Profile: "prod", ReasonCode: "incident", Justification: "the database is on fire", Duration: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.CloseBreakGlass(t.Context(), carol, ports.CloseBreakGlassInput{ID: bg.Event.ID, Reason: "not an incident"})
	wantIs(t, "admin closes alice's break-glass", err, ports.ErrForbidden)
}
