package httpserver

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/ports"
)

// internalErrorMessage is all a caller learns about an error we did not expect.
const internalErrorMessage = "internal error; see the sentinel log"

// errorResponse maps an Issuer error to the HTTP status, the "Code" and the
// "Message" served to the SDK. It is the only place that decides this.
//
// Source errors are served as a fixed sentence: their text comes from STS or
// a profile and is logged, never served.
func errorResponse(err error) (status int, code, message string) {
	var (
		denied  *gateway.DeniedError
		revoked *gateway.RevokedError
		ended   *gateway.SessionEndedError
		store   *gateway.StoreError
		source  *gateway.SourceError
		locked  *gateway.LockedError
	)
	switch {
	case errors.As(err, &denied):
		return http.StatusForbidden, "AccessDenied", denied.Error()
	case errors.As(err, &locked):
		return http.StatusForbidden, "Locked", locked.Error()
	case errors.As(err, &revoked):
		return http.StatusForbidden, "SessionRevoked", revoked.Error()
	case errors.As(err, &ended):
		return http.StatusForbidden, "SessionExpired", ended.Error()
	case errors.As(err, &store):
		return http.StatusServiceUnavailable, "StoreUnavailable", store.Error()
	case errors.As(err, &source):
		return http.StatusBadGateway, "CredentialSourceFailed", fmt.Sprintf(
			"credential source for profile %q failed; check that the profile's source credentials "+
				"are valid and unexpired and that STS is reachable, then retry (details in the sentinel log)",
			source.Profile)
	// Team mode: the broker refused or could not be reached. The issuer's
	// text is our own broker's, never an upstream's, but it may name the
	// broker's URL and a transport error: a fixed sentence says what to do.
	case errors.Is(err, ports.ErrUnauthenticated):
		return http.StatusForbidden, "BrokerUnauthenticated",
			"the broker did not accept this machine's AWS identity (expired credentials, or a clock off by more than 5 minutes); details in the sentinel log"
	case errors.Is(err, ports.ErrForbidden), errors.Is(err, ports.ErrNotFound):
		return http.StatusForbidden, "BrokerForbidden", "the broker refused this session's request; details in the sentinel log"
	case errors.Is(err, ports.ErrUnavailable):
		return http.StatusServiceUnavailable, "BrokerUnavailable", "the broker could not be reached or is unavailable; retry shortly (details in the sentinel log)"
	default:
		return http.StatusInternalServerError, "InternalError", internalErrorMessage
	}
}
