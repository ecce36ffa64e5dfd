package brokerhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/sentinel-gw/sentinel/core/breakglass"
	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/core/workflow"
	"github.com/sentinel-gw/sentinel/ports"
)

// Error codes served in {"error":{"code":...}}. The client turns each back
// into the error the broker's service returned (see Error and rebuild).
const (
	CodeDenied           = "AccessDenied"
	CodeLocked           = "Locked"
	CodeRevoked          = "SessionRevoked"
	CodeExpired          = "SessionExpired"
	CodeStore            = "StoreUnavailable"
	CodeSource           = "CredentialSourceFailed"
	CodeNotRecorded      = "NotRecorded"
	CodeUnauthenticated  = "Unauthenticated"
	CodeForbidden        = "Forbidden"
	CodeRateLimited      = "RateLimited"
	CodeNotFound         = "NotFound"
	CodeInvalidArgument  = "InvalidArgument"
	CodeConflict         = "Conflict"
	CodeAlreadyExists    = "AlreadyExists"
	CodeInvalidState     = "InvalidTransition"
	CodeUnavailable      = "Unavailable"
	CodeCorrupt          = "CorruptRecord"
	CodeInternal         = "InternalError"
	CodeMethodNotAllowed = "MethodNotAllowed"
	CodeTooLarge         = "RequestTooLarge"
	CodeBadRequest       = "BadRequest"
	CodeUnsupportedMedia = "UnsupportedMediaType"
	CodeTooManyRequests  = "TooManyRequests"
)

// Fixed sentences for errors whose own text is logged, never served: it
// may name hosts, tables or STS's answer.
const (
	internalMessage    = "internal error in the broker; see the broker's log"
	unavailableMessage = "the broker's store or a service it depends on is unavailable; retry shortly (details in the broker's log)"
	corruptMessage     = "a record in the broker's store is corrupt; see the broker's log"
	timeoutMessage     = "the broker gave up waiting on the request; retry"
)

// wireError is the body of every refusal: {"error": wireError}. The typed
// fields are set for the codes that carry them, so the client can rebuild
// the gateway's error with its fields.
type wireError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	RequestID string `json:"request_id,omitempty"`

	// AccessDenied.
	Denied *wireDenied `json:"denied,omitempty"`
	// Locked.
	Lock *ports.Lock `json:"lock,omitempty"`
	// SessionRevoked, SessionExpired.
	SessionID string `json:"session_id,omitempty"`
	// SessionRevoked.
	RevokedBy string    `json:"revoked_by,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	// StoreUnavailable.
	Corrupt bool `json:"corrupt,omitempty"`
	Missing bool `json:"missing,omitempty"`
	// CredentialSourceFailed.
	Profile string `json:"profile,omitempty"`
	// NotRecorded: "request" or "break-glass".
	What string `json:"what,omitempty"`
}

type wireDenied struct {
	Profile                 string `json:"profile"`
	Rule                    string `json:"rule,omitempty"`
	Reason                  string `json:"reason"`
	RequiresServerMode      bool   `json:"requires_server_mode,omitempty"`
	RequiresSessionTracking bool   `json:"requires_session_tracking,omitempty"`
	RequiresApproval        bool   `json:"requires_approval,omitempty"`
	RequiresSessionStore    string `json:"requires_session_store,omitempty"`
}

type errorEnvelope struct {
	Error wireError `json:"error"`
}

// errorResponse maps a service error to the status and the body served. It
// is the only place that decides this. Typed gateway errors come first (a
// StoreError wraps ErrUnavailable but is served as itself), then the
// workflow's, then the ports values.
func errorResponse(err error) (int, wireError) {
	var (
		denied      *gateway.DeniedError
		locked      *gateway.LockedError
		revoked     *gateway.RevokedError
		ended       *gateway.SessionEndedError
		store       *gateway.StoreError
		source      *gateway.SourceError
		notRecorded workflow.NotRecordedError
	)
	switch {
	case errors.As(err, &denied):
		return http.StatusForbidden, wireError{Code: CodeDenied, Message: denied.Error(), Denied: &wireDenied{
			Profile: denied.Profile, Rule: denied.Rule, Reason: denied.Reason,
			RequiresServerMode: denied.RequiresServerMode, RequiresSessionTracking: denied.RequiresSessionTracking,
			RequiresApproval: denied.RequiresApproval, RequiresSessionStore: denied.RequiresSessionStore,
		}}
	case errors.As(err, &locked):
		l := locked.Lock
		return http.StatusForbidden, wireError{Code: CodeLocked, Message: locked.Error(), Lock: &l}
	case errors.As(err, &revoked):
		return http.StatusForbidden, wireError{Code: CodeRevoked, Message: revoked.Error(),
			SessionID: revoked.SessionID, RevokedBy: revoked.By, Reason: revoked.Reason, RevokedAt: revoked.At}
	case errors.As(err, &ended):
		return http.StatusForbidden, wireError{Code: CodeExpired, Message: ended.Error(), SessionID: ended.SessionID}
	case errors.As(err, &store):
		return http.StatusServiceUnavailable, wireError{Code: CodeStore, Message: store.Error(), Corrupt: store.Corrupt, Missing: store.Missing}
	case errors.As(err, &source):
		// STS's text (or a profile's) stays in the broker's log.
		return http.StatusBadGateway, wireError{Code: CodeSource, Profile: source.Profile, Message: fmt.Sprintf(
			"the broker's credential source for profile %q failed; the broker's AWS identity may lack access to the role, "+
				"or STS is unreachable from the broker (details in the broker's log)", source.Profile)}
	case errors.As(err, &notRecorded):
		return http.StatusServiceUnavailable, wireError{Code: CodeNotRecorded, What: notRecorded.What, Message: fmt.Sprintf(
			"could not record the %s: the broker's store did not take it; nothing was created (details in the broker's log)", notRecorded.What)}
	case errors.Is(err, ports.ErrUnauthenticated):
		return http.StatusUnauthorized, wireError{Code: CodeUnauthenticated, Message: err.Error()}
	case errors.Is(err, breakglass.ErrRateLimited):
		return http.StatusForbidden, wireError{Code: CodeRateLimited, Message: err.Error()}
	case errors.Is(err, ports.ErrForbidden), errors.Is(err, policy.ErrForbidden):
		return http.StatusForbidden, wireError{Code: CodeForbidden, Message: err.Error()}
	case errors.Is(err, ports.ErrNotFound):
		return http.StatusNotFound, wireError{Code: CodeNotFound, Message: err.Error()}
	case errors.Is(err, ports.ErrInvalidArgument):
		return http.StatusBadRequest, wireError{Code: CodeInvalidArgument, Message: err.Error()}
	case errors.Is(err, ports.ErrConflict):
		return http.StatusConflict, wireError{Code: CodeConflict, Message: err.Error()}
	case errors.Is(err, ports.ErrAlreadyExists):
		return http.StatusConflict, wireError{Code: CodeAlreadyExists, Message: err.Error()}
	case errors.Is(err, ports.ErrInvalidTransition):
		return http.StatusConflict, wireError{Code: CodeInvalidState, Message: err.Error()}
	case errors.Is(err, ports.ErrCorrupt):
		return http.StatusInternalServerError, wireError{Code: CodeCorrupt, Message: corruptMessage}
	case errors.Is(err, ports.ErrUnavailable):
		return http.StatusServiceUnavailable, wireError{Code: CodeUnavailable, Message: unavailableMessage}
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return http.StatusServiceUnavailable, wireError{Code: CodeUnavailable, Message: timeoutMessage}
	default:
		return http.StatusInternalServerError, wireError{Code: CodeInternal, Message: internalMessage}
	}
}

// Error is a refusal from the broker, as the client received it. Error()
// is the broker's message; errors.Is matches the ports (and core) error
// values the code stands for, so callers test it as in solo mode.
type Error struct {
	Status    int
	Code      string
	Message   string
	RequestID string
	kinds     []error
}

func (e *Error) Error() string {
	if e.Status >= 500 && e.RequestID != "" {
		return e.Message + " (broker request " + e.RequestID + ")"
	}
	return e.Message
}

// Unwrap returns the error values the code stands for.
func (e *Error) Unwrap() []error { return e.kinds }

// codeKinds lists, per code, the error values a rebuilt Error matches.
var codeKinds = map[string][]error{
	CodeUnauthenticated:  {ports.ErrUnauthenticated},
	CodeForbidden:        {ports.ErrForbidden, policy.ErrForbidden},
	CodeRateLimited:      {breakglass.ErrRateLimited, ports.ErrForbidden, policy.ErrForbidden},
	CodeNotFound:         {ports.ErrNotFound},
	CodeInvalidArgument:  {ports.ErrInvalidArgument},
	CodeBadRequest:       {ports.ErrInvalidArgument},
	CodeUnsupportedMedia: {ports.ErrInvalidArgument},
	CodeTooLarge:         {ports.ErrInvalidArgument},
	CodeConflict:         {ports.ErrConflict},
	CodeAlreadyExists:    {ports.ErrAlreadyExists},
	CodeInvalidState:     {ports.ErrInvalidTransition},
	CodeCorrupt:          {ports.ErrCorrupt},
	CodeUnavailable:      {ports.ErrUnavailable},
	CodeTooManyRequests:  {ports.ErrUnavailable},
}

// rebuild turns a refusal body back into the error the service returned:
// the gateway's and the workflow's typed errors with their fields, an
// *Error matching the ports values otherwise. status is the HTTP status.
func rebuild(status int, w wireError) error {
	remote := &Error{Status: status, Code: w.Code, Message: w.Message, RequestID: w.RequestID, kinds: codeKinds[w.Code]}
	switch w.Code {
	case CodeDenied:
		if d := w.Denied; d != nil {
			return &gateway.DeniedError{Profile: d.Profile, Rule: d.Rule, Reason: d.Reason,
				RequiresServerMode: d.RequiresServerMode, RequiresSessionTracking: d.RequiresSessionTracking,
				RequiresApproval: d.RequiresApproval, RequiresSessionStore: d.RequiresSessionStore}
		}
	case CodeLocked:
		if w.Lock != nil {
			return &gateway.LockedError{Lock: *w.Lock}
		}
	case CodeRevoked:
		return &gateway.RevokedError{SessionID: w.SessionID, By: w.RevokedBy, Reason: w.Reason, At: w.RevokedAt}
	case CodeExpired:
		return &gateway.SessionEndedError{SessionID: w.SessionID}
	case CodeStore:
		remote.kinds = []error{ports.ErrUnavailable}
		if w.Corrupt {
			remote.kinds = []error{ports.ErrCorrupt}
		}
		return &gateway.StoreError{Err: remote, Corrupt: w.Corrupt, Missing: w.Missing}
	case CodeSource:
		remote.kinds = []error{ports.ErrUnavailable}
		return &gateway.SourceError{Profile: w.Profile, Err: remote}
	case CodeNotRecorded:
		remote.kinds = []error{ports.ErrUnavailable}
		return workflow.NotRecordedError{What: w.What, Err: remote}
	}
	if remote.kinds == nil && status >= 500 {
		// An unknown code from a newer broker, or a proxy's own error page:
		// retrying may help, as with an unreachable broker.
		remote.kinds = []error{ports.ErrUnavailable}
	}
	return remote
}
