package fakeiam

import (
	"net/http"
	"time"

	"github.com/sentinel-gw/sentinel/internal/sigv4verify"
	"github.com/sentinel-gw/sentinel/ports"
)

// maxSkew is how far X-Amz-Date may be from the fake's clock, as at AWS.
const maxSkew = 5 * time.Minute

// WithKey makes a long-term access key known (id -> secret). The fake
// verifies every request's SigV4 signature with the secret of the key it
// names; a key it does not know is InvalidClientTokenId, as at IAM.
func WithKey(accessKeyID, secret string) Option {
	return func(s *Server) { s.secrets[accessKeyID] = secret }
}

// WithClock sets the clock the signature date is checked against.
func WithClock(c ports.Clock) Option { return func(s *Server) { s.clock = c } }

// verify checks the request's signature with the known keys.
func (s *Server) verify(r *http.Request, body []byte, keyID string) (string, *iamError) {
	_, err := sigv4verify.VerifyKey(r, body, func(id string) (sigv4verify.Key, bool) {
		secret, ok := s.secrets[id]
		return sigv4verify.Key{SecretAccessKey: secret}, ok
	}, s.clock.Now(), maxSkew)
	if err != nil {
		status, code, message, ok := sigv4verify.Code(err)
		if !ok {
			status, code, message = http.StatusForbidden, "SignatureDoesNotMatch", err.Error()
		}
		return keyID, &iamError{status, code, message}
	}
	return keyID, nil
}
