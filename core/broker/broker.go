// Package broker is the team-mode credential broker's service
// (ports.BrokerService): the one place that holds the store, the policy and
// the AWS identity the target roles trust. Every operation takes the caller
// the transport has verified; permissions come from the broker's policy
// (admins list and revoke everyone's sessions, approvers decide requests,
// everyone else sees and acts on their own). Sessions are served by
// core/gateway without a per-process tracker: every credential request reads
// the session record, so a revoke through any replica sharing the store is
// refused by every replica at the next request.
package broker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/sentinel-gw/sentinel/core/approval"
	"github.com/sentinel-gw/sentinel/core/breakglass"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/lock"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

var _ ports.BrokerService = (*Service)(nil)

// DefaultMaxGateways bounds the per-session gateways a Service keeps.
const DefaultMaxGateways = 10_000

// Deps are what a broker serves with.
type Deps struct {
	Stores ports.Stores
	// Policy is the broker's policy, reloadable: every operation reads
	// Current, so a change applies to every caller's next request.
	Policy gateway.PolicySource
	// Sources returns the credential provider of one of the broker's AWS
	// profiles (each assumes its role with the broker's identity). An error
	// wrapping ports.ErrNotFound means the broker has no such profile.
	Sources func(profile string) (ports.CredentialProvider, error)
	Log     ports.DecisionLog
	// Notifier builds the notifier of a policy's webhooks (nil, or one
	// returning nil: nobody is told). It is called with the policy in force
	// and a logger that collects delivery failures for the caller.
	Notifier func(pol *policy.Policy, logger *slog.Logger) (ports.Notifier, error)
	Clock    ports.Clock
	Logger   *slog.Logger
	// StoreIdentity is the store's identity, as policy's session_store
	// names stores.
	StoreIdentity string
	// Heartbeat is how often a client must call Heartbeat; Lease how long a
	// session lives without one (defaults: session.DefaultHeartbeatInterval,
	// session.DefaultLease).
	Heartbeat, Lease time.Duration
	// Duration is the default lifetime of a served credential before policy
	// caps it (default gateway.DefaultServerDuration).
	Duration time.Duration
	// OnStoreError says what a request does when the store cannot be read;
	// empty means deny: a broker fails closed.
	OnStoreError session.StoreErrorPolicy
	// MaxGateways bounds the per-session gateways kept (default
	// DefaultMaxGateways); Remembered bounds the ended sessions remembered
	// (0: gateway.DefaultRememberedLimit).
	MaxGateways, Remembered int
	// InlinePolicies writes the deny policies of a revoke at AWS with the
	// broker's own IAM access (nil: none configured; such a revoke reports
	// each session as not denied).
	InlinePolicies ports.InlinePolicies
}

// Service implements ports.BrokerService.
type Service struct {
	deps       Deps
	remembered *gateway.Remembered
	locks      ports.LockLookup
	approvals  ports.ApprovalLookup
	breakGlass ports.BreakGlassLookup

	mu       sync.Mutex
	sessions map[string]*served
}

// New checks deps and returns a Service.
func New(deps Deps) (*Service, error) {
	switch {
	case deps.Stores == nil:
		return nil, fmt.Errorf("broker: a store is required: %w", ports.ErrInvalidArgument)
	case deps.Policy == nil:
		return nil, fmt.Errorf("broker: a policy is required: %w", ports.ErrInvalidArgument)
	case deps.Sources == nil:
		return nil, fmt.Errorf("broker: credential sources are required: %w", ports.ErrInvalidArgument)
	}
	if deps.Clock == nil {
		deps.Clock = ports.SystemClock{}
	}
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	if deps.Heartbeat <= 0 {
		deps.Heartbeat = session.DefaultHeartbeatInterval
	}
	if deps.Lease <= 0 {
		deps.Lease = session.DefaultLease
	}
	if deps.Lease <= deps.Heartbeat {
		return nil, fmt.Errorf("broker: lease %s must be longer than the heartbeat interval %s: %w", deps.Lease, deps.Heartbeat, ports.ErrInvalidArgument)
	}
	if deps.Duration <= 0 {
		deps.Duration = gateway.DefaultServerDuration
	}
	if deps.OnStoreError == "" {
		deps.OnStoreError = session.StoreErrorDeny
	}
	if deps.MaxGateways <= 0 {
		deps.MaxGateways = DefaultMaxGateways
	}
	return &Service{
		deps:       deps,
		remembered: gateway.NewRemembered(deps.Remembered),
		locks:      lock.NewChecker(deps.Stores, lock.Bound),
		approvals:  approval.NewLookup(deps.Stores, deps.Policy.Current),
		breakGlass: breakglass.NewLookup(deps.Stores, deps.Policy.Current),
		sessions:   map[string]*served{},
	}, nil
}

// checkCaller refuses a call without a verified principal ARN: the
// transport must have checked the caller's proof.
func checkCaller(caller ports.Identity) error {
	if caller.ARN == "" {
		return fmt.Errorf("the caller has no verified AWS identity: sign the request (sentinel uses your AWS credentials for this): %w", ports.ErrUnauthenticated)
	}
	return nil
}

// WhoAmI returns the caller as the broker sees it.
func (s *Service) WhoAmI(_ context.Context, caller ports.Identity) (ports.Identity, error) {
	if err := checkCaller(caller); err != nil {
		return ports.Identity{}, err
	}
	return caller, nil
}

// policy is the policy in force; an error fails closed.
func (s *Service) policy() (*policy.Policy, error) {
	pol, err := s.deps.Policy.Current()
	if err != nil {
		return nil, fmt.Errorf("the broker's policy could not be loaded (the broker's operator must fix it): %w: %w", err, ports.ErrUnavailable)
	}
	return pol, nil
}

// callerPolicy checks the caller and reads the policy in force, for an
// operation the policy judges.
func (s *Service) callerPolicy(caller ports.Identity) (*policy.Policy, error) {
	if err := checkCaller(caller); err != nil {
		return nil, err
	}
	return s.policy()
}

// isAdmin reports whether caller is one of the policy's admins.
func (s *Service) isAdmin(caller ports.Identity) (bool, error) {
	pol, err := s.policy()
	if err != nil {
		return false, err
	}
	return pol.IsAdmin(caller), nil
}

// Ready reports whether the broker can serve: the policy loads and the
// store answers one cheap read (a session that does not exist).
func (s *Service) Ready(ctx context.Context) error {
	if _, err := s.policy(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, gateway.StoreBudget)
	defer cancel()
	if _, err := s.deps.Stores.GetSession(ctx, "00000000000000000000000000000000"); err != nil && !errors.Is(err, ports.ErrNotFound) {
		return fmt.Errorf("the session store does not answer: %w", err)
	}
	return nil
}

// forbidden marks a refusal by the approval or break-glass rules (which
// wrap policy.ErrForbidden) as the broker's ErrForbidden too.
func forbidden(err error) error {
	if errors.Is(err, policy.ErrForbidden) && !errors.Is(err, ports.ErrForbidden) {
		return fmt.Errorf("%w (%w)", err, ports.ErrForbidden)
	}
	return err
}
