package fakests

import (
	"crypto/subtle"
	"time"
)

// IssuedBy reports whether the fake issued exactly these credentials (key id,
// secret and session token all equal) and, if so, which action issued them
// ("AssumeRole" or "GetSessionToken") and when they expire. Other stand-ins
// (the sign-in federation endpoint) use it to accept only credentials STS
// really handed out.
func (s *Server) IssuedBy(accessKeyID, secretAccessKey, sessionToken string) (action string, expires time.Time, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.calls {
		if c.Issued == nil || c.Issued.AccessKeyID != accessKeyID {
			continue
		}
		if !equal(c.Issued.SecretAccessKey, secretAccessKey) || !equal(c.Issued.SessionToken, sessionToken) {
			return "", time.Time{}, false
		}
		return c.Action, c.Issued.Expiration, true
	}
	return "", time.Time{}, false
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
