package fakests

import (
	"context"
	"crypto/subtle"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sentinel-gw/sentinel/internal/sigv4verify"
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

// AssumeRole asks the fake, over HTTP, for credentials of roleARN lasting
// seconds (signed with ExampleKeyID), for tests of other stand-ins that need
// credentials the fake really issued.
func (s *Server) AssumeRole(t testing.TB, roleARN string, seconds int) Credentials {
	t.Helper()
	return s.issueForTest(t, url.Values{"Action": {"AssumeRole"}, "RoleArn": {roleARN},
		"RoleSessionName": {"test-session"}, "DurationSeconds": {strconv.Itoa(seconds)}})
}

// GetSessionToken is AssumeRole's twin for GetSessionToken credentials.
func (s *Server) GetSessionToken(t testing.TB) Credentials {
	t.Helper()
	return s.issueForTest(t, url.Values{"Action": {"GetSessionToken"}})
}

func (s *Server) issueForTest(t testing.TB, form url.Values) Credentials {
	t.Helper()
	form.Set("Version", APIVersion)
	body := form.Encode()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if err := Sign(req, []byte(body), Credentials{AccessKeyID: ExampleKeyID, SecretAccessKey: ExampleSecret}, "us-east-1", s.signClock.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	calls := s.Calls()
	if resp.StatusCode != http.StatusOK || len(calls) == 0 || calls[len(calls)-1].Issued == nil {
		t.Fatalf("fakests %s: HTTP %d", form.Get("Action"), resp.StatusCode)
	}
	return *calls[len(calls)-1].Issued
}

// Sign signs r (whose body is body) for STS in region with c at signedAt, as
// an SDK client would (sigv4verify.Sign). Tests use it to craft requests by hand.
func Sign(r *http.Request, body []byte, c Credentials, region string, signedAt time.Time) error {
	creds := aws.Credentials{AccessKeyID: c.AccessKeyID, SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	return sigv4verify.Sign(r, body, creds, "sts", region, signedAt)
}
