package broker_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/core/broker"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

var t0 = time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)

// The callers. alias has alice's name but another principal: a role
// session that called itself "alice".
var (
	alice   = ports.Identity{Name: "alice", ARN: "arn:aws:iam::111122223333:user/alice", Source: "sts"}
	alias   = ports.Identity{Name: "alice", ARN: "arn:aws:sts::111122223333:assumed-role/Dev/alice", Source: "sts"}
	bob     = ports.Identity{Name: "bob", ARN: "arn:aws:iam::111122223333:user/bob", Source: "sts"}
	carol   = ports.Identity{Name: "carol", ARN: "arn:aws:sts::111122223333:assumed-role/SecOps/carol", Source: "sts"}
	mallory = ports.Identity{Name: "mallory", ARN: "arn:aws:iam::111122223333:user/mallory", Source: "sts"}
)

// teamPolicy: dev is open, prod needs approval (bob approves; alice is an
// approver too, to show self-approval is refused) or break-glass (alice),
// carol's SecOps role is admin.
const teamPolicy = `version: "1"
admins:
  - "arn:aws:sts::111122223333:assumed-role/SecOps/*"
rules:
  - name: prod-needs-approval
    effect: require_approval
    conditions:
      profiles: [prod]
    reason: production needs a second person
  - name: dev-open
    effect: allow
    conditions:
      profiles: [dev]
    reason: dev is open
approvals:
  - name: prod-approvals
    profiles: [prod]
    approvers:
      - "arn:aws:iam::111122223333:user/bob"
      - "arn:aws:iam::111122223333:user/alice"
breakglass:
  - name: prod-emergency
    profiles: [prod]
    users: ["arn:aws:iam::111122223333:user/alice"]
    reason_codes: [incident]
    max_duration: 2h
`

// policySource is the broker's reloadable policy, swapped by tests.
type policySource struct {
	mu  sync.Mutex
	p   *policy.Policy
	err error
}

func (s *policySource) Current() (*policy.Policy, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.p, s.err
}

func (s *policySource) set(t testing.TB, doc string) {
	t.Helper()
	p, err := policy.Parse([]byte(doc))
	if err != nil {
		t.Fatalf("test policy: %v", err)
	}
	s.mu.Lock()
	s.p, s.err = p, nil
	s.mu.Unlock()
}

func (s *policySource) fail(err error) {
	s.mu.Lock()
	s.err = err
	s.mu.Unlock()
}

// fakeSource is a CredentialProvider (our own port) standing in for one of
// the broker's AWS profiles: numbered keys valid for the duration asked.
type fakeSource struct {
	clock ports.Clock
	calls atomic.Int64
	mu    sync.Mutex
	reqs  []ports.CredentialRequest
}

func (f *fakeSource) Credentials(_ context.Context, req ports.CredentialRequest) (ports.Credentials, error) {
	n := f.calls.Add(1)
	f.mu.Lock()
	f.reqs = append(f.reqs, req)
	f.mu.Unlock()
	return ports.Credentials{AccessKeyID: fmt.Sprintf("ASIAFAKE%08d", n), SecretAccessKey: "secret", SessionToken: "token",
		Expires: f.clock.Now().Add(max(req.Duration, 15*time.Minute)),
		Origin: ports.CredentialOrigin{SourceIdentity: req.SourceIdentity, RoleARN: fakeRoleARN,
			AssumedRoleID: "AROAFAKEROLEID000001:" + req.RoleSessionName}}, nil
}

func (f *fakeSource) requests() []ports.CredentialRequest {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]ports.CredentialRequest(nil), f.reqs...)
}

// fakeRoleARN is the role every fakeSource credential comes from.
const fakeRoleARN = "arn:aws:iam::111122223333:role/Deployer"

// logNotifier is a notifier whose every delivery fails, as a webhook that
// is down: it logs the failure on the logger it was built with.
type logNotifier struct{ logger *slog.Logger }

func (n logNotifier) Notify(ctx context.Context, note ports.Notification) {
	n.logger.WarnContext(ctx, "webhook delivery failed", "event", note.Type, "error", "connection refused")
}

// team is one shared store and policy, with brokers (replicas) over them.
type team struct {
	clock  *ports.FakeClock
	store  *memory.Store
	policy *policySource
	source *fakeSource
}

func newTeam(t testing.TB) *team {
	t.Helper()
	clock := ports.NewFakeClock(t0)
	tm := &team{clock: clock, store: memory.New(clock), policy: &policySource{}, source: &fakeSource{clock: clock}}
	tm.policy.set(t, teamPolicy)
	return tm
}

// replica is one broker over the team's store and policy.
func (tm *team) replica(t *testing.T) *broker.Service {
	t.Helper()
	return tm.replicaWith(t, func(*broker.Deps) {})
}

// replicaWith is a replica whose deps tune changes.
func (tm *team) replicaWith(t testing.TB, tune func(*broker.Deps)) *broker.Service {
	t.Helper()
	deps := broker.Deps{
		Stores: tm.store, Policy: tm.policy, Clock: tm.clock, StoreIdentity: "memory://team",
		Sources: func(profile string) (ports.CredentialProvider, error) {
			if profile != "dev" && profile != "prod" {
				return nil, fmt.Errorf("no profile %s: %w", profile, ports.ErrNotFound)
			}
			return tm.source, nil
		},
		Notifier: func(_ *policy.Policy, logger *slog.Logger) (ports.Notifier, error) { return logNotifier{logger}, nil },
	}
	tune(&deps)
	s, err := broker.New(deps)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// open opens a session for who and fails t on error.
func open(t *testing.T, s *broker.Service, who ports.Identity, profile string) ports.OpenSessionOutput {
	t.Helper()
	out, err := s.OpenSession(t.Context(), who, ports.OpenSessionInput{Profile: profile})
	if err != nil {
		t.Fatalf("OpenSession(%s, %s): %v", who.Name, profile, err)
	}
	return out
}

func creds(s *broker.Service, who ports.Identity, id string) error {
	_, err := s.SessionCredentials(context.Background(), who, ports.SessionCredentialsInput{SessionID: id, RequestID: "r"})
	return err
}

func wantIs(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: err = %v, want %v", what, err, target)
	}
}

// faultyStore is the team's store whose session reads can be made to find
// nothing (a wiped Redis, a deleted item) or to fail (a store gone away).
type faultyStore struct {
	*memory.Store
	lost, down atomic.Bool
}

func (f *faultyStore) GetSession(ctx context.Context, id string) (ports.Session, error) {
	switch {
	case f.down.Load():
		return ports.Session{}, errors.New("dial tcp: connection refused")
	case f.lost.Load():
		return ports.Session{}, fmt.Errorf("memory: session %s: %w", id, ports.ErrNotFound)
	}
	return f.Store.GetSession(ctx, id)
}
