package awscreds

// The gateway driving this provider against the fake STS: what STS receives
// for each kind of cap, and one SourceIdentity per session.

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/ports"
)

var gwT0 = time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC)

type policyDoc struct{ p *policy.Policy }

func (d policyDoc) Current() (*policy.Policy, error) { return d.p, nil }

type window struct {
	id      string
	expires time.Time
}

func (w window) ActiveApproval(context.Context, ports.Identity, string, time.Time) (ports.ApprovalGrant, error) {
	if w.id == "" {
		return ports.ApprovalGrant{}, ports.ErrNotFound
	}
	return ports.ApprovalGrant{ID: w.id, ExpiresAt: w.expires}, nil
}

func (w window) ActiveBreakGlass(context.Context, ports.Identity, string, time.Time) (ports.BreakGlassGrant, error) {
	if w.id == "" {
		return ports.BreakGlassGrant{}, ports.ErrNotFound
	}
	return ports.BreakGlassGrant{ID: w.id, ExpiresAt: w.expires}, nil
}

type gwRig struct {
	fake  *fakests.Server
	clock *ports.FakeClock
	store *memory.Store
	sid   string
	gw    *gateway.Gateway
}

func newGatewayRig(t *testing.T, profile, doc string, configured time.Duration, approval, breakGlass window) *gwRig {
	t.Helper()
	clock := ports.NewFakeClock(gwT0)
	fake, _ := setup(t, fakests.WithClock(clock))
	pol, err := policy.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	store := memory.New(clock)
	sid, err := record.NewID()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := store.CreateSession(context.Background(), ports.Session{ID: sid, User: "alice", Profile: profile,
		Status: ports.SessionActive, StartedAt: gwT0, ExpiresAt: gwT0.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	p := newProvider(t, profile, Options{})
	gw := gateway.New(
		gateway.Config{Profile: profile, Identity: ports.Identity{Name: "alice", Source: "os"}, SessionID: sid, Duration: configured},
		gateway.Deps{Policy: policyDoc{pol}, Source: p, Clock: clock, Sessions: store, Approvals: approval, BreakGlass: breakGlass},
	)
	return &gwRig{fake: fake, clock: clock, store: store, sid: sid, gw: gw}
}

func (r *gwRig) assumeRoles(t *testing.T) []fakests.Call {
	t.Helper()
	var out []fakests.Call
	for _, c := range r.fake.Calls() {
		if c.Action == "AssumeRole" {
			out = append(out, c)
		}
	}
	return out
}

const (
	allowDoc = `version: "1"
rules:
  - name: open
    effect: allow
`
	hourRuleDoc = `version: "1"
rules:
  - name: hour
    effect: allow
    max_server_duration: 1h
`
	approvalDoc = `version: "1"
rules:
  - name: gated
    effect: require_approval
`
	denyDoc = `version: "1"
rules:
  - name: closed
    effect: deny
`
)

// TestDurationSecondsSentToSTS: what STS receives is the request's effective
// cap: configured duration, rule, approval window, break-glass window and
// profile duration_seconds, raised only to STS's 900 s floor.
func TestDurationSecondsSentToSTS(t *testing.T) {
	none := window{}
	tests := []struct {
		name        string
		profile     string
		doc         string
		configured  time.Duration
		approval    window
		breakGlass  window
		startup     bool // through Prefetch, the startup fetch
		wantSeconds int
		wantServed  time.Duration
	}{
		{"configured duration", "prod", allowDoc, 20 * time.Minute, none, none, false, 1200, 20 * time.Minute},
		{"rule cap under a 12h configured duration", "prod", hourRuleDoc, 12 * time.Hour, none, none, false, 3600, time.Hour},
		{"rule cap at startup", "prod", hourRuleDoc, 12 * time.Hour, none, none, true, 3600, 0},
		{"approval window", "prod", approvalDoc, time.Hour, window{"ap1", gwT0.Add(20 * time.Minute)}, none, false, 1200, 20 * time.Minute},
		{"approval ending in 2 minutes: STS's floor", "prod", approvalDoc, time.Hour, window{"ap1", gwT0.Add(2 * time.Minute)}, none, false, 900, 2 * time.Minute},
		{"break-glass window", "prod", denyDoc, time.Hour, none, window{"bg1", gwT0.Add(25 * time.Minute)}, false, 1500, 25 * time.Minute},
		{"profile duration_seconds", "capped", allowDoc, time.Hour, none, none, false, 1200, time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newGatewayRig(t, tt.profile, tt.doc, tt.configured, tt.approval, tt.breakGlass)
			var served ports.Credentials
			var err error
			if tt.startup {
				err = r.gw.Prefetch(context.Background())
			} else {
				served, err = r.gw.Issue(context.Background(), "r1")
			}
			if err != nil {
				t.Fatal(err)
			}
			calls := r.assumeRoles(t)
			if len(calls) != 1 {
				t.Fatalf("%d AssumeRole calls, want 1", len(calls))
			}
			if got := calls[0].Params["DurationSeconds"]; got != strconv.Itoa(tt.wantSeconds) {
				t.Errorf("STS received DurationSeconds %s, want %d", got, tt.wantSeconds)
			}
			if tt.startup {
				return
			}
			// Served no later than the cap, nor than what STS issued.
			limit := gwT0.Add(tt.wantServed)
			if issued := calls[0].Issued.Expiration; issued.Before(limit) {
				limit = issued
			}
			if !served.Expires.Equal(limit) {
				t.Errorf("served Expiration %v, want %v", served.Expires, limit)
			}
		})
	}
}

// TestOneSourceIdentityPerSessionAtSTS: all fills of a session reach STS
// with the same SourceIdentity (naming the session), and the record keeps
// it with the role ARN and the AssumedRoleId STS answered.
func TestOneSourceIdentityPerSessionAtSTS(t *testing.T) {
	r := newGatewayRig(t, "prod", allowDoc, 15*time.Minute, window{}, window{})
	if err := r.gw.Prefetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		r.clock.Advance(11 * time.Minute) // 4m left, under the reuse floor: fetch again
		if _, err := r.gw.Issue(context.Background(), "r"+strconv.Itoa(i)); err != nil {
			t.Fatal(err)
		}
	}
	calls := r.assumeRoles(t)
	if len(calls) != 4 {
		t.Fatalf("%d AssumeRole calls, want 4 (startup and three refills)", len(calls))
	}
	want := "sentinel.alice." + r.sid
	for i, c := range calls {
		if c.ErrorCode != "" || c.Params["SourceIdentity"] != want || c.Params["RoleSessionName"] != want {
			t.Errorf("fill %d: error %q, SourceIdentity %q, RoleSessionName %q; want both %q",
				i, c.ErrorCode, c.Params["SourceIdentity"], c.Params["RoleSessionName"], want)
		}
	}
	s, err := r.store.GetSession(context.Background(), r.sid)
	if err != nil {
		t.Fatal(err)
	}
	wantID := fakests.RoleID(prodRole) + ":" + want
	if s.SourceIdentity != want || !slices.Equal(s.RoleARNs, []string{prodRole}) || !slices.Equal(s.AssumedRoleIDs, []string{wantID}) ||
		calls[0].AssumedRoleID != wantID {
		t.Errorf("session record: SourceIdentity %q RoleARNs %v AssumedRoleIDs %v; want %q, [%s], [%s]",
			s.SourceIdentity, s.RoleARNs, s.AssumedRoleIDs, want, prodRole, wantID)
	}
	if !strings.Contains(want, r.sid) || len(want) > 64 {
		t.Errorf("SourceIdentity %q must hold the whole session id within STS's 64 characters", want)
	}
}
