// Package fakeapi is a local stand-in for an AWS API that IAM guards: the
// DynamoDB JSON action ListTables (POST, X-Amz-Target
// DynamoDB_20120810.ListTables), so a test's child is a real SDK client
// (aws-sdk-go-v2, boto3, the AWS CLI) pointed at it with
// AWS_ENDPOINT_URL_DYNAMODB=URL().
//
// It accepts only credentials the local STS issued (internal/fakests): it
// verifies each request's SigV4 signature with the issued secret, and the
// session token with it (internal/sigv4verify), and refuses expired ones.
// Then it evaluates the inline policies stored at the local IAM
// (internal/fakeiam) on the principal: the role's for AssumeRole
// credentials, the user's for GetSessionToken ones. An explicit Deny wins,
// with IAM's documented condition semantics for the keys Sentinel writes:
//   - aws:SourceIdentity: the SourceIdentity given to AssumeRole; absent
//     when none was (and for GetSessionToken);
//   - aws:userid: "<role id>:<role session name>" for a role session, the
//     user's unique id ("AIDA...") for a user's credentials;
//   - aws:TokenIssueTime: when STS issued the credentials.
//
// Within a condition a key's values are ORed, keys and operators ANDed; a
// condition on a key the request does not have does not match (except
// ...IfExists). StringLike takes * and ?. Keys are case-insensitive.
//
// What it does not prove: it models no Allow (every principal is allowed
// ListTables unless denied; real IAM needs an Allow too), no resource-based
// or session policies, no SCPs, and applies a policy at once where real IAM
// takes seconds to "a few minutes". A statement it cannot evaluate
// (NotAction, NotResource, an operator it does not know) is answered with an
// HTTP 500 naming it, so a test fails rather than passing on a guess.
package fakeapi

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/internal/sigv4verify"
	"github.com/sentinel-gw/sentinel/ports"
)

// Target is the one action the stand-in serves.
const Target = "DynamoDB_20120810.ListTables"

// Action is its IAM action name.
const Action = "dynamodb:ListTables"

const maxSkew = 5 * time.Minute

// Policies is where the stand-in reads the inline policies (fakeiam.Server).
type Policies interface {
	RolePolicies(role string) map[string]string
	UserPolicies(user string) map[string]string
}

// Call is one request answered.
type Call struct {
	AccessKeyID string
	// Allowed is true when ListTables was answered; otherwise Code says why.
	Allowed bool
	Code    string
	// DeniedBy names the policy whose explicit deny matched.
	DeniedBy string
}

// Server is a running stand-in, closed by the test's cleanup.
type Server struct {
	srv      *httptest.Server
	sts      *fakests.Server
	policies Policies
	clock    ports.Clock

	mu    sync.Mutex
	calls []Call
}

// Option configures a Server.
type Option func(*Server)

// WithClock sets the clock for signature dates and expiry.
func WithClock(c ports.Clock) Option { return func(s *Server) { s.clock = c } }

// New starts the stand-in on 127.0.0.1.
func New(t testing.TB, sts *fakests.Server, policies Policies, opts ...Option) *Server {
	t.Helper()
	s := &Server{sts: sts, policies: policies, clock: ports.SystemClock{}}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the endpoint to put in AWS_ENDPOINT_URL_DYNAMODB.
func (s *Server) URL() string { return s.srv.URL }

// Calls returns a copy of every request answered so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

type apiError struct {
	status  int
	code    string
	message string
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	call, aerr := s.answer(r)
	s.mu.Lock()
	call.Allowed = aerr == nil
	if aerr != nil {
		call.Code = aerr.code
	}
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	if aerr != nil {
		w.WriteHeader(aerr.status)
		_ = json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.dynamodb.v20120810#" + aerr.code, "message": aerr.message})
		return
	}
	_, _ = w.Write([]byte(`{"TableNames":[]}`))
}

func (s *Server) answer(r *http.Request) (Call, *apiError) {
	var call Call
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil || r.Method != http.MethodPost {
		return call, &apiError{http.StatusBadRequest, "SerializationException", "POST a JSON body"}
	}
	if got := r.Header.Get("X-Amz-Target"); got != Target {
		return call, &apiError{http.StatusBadRequest, "UnknownOperationException", "this stand-in serves only " + Target + ", not " + got}
	}
	now := s.clock.Now()
	var sess fakests.IssuedSession
	signed, err := sigv4verify.VerifyKey(r, body, func(id string) (sigv4verify.Key, bool) {
		found, ok := s.sts.Session(id)
		if ok {
			sess = found
		}
		return sigv4verify.Key{SecretAccessKey: found.Credentials.SecretAccessKey, SessionToken: found.Credentials.SessionToken}, ok
	}, now, maxSkew)
	call.AccessKeyID = signed.AccessKeyID
	if err != nil {
		status, code, message, ok := sigv4verify.Code(err)
		if !ok {
			status, code, message = http.StatusBadRequest, "UnrecognizedClientException", err.Error()
		}
		if code == "InvalidClientTokenId" {
			code = "UnrecognizedClientException" // DynamoDB's name for it
		}
		return call, &apiError{status, code, message}
	}
	if signed.Service != "dynamodb" {
		return call, &apiError{http.StatusBadRequest, "InvalidSignatureException", "Credential should be scoped to correct service: 'dynamodb'."}
	}
	if !now.Before(sess.Credentials.Expiration) {
		return call, &apiError{http.StatusBadRequest, "ExpiredTokenException", "The security token included in the request is expired"}
	}
	ctx, principal, docs := s.context(sess, signed.Region)
	for name, doc := range docs {
		deny, err := denies(doc, ctx)
		if err != nil {
			return call, &apiError{http.StatusInternalServerError, "InternalServerError", fmt.Sprintf("fakeapi cannot evaluate policy %s: %v", name, err)}
		}
		if deny {
			call.DeniedBy = name
			return call, &apiError{http.StatusBadRequest, "AccessDeniedException", fmt.Sprintf(
				"User: %s is not authorized to perform: %s on resource: arn:aws:dynamodb:%s:%s:table/* with an explicit deny in an identity-based policy",
				principal, Action, signed.Region, accountOf(principal))}
		}
	}
	return call, nil
}

// context returns the request context keys (lower-case), the principal's
// ARN and the inline policies that apply to it.
func (s *Server) context(sess fakests.IssuedSession, _ string) (map[string]string, string, map[string]string) {
	keys := map[string]string{"aws:tokenissuetime": sess.IssuedAt.UTC().Format(time.RFC3339)}
	if sess.Action == "AssumeRole" {
		keys["aws:userid"] = sess.AssumedRoleID
		if sess.SourceIdentity != "" {
			keys["aws:sourceidentity"] = sess.SourceIdentity
		}
		role := sess.RoleARN[strings.LastIndexByte(sess.RoleARN, '/')+1:]
		return keys, sess.PrincipalARN, s.policies.RolePolicies(role)
	}
	keys["aws:userid"] = UserID(sess.PrincipalARN)
	user := sess.PrincipalARN[strings.LastIndexByte(sess.PrincipalARN, '/')+1:]
	return keys, sess.PrincipalARN, s.policies.UserPolicies(user)
}

// UserID is the unique id ("AIDA...") the stand-in gives an IAM user.
func UserID(userARN string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	sum := sha256.Sum256([]byte(userARN))
	b := make([]byte, 17)
	for i := range b {
		b[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return "AIDA" + string(b)
}

func accountOf(arn string) string {
	parts := strings.Split(arn, ":")
	if len(parts) > 4 {
		return parts[4]
	}
	return ""
}
