// Package fakesignin is a local stand-in for the AWS sign-in federation
// endpoint (GET /federation?Action=getSigninToken), for tests. Point sentinel
// at it with AWS_ENDPOINT_URL_SIGNIN=URL().
//
// It is strict where the real endpoint is: only GET, only
// Action=getSigninToken, a Session parameter that is a JSON object with
// exactly sessionId, sessionKey and sessionToken, credentials that the local
// STS stand-in really issued through AssumeRole and that have not expired,
// and SessionDuration (when given) a whole number of seconds in 900..43200.
// Anything else is answered HTTP 400, as AWS answers bad input.
//
// What it does not prove: that AWS accepts the same credentials (it knows only
// what the STS stand-in issued, not IAM policies or role trust), the exact
// body of AWS's error page, that the role-chaining 1-hour limit on
// SessionDuration holds, or anything about Action=login: the console sign-in
// itself is never exercised.
package fakesignin

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// Duration bounds of SessionDuration, in seconds.
const (
	minSessionSeconds = 900
	maxSessionSeconds = 43200
)

// Issuer tells whether credentials were issued by the STS stand-in, by which
// action and until when; *fakests.Server implements it.
type Issuer interface {
	IssuedBy(accessKeyID, secretAccessKey, sessionToken string) (action string, expires time.Time, ok bool)
}

// Call is one request the stand-in received.
type Call struct {
	Action string
	// SessionDuration is the raw parameter; empty when absent.
	SessionDuration string
	// AccessKeyID is the Session's sessionId, when it parsed.
	AccessKeyID string
	// Status is the HTTP status answered.
	Status int
	// Reason says why a request was refused; empty on success.
	Reason string
	// SigninToken is the token answered; empty when refused.
	SigninToken string
}

// Server is a running stand-in, closed by the test's cleanup.
type Server struct {
	srv    *httptest.Server
	issuer Issuer
	clock  ports.Clock

	mu    sync.Mutex
	calls []Call
}

// New starts the stand-in on 127.0.0.1, accepting credentials issuer issued.
func New(t testing.TB, issuer Issuer, clock ports.Clock) *Server {
	t.Helper()
	if clock == nil {
		clock = ports.SystemClock{}
	}
	s := &Server{issuer: issuer, clock: clock}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the base URL (no /federation), what AWS_ENDPOINT_URL_SIGNIN takes.
func (s *Server) URL() string { return s.srv.URL }

// Calls returns a copy of every request received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Call(nil), s.calls...)
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	call := s.answer(r)
	s.mu.Lock()
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	if call.Status != http.StatusOK {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(call.Status)
		_, _ = w.Write([]byte("Bad Request\n"))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"SigninToken": call.SigninToken})
}

func (s *Server) answer(r *http.Request) Call {
	q := r.URL.Query()
	call := Call{Action: q.Get("Action"), SessionDuration: q.Get("SessionDuration"), Status: http.StatusBadRequest}
	refuse := func(reason string) Call {
		call.Reason = reason
		return call
	}
	switch {
	case r.URL.Path != "/federation":
		call.Status = http.StatusNotFound
		return refuse("path is not /federation")
	case r.Method != http.MethodGet:
		call.Status = http.StatusMethodNotAllowed
		return refuse("method is not GET")
	case call.Action != "getSigninToken":
		return refuse("Action is not getSigninToken")
	}
	for key, values := range q {
		if len(values) != 1 {
			return refuse(key + " given more than once")
		}
	}
	if _, ok := q["SessionDuration"]; ok {
		n, err := strconv.Atoi(call.SessionDuration)
		if err != nil || n < minSessionSeconds || n > maxSessionSeconds {
			return refuse("SessionDuration is not a whole number of seconds in 900..43200")
		}
	}
	var sess struct {
		SessionID    *string `json:"sessionId"`
		SessionKey   *string `json:"sessionKey"`
		SessionToken *string `json:"sessionToken"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(q.Get("Session"))))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sess); err != nil || dec.More() {
		return refuse("Session is not a JSON object of sessionId, sessionKey and sessionToken")
	}
	if sess.SessionID == nil || sess.SessionKey == nil || sess.SessionToken == nil ||
		*sess.SessionID == "" || *sess.SessionKey == "" || *sess.SessionToken == "" {
		return refuse("Session lacks sessionId, sessionKey or sessionToken")
	}
	call.AccessKeyID = *sess.SessionID
	action, expires, ok := s.issuer.IssuedBy(*sess.SessionID, *sess.SessionKey, *sess.SessionToken)
	switch {
	case !ok:
		return refuse("credentials were not issued by STS")
	case action != "AssumeRole":
		return refuse("credentials come from " + action + ", not AssumeRole")
	case !s.clock.Now().Before(expires):
		return refuse("credentials have expired")
	}
	call.Status = http.StatusOK
	call.SigninToken = token()
	return call
}

func token() string {
	b := make([]byte, 96)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
