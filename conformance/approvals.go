package conformance

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// decisionDeadline is how long a request waits for a decision (the core
// sets ExpiresAt to CreatedAt plus this; the store only honours ExpiresAt).
const decisionDeadline = 24 * time.Hour

// newRequest is a pending request of the namespace, created two minutes
// ago, its decision deadline 24 hours after creation. Every field a pending
// request carries is set, so a backend that drops one fails a round trip.
func (e env) newRequest() ports.ApprovalRequest {
	created := e.clock.Now().Add(-2 * time.Minute)
	return ports.ApprovalRequest{
		ID:            newSessionID(),
		Requester:     e.ns + "-requester",
		RequesterARN:  "arn:aws:iam::111122223333:user/" + e.ns + "-requester",
		Profile:       e.ns + "-profile",
		Justification: "conformance: roll out the hotfix for " + e.ns,
		Duration:      90 * time.Minute,
		Status:        ports.RequestPending,
		CreatedAt:     created,
		UpdatedAt:     created.Add(time.Minute),
		ExpiresAt:     created.Add(decisionDeadline),
	}
}

// approvedAt returns r as the core writes it when approving at now: the
// access window runs from now for r.Duration.
func approvedAt(r ports.ApprovalRequest, by string, now time.Time) ports.ApprovalRequest {
	r.Status = ports.RequestApproved
	r.Approver = by
	r.ApproverARN = "arn:aws:iam::111122223333:user/" + by
	r.ApproverComment = "conformance: approved by " + by
	r.ApprovedAt = now
	r.ExpiresAt = now.Add(r.Duration)
	r.UpdatedAt = now
	return r
}

// deniedAt returns r as the core writes it when denying at now.
func deniedAt(r ports.ApprovalRequest, by string, now time.Time) ports.ApprovalRequest {
	r.Status = ports.RequestDenied
	r.Approver = by
	r.ApproverComment = "conformance: denied by " + by
	r.UpdatedAt = now
	return r
}

// cancelledAt returns r as the core writes it when the requester cancels at now.
func cancelledAt(r ports.ApprovalRequest, now time.Time) ports.ApprovalRequest {
	r.Status = ports.RequestCancelled
	r.CancelledBy = r.Requester
	r.UpdatedAt = now
	return r
}

var requests = kind[ports.ApprovalRequest]{
	noun:      "request",
	position:  ports.RequestPosition,
	place:     func(r *ports.ApprovalRequest, at time.Time, id string) { r.CreatedAt, r.ID = at, id },
	setStatus: func(r *ports.ApprovalRequest, st string) { r.Status = ports.RequestStatus(st) },
	version:   func(r *ports.ApprovalRequest) *int64 { return &r.Version },
	create: func(ctx context.Context, e env, r ports.ApprovalRequest) (ports.ApprovalRequest, error) {
		return e.approvals.CreateRequest(ctx, r)
	},
	get: func(ctx context.Context, e env, id string) (ports.ApprovalRequest, error) {
		return e.approvals.GetRequest(ctx, id)
	},
	update: func(ctx context.Context, e env, r ports.ApprovalRequest) (ports.ApprovalRequest, error) {
		return e.approvals.UpdateRequest(ctx, r)
	},
}

var (
	requestsByRequester = recordListing[ports.ApprovalRequest]{
		name: "ListRequestsByRequester",
		list: func(ctx context.Context, e env, key string, p ports.Page) ([]ports.ApprovalRequest, string, error) {
			page, err := e.approvals.ListRequestsByRequester(ctx, key, p)
			return page.Requests, page.Next, err
		},
		key:  func(e env) string { return e.ns + "-requester" },
		join: func(_ env, r *ports.ApprovalRequest, key string) { r.Requester = key },
		strangers: func(_ env, m ports.ApprovalRequest, key string) []ports.ApprovalRequest {
			return keyStrangers(m, key, func(r *ports.ApprovalRequest, v string) { r.Requester = v })
		},
	}
	requestsByProfile = recordListing[ports.ApprovalRequest]{
		name: "ListRequestsByProfile",
		list: func(ctx context.Context, e env, key string, p ports.Page) ([]ports.ApprovalRequest, string, error) {
			page, err := e.approvals.ListRequestsByProfile(ctx, key, p)
			return page.Requests, page.Next, err
		},
		key:  func(e env) string { return e.ns + "-profile" },
		join: func(_ env, r *ports.ApprovalRequest, key string) { r.Profile = key },
		strangers: func(_ env, m ports.ApprovalRequest, key string) []ports.ApprovalRequest {
			return keyStrangers(m, key, func(r *ports.ApprovalRequest, v string) { r.Profile = v })
		},
	}
	// requestsByStatus lists pending requests; its strangers are every other
	// stored state plus a pending request past its deadline, which must be
	// listed as expired, not pending.
	requestsByStatus = recordListing[ports.ApprovalRequest]{
		name: "ListRequestsByStatus",
		list: func(ctx context.Context, e env, key string, p ports.Page) ([]ports.ApprovalRequest, string, error) {
			page, err := e.approvals.ListRequestsByStatus(ctx, ports.RequestStatus(key), p)
			return page.Requests, page.Next, err
		},
		key: func(env) string { return string(ports.RequestPending) },
		join: func(e env, r *ports.ApprovalRequest, _ string) {
			r.Status = ports.RequestPending
			r.ExpiresAt = e.clock.Now().Add(time.Hour)
		},
		strangers: func(e env, m ports.ApprovalRequest, _ string) []ports.ApprovalRequest {
			now := e.clock.Now()
			lapsed := m
			lapsed.ExpiresAt = now // lapsed exactly now: at or before counts
			stored := m
			stored.Status = ports.RequestExpired
			return []ports.ApprovalRequest{
				approvedAt(m, e.ns+"-approver", now), deniedAt(m, e.ns+"-approver", now),
				cancelledAt(m, now), stored, lapsed,
			}
		},
	}
	requestListings = []recordListing[ports.ApprovalRequest]{requestsByRequester, requestsByProfile, requestsByStatus}
)

func (s suite) testApprovals(t *testing.T) {
	t.Run("Create", func(t *testing.T) {
		t.Run("RoundTrip", func(t *testing.T) {
			t.Parallel()
			s.requestRoundTrip(t, s.openApprovals(t))
		})
		t.Run("DuplicateID", func(t *testing.T) {
			t.Parallel()
			recordDuplicate(t, s.openApprovals(t), requests, env.newRequest, func(r *ports.ApprovalRequest) {
				r.Requester += "-intruder"
			})
		})
		t.Run("InvalidArgument", func(t *testing.T) {
			t.Parallel()
			recordCreateInvalid(t, s.openApprovals(t), requests, env.newRequest)
		})
	})
	t.Run("Get/Missing", func(t *testing.T) {
		t.Parallel()
		recordGetMissing(t, s.openApprovals(t), requests, env.newRequest)
	})
	t.Run("Update", func(t *testing.T) {
		t.Run("Decisions", func(t *testing.T) {
			t.Parallel()
			s.requestDecisions(t, s.openApprovals(t))
		})
		t.Run("VersionMismatchAndMissing", func(t *testing.T) {
			t.Parallel()
			recordUpdateMismatch(t, s.openApprovals(t), requests, env.newRequest,
				func(r *ports.ApprovalRequest) { r.Justification += " (edited)" })
		})
	})
	t.Run("Listing", func(t *testing.T) {
		for _, l := range requestListings {
			t.Run(l.name, func(t *testing.T) {
				t.Run("OrderAndPaging", func(t *testing.T) {
					t.Parallel()
					recordOrderAndPaging(t, s.openApprovals(t), requests, l, env.newRequest)
				})
				t.Run("BadPage", func(t *testing.T) {
					t.Parallel()
					recordBadPage(t, s.openApprovals(t), requests, l, env.newRequest)
				})
			})
		}
		t.Run("UnknownStatus", func(t *testing.T) {
			t.Parallel()
			e := s.openApprovals(t)
			for _, st := range []ports.RequestStatus{"", "paused", "Pending"} {
				_, err := e.approvals.ListRequestsByStatus(t.Context(), st, ports.Page{Limit: 10})
				expectErr(t, fmt.Sprintf("ListRequestsByStatus(%q)", st), err, ports.ErrInvalidArgument)
			}
		})
	})
	t.Run("Expiry/ByInjectedClock", func(t *testing.T) {
		t.Parallel()
		s.requestExpiry(t, s.openApprovals(t))
	})
	t.Run("Concurrency", func(t *testing.T) {
		t.Run("ApproveVersusCancel", func(t *testing.T) {
			t.Parallel()
			s.approveVersusCancel(t, s.openApprovals(t))
		})
		t.Run("ApproveVersusCancelRetrying", func(t *testing.T) {
			t.Parallel()
			s.approveVersusCancelRetrying(t, s.openApprovals(t))
		})
		t.Run("ExpiryVersusCancel", func(t *testing.T) {
			t.Parallel()
			s.requestExpiryVersusCancel(t, s.openApprovals(t))
		})
	})
	t.Run("SharedHandles", func(t *testing.T) {
		t.Parallel()
		s.requestSharedHandles(t)
	})
	t.Run("Corrupt", func(t *testing.T) {
		t.Run("NeverCreated", func(t *testing.T) {
			t.Parallel()
			e := s.openCorruptible(t, KindRequest)
			id := newSessionID()
			e.putCorrupt(t, KindRequest, id)
			expectCorruptRead(t, "GetRequest", id, func() (ports.ApprovalRequest, error) { return e.approvals.GetRequest(t.Context(), id) })
		})
		t.Run("OverExisting", func(t *testing.T) {
			t.Parallel()
			s.requestCorruptOverExisting(t)
		})
	})
}

func (s suite) requestRoundTrip(t *testing.T, e env) {
	// Sub-microsecond digits and a non-UTC zone: the store must keep the
	// instant to the microsecond and hand it back in UTC.
	zone := time.FixedZone("UTC-03:30", -(3*3600 + 1800))
	skew := func(t time.Time) time.Time { return t.Add(654 * time.Nanosecond).In(zone) }
	now := e.clock.Now()
	cases := []struct {
		name   string
		mutate func(*ports.ApprovalRequest)
	}{
		{"pending, times skewed", func(r *ports.ApprovalRequest) {
			r.CreatedAt, r.UpdatedAt, r.ExpiresAt = skew(r.CreatedAt), skew(r.UpdatedAt), skew(r.ExpiresAt)
		}},
		{"approved, every field set", func(r *ports.ApprovalRequest) {
			*r = approvedAt(*r, e.ns+"-approver", skew(now))
		}},
		{"denied", func(r *ports.ApprovalRequest) { *r = deniedAt(*r, e.ns+"-approver", now) }},
		{"cancelled", func(r *ports.ApprovalRequest) { *r = cancelledAt(*r, now) }},
		{"stored expired", func(r *ports.ApprovalRequest) { r.Status = ports.RequestExpired }},
		// An integer of nanoseconds: it must come back exactly, not through
		// seconds or a float.
		{"duration with nanoseconds", func(r *ports.ApprovalRequest) { r.Duration = 7*time.Hour + 59*time.Minute + 123_456_789 }},
		{"no deadline, optional fields empty", func(r *ports.ApprovalRequest) {
			r.ExpiresAt, r.Justification, r.Duration, r.RequesterARN = time.Time{}, "", 0, ""
		}},
		// Separators and non-ASCII in the indexed fields: keys built by
		// string concatenation must not break.
		{"separators and unicode in indexed fields", func(r *ports.ApprovalRequest) {
			r.Requester += ":ü/ser#1|x"
			r.Profile += "/prod:eu-west-1 é\\"
			r.Justification = "quotes \" and newlines\n and ☃"
		}},
	}
	for _, tc := range cases {
		in := e.newRequest()
		tc.mutate(&in)
		in.Version = 7 // the store owns Version: create writes 1 whatever it is given
		created, err := e.approvals.CreateRequest(t.Context(), in)
		if err != nil {
			t.Errorf("%s: CreateRequest: %v", tc.name, err)
			continue
		}
		want := in
		want.Version = 1
		requests.expect(t, tc.name+": CreateRequest result", want, created)
		requests.expect(t, tc.name+": GetRequest", want, requests.mustGet(t, e, in.ID))
	}
}

// requestDecisions walks a request through approve then cancel, and
// another through deny, checking every write lands whole.
func (s suite) requestDecisions(t *testing.T, e env) {
	created := requests.mustCreate(t, e, e.newRequest())
	e.clock.Advance(time.Minute)
	approved := approvedAt(created, e.ns+"-approver", e.clock.Now().Add(321*time.Nanosecond))
	got := requests.mustUpdate(t, e, approved)
	want := approved
	want.Version = 2
	requests.expect(t, "UpdateRequest(approve) result", want, got)
	requests.expect(t, "GetRequest after approve", want, requests.mustGet(t, e, created.ID))

	e.clock.Advance(time.Minute)
	cancelled := cancelledAt(got, e.clock.Now())
	got = requests.mustUpdate(t, e, cancelled)
	want = cancelled
	want.Version = 3
	requests.expect(t, "UpdateRequest(cancel an approved request) result", want, got)
	requests.expect(t, "GetRequest after cancel", want, requests.mustGet(t, e, created.ID))

	other := requests.mustCreate(t, e, e.newRequest())
	denied := deniedAt(other, e.ns+"-approver", e.clock.Now())
	got = requests.mustUpdate(t, e, denied)
	want = denied
	want.Version = 2
	requests.expect(t, "UpdateRequest(deny) result", want, got)
	requests.expect(t, "GetRequest after deny", want, requests.mustGet(t, e, other.ID))
}

func (s suite) requestExpiry(t *testing.T, e env) {
	start := e.clock.Now()
	pending := func(created time.Time) ports.ApprovalRequest {
		r := e.newRequest()
		r.CreatedAt, r.UpdatedAt, r.ExpiresAt = created, created, created.Add(decisionDeadline)
		return r
	}
	// Advancing by the deadline: the first lapses exactly then, the second
	// an hour later.
	deadlineNow := requests.mustCreate(t, e, pending(start))
	deadlineLater := requests.mustCreate(t, e, pending(start.Add(time.Hour)))
	noDeadline := pending(start)
	noDeadline.ExpiresAt = time.Time{}
	noDeadline = requests.mustCreate(t, e, noDeadline)
	// Approved with a one-hour window: it ran out long before the deadline.
	windowOver := requests.mustCreate(t, e, approvedAt(pending(start), e.ns+"-approver", start))
	windowOpen := approvedAt(pending(start), e.ns+"-approver", start)
	windowOpen.Duration = decisionDeadline + time.Minute
	windowOpen.ExpiresAt = start.Add(windowOpen.Duration)
	windowOpen = requests.mustCreate(t, e, windowOpen)
	// Decided requests keep their deadline; it means nothing any more.
	denied := requests.mustCreate(t, e, deniedAt(pending(start), e.ns+"-approver", start))
	cancelled := requests.mustCreate(t, e, cancelledAt(pending(start), start))

	requests.expect(t, "GetRequest before the deadline", deadlineNow, requests.mustGet(t, e, deadlineNow.ID))
	requests.expect(t, "GetRequest of an approved request inside its window", windowOver,
		requests.mustGet(t, e, windowOver.ID))

	e.clock.Advance(decisionDeadline)
	now := e.clock.Now()
	expired := func(r ports.ApprovalRequest) ports.ApprovalRequest {
		r.Status = ports.RequestExpired
		return r
	}
	for _, c := range []struct {
		what string
		want ports.ApprovalRequest
	}{
		{"pending, deadline exactly now", expired(deadlineNow)},
		{"approved, window over", expired(windowOver)},
		{"pending, deadline in an hour", deadlineLater},
		{"pending, no deadline", noDeadline},
		{"approved, window open", windowOpen},
		{"denied, deadline passed", denied},
		{"cancelled, deadline passed", cancelled},
	} {
		requests.expect(t, "GetRequest of a request "+c.what+" (read by the injected clock, Version unchanged)",
			c.want, requests.mustGet(t, e, c.want.ID))
	}
	for _, c := range []struct {
		status ports.RequestStatus
		want   []string
	}{
		{ports.RequestExpired, []string{deadlineNow.ID, windowOver.ID}},
		{ports.RequestPending, []string{deadlineLater.ID, noDeadline.ID}},
		{ports.RequestApproved, []string{windowOpen.ID}},
		{ports.RequestDenied, []string{denied.ID}},
		{ports.RequestCancelled, []string{cancelled.ID}},
	} {
		listed := listAllRecords(t, e, requests, requestsByStatus, string(c.status))
		expectSameIDs(t, fmt.Sprintf("ListRequestsByStatus(%s) after the deadline", c.status), idsOf(requests, listed), c.want...)
		for _, r := range listed {
			if r.Status != c.status {
				t.Errorf("ListRequestsByStatus(%s) lists %s as %q", c.status, r.ID, r.Status)
			}
		}
	}
	for _, r := range listAllRecords(t, e, requests, requestsByRequester, deadlineNow.Requester) {
		if (r.ID == deadlineNow.ID || r.ID == windowOver.ID) && r.Status != ports.RequestExpired {
			t.Errorf("ListRequestsByRequester shows lapsed request %s as %q, want expired", r.ID, r.Status)
		}
	}

	// The sweep judges by its argument, not the store's clock.
	n, err := e.approvals.ExpireLapsedRequests(t.Context(), start.Add(time.Minute))
	if err != nil || n != 0 {
		t.Errorf("ExpireLapsedRequests(a now before every deadline and window ends) = %d, %v; want 0, nil", n, err)
	}
	n, err = e.approvals.ExpireLapsedRequests(t.Context(), now)
	if err != nil {
		t.Fatalf("ExpireLapsedRequests: %v", err)
	}
	if n != 2 {
		t.Errorf("ExpireLapsedRequests = %d, want 2 (this store holds exactly one lapsed pending and one lapsed approved request)", n)
	}
	for _, r := range []ports.ApprovalRequest{deadlineNow, windowOver} {
		want := expired(r)
		want.UpdatedAt, want.Version = now, r.Version+1
		requests.expect(t, "GetRequest after ExpireLapsedRequests (status expired, UpdatedAt the sweep's now, Version+1, nothing else)",
			want, requests.mustGet(t, e, r.ID))
	}
	for _, r := range []ports.ApprovalRequest{deadlineLater, noDeadline, windowOpen, denied, cancelled} {
		requests.expect(t, "a request ExpireLapsedRequests must not change", r, requests.mustGet(t, e, r.ID))
	}
	n, err = e.approvals.ExpireLapsedRequests(t.Context(), now)
	if err != nil || n != 0 {
		t.Errorf("second ExpireLapsedRequests = %d, %v; want 0, nil", n, err)
	}
	if got := requests.mustGet(t, e, deadlineNow.ID); got.Version != 2 {
		t.Errorf("second ExpireLapsedRequests rewrote an expired request: version %d, want 2", got.Version)
	}
}

// approveVersusCancel races an approver and the requester's cancel, both
// writing from the same read: exactly one lands, whole.
func (s suite) approveVersusCancel(t *testing.T, e env) {
	for round := range conditionalRounds {
		cur := requests.mustCreate(t, e, e.newRequest())
		now := e.clock.Now()
		writes := []ports.ApprovalRequest{
			approvedAt(cur, fmt.Sprintf("%s-approver-%d", e.ns, round), now.Add(time.Second)),
			cancelledAt(cur, now.Add(2*time.Second)),
		}
		errs := make([]error, len(writes))
		race(len(writes), func(w int) { _, errs[w] = e.approvals.UpdateRequest(t.Context(), writes[w]) })
		winner, err := oneWinner(errs, ports.ErrConflict)
		if err != nil {
			t.Fatalf("round %d: approve and cancel from version 1: %v", round, err)
		}
		want := writes[winner]
		want.Version = 2
		requests.expect(t, fmt.Sprintf("round %d: the stored request is the winner's write", round), want, requests.mustGet(t, e, cur.ID))
	}
}

// approveVersusCancelRetrying races an approver and the requester's cancel
// the way the core runs them: read, act only on a pending request, write,
// again on ErrConflict. One decision lands whole and the other sees it.
func (s suite) approveVersusCancelRetrying(t *testing.T, e env) {
	for round := range conditionalRounds {
		created := requests.mustCreate(t, e, e.newRequest())
		now := e.clock.Now()
		approver := fmt.Sprintf("%s-approver-%d", e.ns, round)
		decide := []func(ports.ApprovalRequest) ports.ApprovalRequest{
			func(r ports.ApprovalRequest) ports.ApprovalRequest {
				return approvedAt(r, approver, now.Add(time.Second))
			},
			func(r ports.ApprovalRequest) ports.ApprovalRequest { return cancelledAt(r, now.Add(2*time.Second)) },
		}
		saw := make([]ports.RequestStatus, len(decide)) // what a racer that gave up saw
		errs := make([]error, len(decide))
		race(len(decide), func(w int) {
			saw[w], errs[w] = decideRequest(t.Context(), e.approvals, created.ID, decide[w])
		})
		if err := errors.Join(errs...); err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		winner := -1
		for w, st := range saw {
			if st == "" {
				if winner >= 0 {
					t.Fatalf("round %d: both decisions landed on one pending request", round)
				}
				winner = w
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: neither decision landed; they saw %q and %q", round, saw[0], saw[1])
		}
		want := decide[winner](created)
		want.Version = 2
		requests.expect(t, fmt.Sprintf("round %d: the stored request is exactly the winner's decision", round), want, requests.mustGet(t, e, created.ID))
		if loser := 1 - winner; saw[loser] != want.Status {
			t.Errorf("round %d: the loser gave up on seeing %q, want the winner's %q", round, saw[loser], want.Status)
		}
	}
}

// decideRequest reads id and, while it is pending, writes decide(read),
// again on ErrConflict. It returns the status it gave up on, or "" once its
// write landed.
func decideRequest(ctx context.Context, store ports.ApprovalStore, id string, decide func(ports.ApprovalRequest) ports.ApprovalRequest) (ports.RequestStatus, error) {
	for {
		cur, err := store.GetRequest(ctx, id)
		if err != nil {
			return "", err
		}
		if cur.Status != ports.RequestPending {
			return cur.Status, nil
		}
		_, err = store.UpdateRequest(ctx, decide(cur))
		if errors.Is(err, ports.ErrConflict) {
			continue
		}
		return "", err
	}
}

// requestExpiryVersusCancel races a cancel of a lapsed request against the
// sweep: exactly one of them changes it.
func (s suite) requestExpiryVersusCancel(t *testing.T, e env) {
	for round := range s.raceRounds(expiryRevokeRounds) {
		r := e.newRequest()
		if round%2 == 1 {
			r = approvedAt(r, e.ns+"-approver", e.clock.Now().Add(-2*r.Duration))
		}
		r.ExpiresAt = e.clock.Now().Add(-time.Second)
		created := requests.mustCreate(t, e, r)
		var cancelErr, sweepErr error
		var swept int
		race(2, func(w int) {
			if w == 0 {
				_, cancelErr = e.approvals.UpdateRequest(t.Context(), cancelledAt(created, e.clock.Now()))
				return
			}
			swept, sweepErr = e.approvals.ExpireLapsedRequests(t.Context(), e.clock.Now())
		})
		if sweepErr != nil {
			t.Fatalf("round %d: ExpireLapsedRequests: %v", round, sweepErr)
		}
		got := requests.mustGet(t, e, created.ID)
		switch {
		case cancelErr == nil && swept == 0 && got.Status == ports.RequestCancelled && got.Version == 2:
		case errors.Is(cancelErr, ports.ErrConflict) && swept == 1 && got.Status == ports.RequestExpired && got.Version == 2:
		default:
			t.Fatalf("round %d (%s): cancel error %v, sweep changed %d, stored %q version %d; want exactly one of them to win",
				round, created.Status, cancelErr, swept, got.Status, got.Version)
		}
	}
}

func (s suite) requestSharedHandles(t *testing.T) {
	s.require(t, "SharedHandles", s.features.SharedHandles)
	e := s.openApprovals(t)
	other := openOther[ports.ApprovalStore](t, e, "ApprovalStore")
	viaOther := e
	viaOther.approvals = other

	created := requests.mustCreate(t, e, e.newRequest())
	requests.expect(t, "GetRequest through the other handle", created, requests.mustGet(t, viaOther, created.ID))
	_, err := other.CreateRequest(t.Context(), created)
	expectErr(t, "CreateRequest of the same id through the other handle", err, ports.ErrAlreadyExists)

	// A cancel from another process must reach the running server on its
	// very next read: no cache may hide it.
	approved := requests.mustUpdate(t, viaOther, approvedAt(created, e.ns+"-approver", e.clock.Now()))
	requests.expect(t, "GetRequest through the first handle right after the other approved", approved, requests.mustGet(t, e, created.ID))
	cancelled := requests.mustUpdate(t, e, cancelledAt(approved, e.clock.Now()))
	requests.expect(t, "GetRequest through the other handle right after the first cancelled", cancelled, requests.mustGet(t, viaOther, created.ID))
	_, err = other.UpdateRequest(t.Context(), approved)
	expectErr(t, "UpdateRequest through the other handle from before the cancel", err, ports.ErrConflict)

	ids := idsOf(requests, listAllRecords(t, viaOther, requests, requestsByRequester, created.Requester))
	expectSameIDs(t, "ListRequestsByRequester through the other handle", ids, created.ID)
}

// openOther opens the second handle and checks it offers the port P.
func openOther[P any](t *testing.T, e env, port string) P {
	t.Helper()
	if e.backend.OpenAnother == nil {
		t.Fatal("Features.SharedHandles is set but Backend.OpenAnother is nil")
	}
	h := e.backend.OpenAnother(t)
	if h == nil {
		t.Fatal("OpenAnother returned a nil store")
	}
	p, ok := h.(P)
	if !ok {
		t.Fatalf("OpenAnother returned a %T, which is not a ports.%s", h, port)
	}
	return p
}

func (s suite) requestCorruptOverExisting(t *testing.T) {
	e := s.openCorruptible(t, KindRequest)
	good := requests.mustCreate(t, e, e.newRequest())
	bad := requests.mustCreate(t, e, e.newRequest()) // same requester, profile, status
	e.putCorrupt(t, KindRequest, bad.ID)

	expectCorruptRead(t, "GetRequest", bad.ID, func() (ports.ApprovalRequest, error) { return e.approvals.GetRequest(t.Context(), bad.ID) })
	requests.expect(t, "GetRequest of a sound neighbour", good, requests.mustGet(t, e, good.ID))

	// A listing whose index still reaches the record must fail with
	// ErrCorrupt naming it; one whose index lost it lists the rest.
	for _, c := range []struct {
		l   recordListing[ports.ApprovalRequest]
		key string
	}{
		{requestsByRequester, good.Requester}, {requestsByProfile, good.Profile}, {requestsByStatus, string(ports.RequestPending)},
	} {
		var items []ports.ApprovalRequest
		var err error
		noPanic(t, c.l.name, func() { items, _, err = c.l.list(t.Context(), e, c.key, ports.Page{Limit: 10}) })
		if err != nil {
			expectCorruptErr(t, c.l.name, err, bad.ID)
			continue
		}
		expectSameIDs(t, c.l.name+" (its index no longer reaches the corrupt record)", idsOf(requests, items), good.ID)
	}

	var err error
	noPanic(t, "UpdateRequest", func() { _, err = e.approvals.UpdateRequest(t.Context(), cancelledAt(bad, e.clock.Now())) })
	if err == nil {
		t.Error("UpdateRequest of a corrupt record: nil error, want one")
	}
	noPanic(t, "ExpireLapsedRequests", func() {
		_, err = e.approvals.ExpireLapsedRequests(t.Context(), e.clock.Now().Add(2*decisionDeadline))
	})
	if err != nil && !errors.Is(err, ports.ErrCorrupt) {
		t.Errorf("ExpireLapsedRequests with a corrupt record: %v; want nil (skipped) or ErrCorrupt", err)
	}
}
