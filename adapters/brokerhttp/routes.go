package brokerhttp

import (
	"context"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// Paths of the broker's API; the package doc has the table.
const (
	PathWhoAmI             = "/v1/whoami"
	PathOpenSession        = "/v1/sessions/open"
	PathHeartbeat          = "/v1/sessions/heartbeat"
	PathCloseSession       = "/v1/sessions/close"
	PathSessionCredentials = "/v1/sessions/credentials"
	PathOneShot            = "/v1/credentials"
	PathListSessions       = "/v1/sessions/list"
	PathShowSession        = "/v1/sessions/show"
	PathRevoke             = "/v1/sessions/revoke"
	PathCreateRequest      = "/v1/requests/create"
	PathDecideRequest      = "/v1/requests/decide"
	PathCancelRequest      = "/v1/requests/cancel"
	PathListRequests       = "/v1/requests/list"
	PathShowRequest        = "/v1/requests/show"
	PathOpenBreakGlass     = "/v1/breakglass/open"
	PathCloseBreakGlass    = "/v1/breakglass/close"
	PathListBreakGlass     = "/v1/breakglass/list"
	PathShowBreakGlass     = "/v1/breakglass/show"
	PathHealthz            = "/healthz"
	PathReadyz             = "/readyz"
)

// IDInput is the body of the operations that take one id.
type IDInput struct {
	ID string `json:"id"`
}

// Empty is the body of operations with no input or no output: {}.
type Empty struct{}

// Credentials is how the broker serves credentials; the Origin of
// ports.Credentials is never served.
type Credentials struct {
	AccessKeyID     string    `json:"access_key_id"`
	SecretAccessKey string    `json:"secret_access_key"`
	SessionToken    string    `json:"session_token,omitempty"`
	Expires         time.Time `json:"expires,omitzero"`
}

func wireCredentials(c ports.Credentials) Credentials {
	return Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken, Expires: c.Expires}
}

func (c Credentials) ports() ports.Credentials {
	return ports.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken, Expires: c.Expires}
}

// operation decodes a request body strictly (decodeInto) into its input and
// calls the service.
type operation func(ctx context.Context, svc ports.BrokerService, caller ports.Identity, body []byte) (any, error)

// op adapts a service method taking In and returning Out to an operation.
func op[In, Out any](call func(svc ports.BrokerService, ctx context.Context, caller ports.Identity, in In) (Out, error)) operation {
	return func(ctx context.Context, svc ports.BrokerService, caller ports.Identity, body []byte) (any, error) {
		var in In
		if err := decodeInto(body, &in); err != nil {
			return nil, err
		}
		return call(svc, ctx, caller, in)
	}
}

// operations is the route table: one entry per BrokerService method but Ready.
var operations = map[string]operation{
	PathWhoAmI: op(func(s ports.BrokerService, ctx context.Context, c ports.Identity, _ Empty) (ports.Identity, error) {
		return s.WhoAmI(ctx, c)
	}),
	PathOpenSession: op(ports.BrokerService.OpenSession),
	PathHeartbeat: op(func(s ports.BrokerService, ctx context.Context, c ports.Identity, in IDInput) (ports.Session, error) {
		return s.Heartbeat(ctx, c, in.ID)
	}),
	PathCloseSession: op(func(s ports.BrokerService, ctx context.Context, c ports.Identity, in IDInput) (Empty, error) {
		return Empty{}, s.CloseSession(ctx, c, in.ID)
	}),
	PathSessionCredentials: op(func(s ports.BrokerService, ctx context.Context, c ports.Identity, in ports.SessionCredentialsInput) (Credentials, error) {
		creds, err := s.SessionCredentials(ctx, c, in)
		return wireCredentials(creds), err
	}),
	PathOneShot: op(func(s ports.BrokerService, ctx context.Context, c ports.Identity, in ports.OneShotInput) (Credentials, error) {
		creds, err := s.OneShot(ctx, c, in)
		return wireCredentials(creds), err
	}),
	PathListSessions: op(ports.BrokerService.ListSessions),
	PathShowSession: op(func(s ports.BrokerService, ctx context.Context, c ports.Identity, in IDInput) (ports.Session, error) {
		return s.ShowSession(ctx, c, in.ID)
	}),
	PathRevoke:        op(ports.BrokerService.Revoke),
	PathCreateRequest: op(ports.BrokerService.CreateRequest),
	PathDecideRequest: op(ports.BrokerService.DecideRequest),
	PathCancelRequest: op(func(s ports.BrokerService, ctx context.Context, c ports.Identity, in IDInput) (ports.RequestOutput, error) {
		return s.CancelRequest(ctx, c, in.ID)
	}),
	PathListRequests: op(ports.BrokerService.ListRequests),
	PathShowRequest: op(func(s ports.BrokerService, ctx context.Context, c ports.Identity, in IDInput) (ports.ApprovalRequest, error) {
		return s.ShowRequest(ctx, c, in.ID)
	}),
	PathOpenBreakGlass:  op(ports.BrokerService.OpenBreakGlass),
	PathCloseBreakGlass: op(ports.BrokerService.CloseBreakGlass),
	PathListBreakGlass:  op(ports.BrokerService.ListBreakGlass),
	PathShowBreakGlass: op(func(s ports.BrokerService, ctx context.Context, c ports.Identity, in IDInput) (ports.BreakGlassEvent, error) {
		return s.ShowBreakGlass(ctx, c, in.ID)
	}),
}
