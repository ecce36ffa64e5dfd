// Package fakeiam is a local IAM for tests: an httptest server on 127.0.0.1
// that speaks the IAM Query API (form-encoded POST, Version=2010-05-08) and
// answers the inline-policy actions of roles and users (Put, Get, Delete,
// List RolePolicy / UserPolicy) with the real XML shapes and error codes.
// Point an SDK at it with AWS_ENDPOINT_URL_IAM=URL().
//
// It is strict where IAM is: a request must carry a valid SigV4 signature
// (internal/sigv4verify) for service iam in us-east-1, made with a key given
// by WithKey; names must match IAM's patterns (ValidationError); a
// document must be a policy IAM would parse (MalformedPolicyDocument: JSON,
// Version, Statement, Effect, Action, Resource, known condition operators);
// a role's inline policies may total 10,240 characters and a user's 2,048,
// whitespace not counted (LimitExceeded); unknown roles, users and policies
// are NoSuchEntity.
//
// What it does not prove: that real IAM accepts exactly the same documents
// (it checks the grammar Sentinel writes, not every rule of IAM's policy
// validator), IAM's own permission checks on the caller (any known key may
// write), or how
// long real IAM takes to apply a policy (AWS says "a few minutes" at most;
// here it is immediate). Evaluating the stored policies is internal/fakeapi's.
package fakeiam

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unicode"

	"github.com/sentinel-gw/sentinel/internal/querywire"
	"github.com/sentinel-gw/sentinel/ports"
)

// APIVersion is the only IAM Query API version the fake accepts.
const APIVersion = "2010-05-08"

const xmlNamespace = "https://iam.amazonaws.com/doc/2010-05-08/"

// IAM's quotas on inline policies, in characters without whitespace.
const (
	RoleInlineMax = 10240
	UserInlineMax = 2048
)

var (
	entityName = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	policyName = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
)

// Failure makes the next Times calls of an action answer an IAM error.
type Failure struct {
	Status  int
	Code    string
	Message string
	Times   int
}

// Server is a running fake IAM, closed by the test's cleanup.
type Server struct {
	srv *httptest.Server

	mu       sync.Mutex
	roles    map[string]map[string]string // role name -> policy name -> document
	users    map[string]map[string]string
	failures map[string]*Failure
	secrets  map[string]string // access key id -> secret
	clock    ports.Clock
	pageSize int // a list's page without MaxItems (IAM's default: 100)
	calls    []Call
}

// Call is one request the fake answered.
type Call struct {
	Action      string
	Params      map[string]string
	AccessKeyID string
	ErrorCode   string
}

// Option configures a Server.
type Option func(*Server)

// WithRole makes a role (by name) exist, with no inline policies.
func WithRole(name string) Option { return func(s *Server) { s.roles[name] = map[string]string{} } }

// WithUser makes an IAM user (by name) exist.
func WithUser(name string) Option { return func(s *Server) { s.users[name] = map[string]string{} } }

// WithPageSize makes a list without MaxItems answer n names a page (IAM's
// default is 100), so tests can see paging.
func WithPageSize(n int) Option { return func(s *Server) { s.pageSize = n } }

// New starts a fake IAM on 127.0.0.1 and registers its shutdown with t.Cleanup.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := &Server{roles: map[string]map[string]string{}, users: map[string]map[string]string{}, failures: map[string]*Failure{}, pageSize: 100,
		secrets: map[string]string{}, clock: ports.SystemClock{}}
	for _, o := range opts {
		o(s)
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the endpoint to put in AWS_ENDPOINT_URL_IAM.
func (s *Server) URL() string { return s.srv.URL }

// Fail makes the next f.Times calls of action answer f.
func (s *Server) Fail(action string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[action] = &f
}

// Calls returns a copy of every request answered so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// RolePolicies returns a copy of the role's inline policies (name -> document).
func (s *Server) RolePolicies(role string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.roles[role])
}

// UserPolicies returns a copy of the user's inline policies.
func (s *Server) UserPolicies(user string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return clone(s.users[user])
}

// Fill puts on the role an inline policy of filler that leaves room for
// only `left` more characters, as a role already near its quota.
func (s *Server) Fill(role string, left int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	prefix := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::`
	suffix := `"}]}`
	used := 0
	for _, d := range s.roles[role] {
		used += size(d)
	}
	pad := RoleInlineMax - left - used - len(prefix) - len(suffix)
	s.roles[role]["Filler"] = prefix + strings.Repeat("x", max(pad, 1)) + suffix
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// iamError is an answer with an IAM error code.
type iamError struct {
	status  int
	code    string
	message string
}

func noSuchEntity(format string, a ...any) *iamError {
	return &iamError{http.StatusNotFound, "NoSuchEntity", fmt.Sprintf(format, a...)}
}

func validation(field, value, rule string) *iamError {
	return &iamError{http.StatusBadRequest, "ValidationError",
		fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, field, rule)}
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	requestID := newRequestID()
	call := Call{Params: map[string]string{}}
	body, ierr := s.answer(r, &call, requestID)
	s.mu.Lock()
	if ierr != nil {
		call.ErrorCode = ierr.code
	}
	s.calls = append(s.calls, call)
	s.mu.Unlock()
	if ierr != nil {
		querywire.Answer(w, requestID, ierr.status, nil, xmlNamespace, ierr.code, ierr.message)
		return
	}
	querywire.Answer(w, requestID, http.StatusOK, body, "", "", "")
}

func (s *Server) answer(r *http.Request, call *Call, requestID string) (any, *iamError) {
	if r.Method != http.MethodPost {
		return nil, &iamError{http.StatusBadRequest, "InvalidAction", "IAM Query API requests must be POST in this fake"}
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		return nil, &iamError{http.StatusBadRequest, "MalformedQueryString", "cannot read the body"}
	}
	form, err := url.ParseQuery(string(raw))
	if err != nil {
		return nil, &iamError{http.StatusBadRequest, "MalformedQueryString", "cannot parse form body"}
	}
	for k, v := range form {
		call.Params[k] = v[0]
	}
	keyID, ierr := s.authenticate(r, raw)
	call.AccessKeyID = keyID
	if ierr != nil {
		return nil, ierr
	}
	call.Action = call.Params["Action"]
	if v := call.Params["Version"]; v != APIVersion {
		return nil, &iamError{http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", call.Action, v)}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if f := s.failures[call.Action]; f != nil && f.Times > 0 {
		f.Times--
		return nil, &iamError{f.Status, f.Code, f.Message}
	}
	p := call.Params
	meta := responseMetadata{RequestID: requestID}
	switch call.Action {
	case "PutRolePolicy", "PutUserPolicy":
		kind, store, limit, ierr := s.entity(call.Action, p)
		if ierr != nil {
			return nil, ierr
		}
		if ierr := put(kind, p, store, limit); ierr != nil {
			return nil, ierr
		}
		return emptyResponse{XMLName: xml.Name{Local: call.Action + "Response"}, Xmlns: xmlNamespace, Metadata: meta}, nil
	case "DeleteRolePolicy", "DeleteUserPolicy", "GetRolePolicy", "GetUserPolicy":
		kind, store, _, ierr := s.entity(call.Action, p)
		if ierr != nil {
			return nil, ierr
		}
		name := p["PolicyName"]
		if !policyName.MatchString(name) {
			return nil, validation("policyName", name, `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
		}
		doc, ok := store[name]
		if !ok {
			return nil, noSuchEntity("The %s policy with name %s cannot be found.", kind, name)
		}
		if strings.HasPrefix(call.Action, "Delete") {
			delete(store, name)
			return emptyResponse{XMLName: xml.Name{Local: call.Action + "Response"}, Xmlns: xmlNamespace, Metadata: meta}, nil
		}
		return getResponse(call.Action, kind, p[entityParam(kind)], name, doc, meta), nil
	case "ListRolePolicies", "ListUserPolicies":
		_, store, _, ierr := s.entity(call.Action, p)
		if ierr != nil {
			return nil, ierr
		}
		return list(call.Action, store, p, s.pageSize, meta)
	default:
		return nil, &iamError{http.StatusBadRequest, "InvalidAction", fmt.Sprintf("Could not find operation %s for version %s", call.Action, APIVersion)}
	}
}

// authenticate requires a SigV4 Authorization scoped to service iam (IAM
// signs in us-east-1) and, with WithSecrets, a valid signature.
func (s *Server) authenticate(r *http.Request, body []byte) (string, *iamError) {
	auth := r.Header.Get("Authorization")
	scope, ok := strings.CutPrefix(auth, "AWS4-HMAC-SHA256 Credential=")
	if !ok {
		return "", &iamError{http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token"}
	}
	scope, _, _ = strings.Cut(scope, ",")
	parts := strings.Split(scope, "/")
	if len(parts) != 5 || parts[3] != "iam" || parts[4] != "aws4_request" {
		return parts[0], &iamError{http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to correct service: 'iam'. "}
	}
	if parts[2] != "us-east-1" {
		return parts[0], &iamError{http.StatusForbidden, "SignatureDoesNotMatch", fmt.Sprintf("Credential should be scoped to a valid region, not '%s'. ", parts[2])}
	}
	return s.verify(r, body, parts[0])
}

func entityParam(kind string) string {
	if kind == "role" {
		return "RoleName"
	}
	return "UserName"
}

// entity finds the role or user the action names.
func (s *Server) entity(action string, p map[string]string) (kind string, store map[string]string, limit int, _ *iamError) {
	kind, all, limit := "user", s.users, UserInlineMax
	if strings.Contains(action, "Role") {
		kind, all, limit = "role", s.roles, RoleInlineMax
	}
	param := entityParam(kind)
	name, ok := p[param]
	if !ok {
		return "", nil, 0, validation(strings.ToLower(param[:1])+param[1:], "null", "Member must not be null")
	}
	if !entityName.MatchString(name) {
		return "", nil, 0, validation(strings.ToLower(param[:1])+param[1:], name, `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	store, ok = all[name]
	if !ok {
		return "", nil, 0, noSuchEntity("The %s with name %s cannot be found.", kind, name)
	}
	return kind, store, limit, nil
}

func put(kind string, p map[string]string, store map[string]string, limit int) *iamError {
	name := p["PolicyName"]
	if !policyName.MatchString(name) {
		return validation("policyName", name, `Member must satisfy regular expression pattern: [\w+=,.@-]+`)
	}
	doc, ok := p["PolicyDocument"]
	if !ok || doc == "" {
		return validation("policyDocument", "null", "Member must not be null")
	}
	if msg := checkDocument(doc); msg != "" {
		return &iamError{http.StatusBadRequest, "MalformedPolicyDocument", msg}
	}
	total := size(doc)
	for other, d := range store {
		if other != name { // a put under an existing name replaces it
			total += size(d)
		}
	}
	if total > limit {
		return &iamError{http.StatusConflict, "LimitExceeded", fmt.Sprintf("Maximum policy size of %d bytes exceeded for %s %s", limit, kind, p[entityParam(kind)])}
	}
	store[name] = doc
	return nil
}

// size is a document's length as IAM counts it: whitespace is not counted.
func size(doc string) int {
	n := 0
	for _, r := range doc {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n
}

// conditionOperators are the operators checkDocument accepts (with the
// IfExists suffix and the ForAllValues:/ForAnyValue: prefixes).
var conditionOperators = []string{
	"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike",
	"NumericEquals", "NumericNotEquals", "NumericLessThan", "NumericLessThanEquals", "NumericGreaterThan", "NumericGreaterThanEquals",
	"DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals", "DateGreaterThan", "DateGreaterThanEquals",
	"Bool", "BinaryEquals", "IpAddress", "NotIpAddress", "ArnEquals", "ArnLike", "ArnNotEquals", "ArnNotLike", "Null",
}

// checkDocument returns why IAM would refuse doc, or "".
func checkDocument(doc string) string {
	var d struct {
		Version   string
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(doc), &d); err != nil {
		return "Syntax errors in policy."
	}
	if d.Version != "2012-10-17" && d.Version != "2008-10-17" {
		return "The policy must contain a valid version string"
	}
	var stmts []map[string]json.RawMessage
	if err := json.Unmarshal(d.Statement, &stmts); err != nil {
		var one map[string]json.RawMessage
		if json.Unmarshal(d.Statement, &one) != nil {
			return "Syntax errors in policy."
		}
		stmts = append(stmts, one)
	}
	if len(stmts) == 0 {
		return "Syntax errors in policy."
	}
	for _, st := range stmts {
		var effect string
		if json.Unmarshal(st["Effect"], &effect) != nil || (effect != "Allow" && effect != "Deny") {
			return "Policy statement must contain a valid Effect (Allow or Deny)."
		}
		if st["Action"] == nil && st["NotAction"] == nil {
			return "Policy statement must contain actions."
		}
		if st["Resource"] == nil && st["NotResource"] == nil {
			return "Policy statement must contain resources."
		}
		if raw := st["Condition"]; raw != nil {
			var cond map[string]map[string]json.RawMessage
			if json.Unmarshal(raw, &cond) != nil {
				return "Syntax errors in policy."
			}
			for op := range cond {
				base := strings.TrimSuffix(op, "IfExists")
				base = strings.TrimPrefix(strings.TrimPrefix(base, "ForAllValues:"), "ForAnyValue:")
				if !slices.Contains(conditionOperators, base) {
					return "Invalid Condition type : " + op
				}
			}
		}
	}
	return ""
}

func list(action string, store map[string]string, p map[string]string, maxItems int, meta responseMetadata) (any, *iamError) {
	if v, ok := p["MaxItems"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return nil, validation("maxItems", v, "Member must have value between 1 and 1000")
		}
		maxItems = n
	}
	names := make([]string, 0, len(store))
	for n := range store {
		names = append(names, n)
	}
	slices.Sort(names)
	start := 0
	if m, ok := p["Marker"]; ok {
		i, err := strconv.Atoi(m)
		if err != nil || i < 0 || i > len(names) {
			return nil, &iamError{http.StatusBadRequest, "ValidationError", "Invalid Marker"}
		}
		start = i
	}
	end := min(start+maxItems, len(names))
	res := listResult{PolicyNames: names[start:end], IsTruncated: end < len(names)}
	if res.IsTruncated {
		res.Marker = strconv.Itoa(end)
	}
	return listResponse{XMLName: xml.Name{Local: action + "Response"}, Xmlns: xmlNamespace,
		Result: listResultWrap{XMLName: xml.Name{Local: action + "Result"}, listResult: res}, Metadata: meta}, nil
}

func getResponse(action, kind, entity, name, doc string, meta responseMetadata) any {
	res := getResult{XMLName: xml.Name{Local: action + "Result"}, PolicyName: name, PolicyDocument: url.QueryEscape(doc)}
	if kind == "role" {
		res.RoleName = entity
	} else {
		res.UserName = entity
	}
	return getResponseXML{XMLName: xml.Name{Local: action + "Response"}, Xmlns: xmlNamespace, Result: res, Metadata: meta}
}

// XML shapes of the IAM Query API.

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

type emptyResponse struct {
	XMLName  xml.Name
	Xmlns    string           `xml:"xmlns,attr"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

type listResult struct {
	PolicyNames []string `xml:"PolicyNames>member"`
	IsTruncated bool     `xml:"IsTruncated"`
	Marker      string   `xml:"Marker,omitempty"`
}

type listResultWrap struct {
	XMLName xml.Name
	listResult
}

type listResponse struct {
	XMLName  xml.Name
	Xmlns    string `xml:"xmlns,attr"`
	Result   listResultWrap
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

type getResult struct {
	XMLName        xml.Name
	RoleName       string `xml:"RoleName,omitempty"`
	UserName       string `xml:"UserName,omitempty"`
	PolicyName     string `xml:"PolicyName"`
	PolicyDocument string `xml:"PolicyDocument"`
}

type getResponseXML struct {
	XMLName  xml.Name
	Xmlns    string `xml:"xmlns,attr"`
	Result   getResult
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

func newRequestID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
