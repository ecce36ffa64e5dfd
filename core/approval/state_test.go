package approval

import (
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

func TestApprove(t *testing.T) {
	t.Parallel()
	rule := testRule(t)
	otherRule := &policy.ApprovalRule{Name: "staging-approvals", Profiles: []string{"staging"}, Approvers: []string{"bob"}}
	// Inside requestIn("approved")'s window, and far enough from creation
	// that a window counted from created_at would already be over.
	now := t0.Add(90 * time.Minute)
	tests := []struct {
		name     string
		state    string
		approver ports.Identity
		rule     *policy.ApprovalRule
		comment  string
		wantErr  error
		wantMsg  string
	}{
		{"approver by name", "pending", bob, rule, "ok, go", nil, ""},
		{"approver by ARN", "pending", carol, rule, "", nil, ""},

		// Self-approval, although alice is listed as an approver.
		{"self-approval", "pending", alice, rule, "", ErrForbidden, "you cannot approve your own request"},
		{"self-approval in another case", "pending", ports.Identity{Name: "Alice"}, rule, "", ErrForbidden, "you cannot approve your own request"},
		{"self-approval by ARN", "recorded-by-arn", carol, rule, "", ErrForbidden, "you cannot approve your own request"},

		// The original system never consulted the approver list: anyone
		// with write access could approve anything. Not any more.
		{"non-approver", "pending", mallory, rule, "", ErrForbidden,
			"mallory is not an approver for profile prod (rule prod-approvals approvers: alice, bob, arn:aws:iam::111122223333:user/carol)"},
		{"name of an ARN-only approver", "pending", ports.Identity{Name: "carol", Source: "os"}, rule, "", ErrForbidden, "carol is not an approver"},
		{"no rule for the profile", "pending", bob, nil, "", ErrForbidden, "no approval rule covers profile prod: it cannot be approved"},
		{"a rule for another profile", "pending", bob, otherRule, "", ErrForbidden, "approval rule staging-approvals does not cover profile prod"},
		{"nobody", "pending", ports.Identity{}, rule, "", ports.ErrInvalidArgument, "who decides is required"},
		{"comment too long", "pending", bob, rule, strings.Repeat("x", 501), ports.ErrInvalidArgument, "comment is too long"},

		// Only pending requests can be approved; the error says which state it is in.
		{"already approved", "approved", bob, rule, "", ports.ErrInvalidTransition,
			"request " + testID + " is already approved (by bob at 2026-11-02T10:00:00Z, until 2026-11-02T11:00:00Z)"},
		{"denied", "denied", bob, rule, "", ports.ErrInvalidTransition, "was denied (by bob)"},
		{"cancelled", "cancelled", bob, rule, "", ports.ErrInvalidTransition, "was cancelled"},
		{"expired", "expired", bob, rule, "", ports.ErrInvalidTransition, "has expired (nobody decided by 2026-11-03T09:00:00Z)"},
		{"lapsed pending counts as expired", "lapsed", bob, rule, "", ports.ErrInvalidTransition, "has expired (nobody decided by 2026-11-02T09:01:00Z)"},
		{"unknown status", "unknown", bob, rule, "", ports.ErrInvalidTransition, `unknown status "paused"`},
		{"stored duration out of bounds", "zero-duration", bob, rule, "", ports.ErrInvalidArgument, "asks for 0s, outside 1m to 8h"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := requestIn(t, tt.state)
			switch tt.state {
			case "recorded-by-arn":
				r.Requester = carol.ARN
			case "zero-duration":
				r.Duration = 0
			}
			got, err := Approve(r, tt.approver, tt.rule, tt.comment, now)
			wantError(t, err, tt.wantErr, tt.wantMsg)
			if tt.wantErr != nil {
				return
			}
			// The window runs from approved_at (now), not from creation.
			if got.Status != ports.RequestApproved || got.Approver != tt.approver.Name || got.ApproverComment != tt.comment ||
				!got.ApprovedAt.Equal(now) || !got.ExpiresAt.Equal(now.Add(time.Hour)) || !got.UpdatedAt.Equal(now) ||
				!got.CreatedAt.Equal(t0) {
				t.Fatalf("Approve = %+v", got)
			}
			if !Active(got, "alice", "prod", now) || !Active(got, "alice", "prod", now.Add(time.Hour-time.Nanosecond)) ||
				Active(got, "alice", "prod", now.Add(time.Hour)) {
				t.Fatalf("approved request is not active for exactly [approved_at, approved_at+duration)")
			}
		})
	}
}

func TestDeny(t *testing.T) {
	t.Parallel()
	rule := testRule(t)
	now := t0.Add(time.Hour)
	tests := []struct {
		name     string
		state    string
		approver ports.Identity
		rule     *policy.ApprovalRule
		wantErr  error
		wantMsg  string
	}{
		{"approver denies", "pending", bob, rule, nil, ""},
		{"self-deny", "pending", alice, rule, ErrForbidden, "you cannot deny your own request: cancel it instead"},
		{"non-approver", "pending", mallory, rule, ErrForbidden, "mallory is not an approver for profile prod"},
		{"no rule", "pending", bob, nil, ErrForbidden, "no approval rule covers profile prod"},
		{"approved cannot be denied", "approved", bob, rule, ports.ErrInvalidTransition, "is already approved"},
		{"already denied", "denied", carol, rule, ports.ErrInvalidTransition, "was denied (by bob)"},
		{"cancelled", "cancelled", bob, rule, ports.ErrInvalidTransition, "was cancelled"},
		{"lapsed", "lapsed", bob, rule, ports.ErrInvalidTransition, "has expired"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Deny(requestIn(t, tt.state), tt.approver, tt.rule, " not now ", now)
			wantError(t, err, tt.wantErr, tt.wantMsg)
			if tt.wantErr != nil {
				return
			}
			if got.Status != ports.RequestDenied || got.Approver != "bob" || got.ApproverComment != "not now" ||
				!got.UpdatedAt.Equal(now) || !got.ApprovedAt.IsZero() {
				t.Fatalf("Deny = %+v", got)
			}
			if Active(got, "alice", "prod", now) {
				t.Fatal("a denied request is active")
			}
		})
	}
}

func TestCancel(t *testing.T) {
	t.Parallel()
	rule := testRule(t)
	now := t0.Add(90 * time.Minute) // inside the approved window of requestIn("approved")
	tests := []struct {
		name    string
		state   string
		by      ports.Identity
		rule    *policy.ApprovalRule
		wantErr error
		wantMsg string
	}{
		{"requester cancels pending", "pending", alice, rule, nil, ""},
		{"requester cancels pending without a rule", "pending", alice, nil, nil, ""},
		{"approver cannot cancel pending", "pending", bob, rule, ErrForbidden,
			"bob cannot cancel request " + testID + ": only its requester (alice) can cancel a pending request; an approver denies it instead"},
		{"stranger cannot cancel pending", "pending", mallory, rule, ErrForbidden, "only its requester (alice)"},
		{"requester name must be exact", "pending", ports.Identity{Name: "Alice"}, rule, ErrForbidden, "only its requester"},
		{"requester cancels approved", "approved", alice, rule, nil, ""},
		{"approver cancels approved", "approved", carol, rule, nil, ""},
		{"stranger cannot cancel approved", "approved", mallory, rule, ErrForbidden,
			"only its requester (alice) or an approver for profile prod can cancel an approved request"},
		{"approver without a rule cannot cancel approved", "approved", bob, nil, ErrForbidden, "or an approver for profile prod"},
		{"nobody", "pending", ports.Identity{}, rule, ports.ErrInvalidArgument, "who cancels it is required"},
		{"denied is terminal", "denied", alice, rule, ports.ErrInvalidTransition, "was denied"},
		{"cancelled is terminal", "cancelled", alice, rule, ports.ErrInvalidTransition, "was cancelled"},
		{"expired is terminal", "expired", alice, rule, ports.ErrInvalidTransition, "has expired"},
		{"approved past its window is expired", "lapsed-approved", alice, rule, ports.ErrInvalidTransition, "has expired (its access window ended at 2026-11-02T09:01:00Z)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			before := requestIn(t, tt.state)
			got, err := Cancel(before, tt.by, tt.rule, now)
			wantError(t, err, tt.wantErr, tt.wantMsg)
			if tt.wantErr != nil {
				return
			}
			if got.Status != ports.RequestCancelled || !got.UpdatedAt.Equal(now) || got.Approver != before.Approver {
				t.Fatalf("Cancel = %+v", got)
			}
			if Active(got, "alice", "prod", now) {
				t.Fatal("a cancelled request is active")
			}
		})
	}
}

func TestExpire(t *testing.T) {
	t.Parallel()
	now := t0.Add(90 * time.Minute)
	tests := []struct {
		state   string
		wantErr error
		wantMsg string
	}{
		{"lapsed", nil, ""},
		{"lapsed-approved", nil, ""},
		{"expired", nil, ""}, // how a store returns a lapsed request
		{"pending", ports.ErrInvalidTransition, "has not run out: it is pending until 2026-11-03T09:00:00Z"},
		{"approved", ports.ErrInvalidTransition, "has not run out: it is approved until 2026-11-02T11:00:00Z"},
		{"denied", ports.ErrInvalidTransition, "was denied"},
		{"cancelled", ports.ErrInvalidTransition, "was cancelled"},
		{"unknown", ports.ErrInvalidTransition, "unknown status"},
	}
	for _, tt := range tests {
		t.Run(tt.state, func(t *testing.T) {
			t.Parallel()
			got, err := Expire(requestIn(t, tt.state), now)
			wantError(t, err, tt.wantErr, tt.wantMsg)
			if tt.wantErr == nil && (got.Status != ports.RequestExpired || !got.UpdatedAt.Equal(now)) {
				t.Fatalf("Expire = %+v", got)
			}
		})
	}
}

func TestEffectiveStatus(t *testing.T) {
	t.Parallel()
	tests := []struct {
		state string
		at    time.Time
		want  ports.RequestStatus
	}{
		{"pending", t0, ports.RequestPending},
		{"pending", t0.Add(24*time.Hour - time.Nanosecond), ports.RequestPending},
		{"pending", t0.Add(24 * time.Hour), ports.RequestExpired},
		{"approved", t0.Add(2*time.Hour - time.Nanosecond), ports.RequestApproved},
		{"approved", t0.Add(2 * time.Hour), ports.RequestExpired},
		{"denied", t0.Add(48 * time.Hour), ports.RequestDenied},
		{"cancelled", t0.Add(48 * time.Hour), ports.RequestCancelled},
	}
	for _, tt := range tests {
		if got := EffectiveStatus(requestIn(t, tt.state), tt.at); got != tt.want {
			t.Errorf("EffectiveStatus(%s at %s) = %s, want %s", tt.state, tt.at, got, tt.want)
		}
	}
}

func TestActive(t *testing.T) {
	t.Parallel()
	approved := requestIn(t, "approved") // approved at t0+1h for 1h
	in := t0.Add(90 * time.Minute)
	tests := []struct {
		name               string
		mutate             func(*ports.ApprovalRequest)
		requester, profile string
		at                 time.Time
		want               bool
	}{
		{"inside the window", nil, "alice", "prod", in, true},
		{"at approved_at", nil, "alice", "prod", t0.Add(time.Hour), true},
		{"before approved_at", nil, "alice", "prod", t0.Add(time.Hour - time.Nanosecond), false},
		{"at the end of the window", nil, "alice", "prod", t0.Add(2 * time.Hour), false},
		{"another requester", nil, "bob", "prod", in, false},
		{"another profile", nil, "alice", "staging", in, false},
		{"no requester", nil, "", "prod", in, false},
		{"pending", func(r *ports.ApprovalRequest) { r.Status = ports.RequestPending }, "alice", "prod", in, false},
		{"cancelled", func(r *ports.ApprovalRequest) { r.Status = ports.RequestCancelled }, "alice", "prod", in, false},
		// Records these rules never write are not honoured.
		{"approved by the requester", func(r *ports.ApprovalRequest) { r.Approver = "ALICE" }, "alice", "prod", in, false},
		{"no approver", func(r *ports.ApprovalRequest) { r.Approver = "" }, "alice", "prod", in, false},
		{"no approved_at", func(r *ports.ApprovalRequest) { r.ApprovedAt = time.Time{} }, "alice", "prod", in, false},
		{"window over 8h", func(r *ports.ApprovalRequest) { r.ExpiresAt = r.ApprovedAt.Add(8*time.Hour + time.Second) }, "alice", "prod", in, false},
		{"window of exactly 8h", func(r *ports.ApprovalRequest) { r.ExpiresAt = r.ApprovedAt.Add(8 * time.Hour) }, "alice", "prod", in, true},
	}
	for _, tt := range tests {
		r := approved
		if tt.mutate != nil {
			tt.mutate(&r)
		}
		if got := Active(r, tt.requester, tt.profile, tt.at); got != tt.want {
			t.Errorf("%s: Active = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestAutoApprove(t *testing.T) {
	t.Parallel()
	rule := testRule(t) // dave, up to 1h, Mondays 08:00-18:00 UTC
	noAuto := &policy.ApprovalRule{Name: "manual", Approvers: []string{"bob"}}
	request := func(requester ports.Identity, d time.Duration) ports.ApprovalRequest {
		r, _, err := NewRequest(testID, requester, "prod", justification, d, t0)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	tests := []struct {
		name      string
		r         ports.ApprovalRequest
		requester ports.Identity
		rule      *policy.ApprovalRule
		at        time.Time
		want      bool
	}{
		{"user, time and duration match", request(dave, time.Hour), dave, rule, t0, true},
		{"over max_duration", request(dave, time.Hour+time.Minute), dave, rule, t0, false},
		{"outside the time window", request(dave, time.Hour), dave, rule, t0.Add(9 * time.Hour), false},
		{"another user", request(alice, time.Hour), alice, rule, t0, false},
		{"identity is not the requester", request(alice, time.Hour), dave, rule, t0, false},
		{"no rule", request(dave, time.Hour), dave, nil, t0, false},
		{"rule without auto_approve", request(dave, time.Hour), dave, noAuto, t0, false},
		{"not pending", func() ports.ApprovalRequest {
			r := request(dave, time.Hour)
			r.Status = ports.RequestCancelled
			return r
		}(), dave, rule, t0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			at := tt.at
			got, ok := AutoApprove(tt.r, tt.requester, tt.rule, at)
			if ok != tt.want {
				t.Fatalf("AutoApprove = %v, want %v", ok, tt.want)
			}
			if !ok {
				if got != tt.r {
					t.Fatalf("AutoApprove changed a request it did not approve: %+v", got)
				}
				return
			}
			if got.Status != ports.RequestApproved || got.Approver != "auto:prod-approvals" || !got.ApprovedAt.Equal(at) ||
				!got.ExpiresAt.Equal(at.Add(tt.r.Duration)) || !strings.Contains(got.ApproverComment, "prod-approvals") {
				t.Fatalf("AutoApprove = %+v", got)
			}
			if !Active(got, tt.requester.Name, "prod", at) {
				t.Fatal("an auto-approved request is not active")
			}
		})
	}
}
