// Package fakests is a local STS for tests: an httptest server on 127.0.0.1
// that speaks the STS Query API (form-encoded POST, Version=2011-06-15) and
// answers AssumeRole, GetSessionToken and GetCallerIdentity with the real XML
// shapes. Point an SDK at it with AWS_ENDPOINT_URL_STS=URL().
//
// It checks what real STS checks before answering: the SigV4 signature of
// every request, recomputed with the secret of the access key it names (keys
// it knows: ExampleKeyID, those given with WithUser, and every credential it
// issued, which must come with their session token and are refused once
// expired by the fake's clock), the signing date within 15 minutes of the
// wall clock (or WithSigningClock), required parameters, duration bounds, the
// session-name pattern, MFA one-time codes and roles whose trust policy
// requires MFA.
//
// What it does not prove: that a real AWS account, IAM policy or trust policy
// would allow a call (every known key may assume every role, except the MFA
// rule above); that an ARN it answers exists; presigned (query-string)
// requests, SigV4a, or the global endpoint's region rules; STS's throttling
// and its eventual consistency. Signatures are recomputed with the AWS SDK's
// signer, so a client whose canonical request differs from the SDK's in
// some corner would pass here and fail at AWS (or the reverse).
package fakests

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/querywire"
	"github.com/sentinel-gw/sentinel/internal/sigv4verify"
	"github.com/sentinel-gw/sentinel/ports"
)

// APIVersion is the only STS Query API version the fake accepts.
const APIVersion = "2011-06-15"

const xmlNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// DefaultAccount is the account id of keys known without an ARN.
const DefaultAccount = "123456789012"

// ExampleKeyID and ExampleSecret are AWS's documented example key; every
// fake knows it, as arn:aws:iam::DefaultAccount:user/ExampleKeyID.
const (
	ExampleKeyID  = "AKIAIOSFODNN7EXAMPLE"
	ExampleSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
)

// MaxSkew is how far a request's X-Amz-Date may be from the wall clock, as STS allows.
const MaxSkew = 15 * time.Minute

// maxBody bounds the request body the fake reads.
const maxBody = 1 << 20

// Duration bounds STS enforces, in seconds.
const (
	minDurationSeconds             = 900
	maxAssumeRoleDurationSeconds   = 43200
	maxSessionTokenDurationSeconds = 129600
	defaultAssumeRoleSeconds       = 3600
	defaultSessionTokenSeconds     = 43200
	roleChainingMaxSeconds         = 3600
)

// Call is one request the fake received, in arrival order.
type Call struct {
	Action string
	// Params holds the form parameters (first value of each).
	Params map[string]string
	// AccessKeyID is the key id from the Authorization header's Credential= scope.
	AccessKeyID string
	// Region is the signing region from the credential scope.
	Region string
	// HasSessionToken reports whether X-Amz-Security-Token was sent.
	HasSessionToken bool
	// ErrorCode is the STS error code answered, empty on success.
	ErrorCode string
	// Issued is what AssumeRole / GetSessionToken handed out; nil otherwise.
	Issued *Credentials
	// AssumedRoleID is the AssumedRoleUser.AssumedRoleId AssumeRole answered
	// ("AROA...:<role session name>"); empty otherwise.
	AssumedRoleID string
}

// Credentials are temporary credentials the fake issued.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	Expiration      time.Time
}

// Failure makes an action answer with an STS error response.
type Failure struct {
	Status  int // HTTP status, e.g. 403
	Code    string
	Message string
}

// Option configures a Server.
type Option func(*Server)

// WithFailure makes action ("" for every action) fail with f.
func WithFailure(action string, f Failure) Option {
	return func(s *Server) { s.failures[action] = f }
}

// WithDelay makes every answer wait d (or until the client gives up).
func WithDelay(d time.Duration) Option {
	return func(s *Server) { s.delay = d }
}

// WithClock sets the clock used for Expiration; the default is ports.SystemClock.
// Signing dates are checked against the signing clock (WithSigningClock).
func WithClock(c ports.Clock) Option {
	return func(s *Server) { s.clock = c }
}

// WithSigningClock sets the clock request signing dates are checked against;
// the default is ports.SystemClock, as SDKs sign with the wall clock.
func WithSigningClock(c ports.Clock) Option {
	return func(s *Server) { s.signClock = c }
}

// WithUser makes the long-term key accessKeyID known with its secret: its
// requests verify with that secret and GetCallerIdentity answers arn ("" for
// arn:aws:iam::DefaultAccount:user/<accessKeyID>). Requests signed by a key
// the fake does not know are refused (InvalidClientTokenId).
func WithUser(accessKeyID, secretAccessKey, arn string) Option {
	return func(s *Server) {
		s.keys[accessKeyID] = sigv4verify.Key{SecretAccessKey: secretAccessKey}
		if arn != "" {
			s.principals[accessKeyID] = arn
		}
	}
}

// WithSessionCredentials makes temporary credentials the fake did not issue
// known (a key with its secret and session token), as WithUser does for
// long-term keys.
func WithSessionCredentials(c Credentials, arn string) Option {
	return func(s *Server) {
		s.keys[c.AccessKeyID] = sigv4verify.Key{SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
		if arn != "" {
			s.principals[c.AccessKeyID] = arn
		}
	}
}

// WithMFADevice registers the MFA device serial with its current one-time
// code. GetSessionToken and AssumeRole naming serial must send that code; a
// code is accepted once, as at AWS.
func WithMFADevice(serial, code string) Option {
	return func(s *Server) { s.mfaCodes[serial] = code }
}

// WithMFARequired makes roleARN's trust policy require MFA: AssumeRole is
// refused unless it is signed with an MFA session (GetSessionToken with a
// valid code) or carries a valid SerialNumber and TokenCode itself.
func WithMFARequired(roleARN string) Option {
	return func(s *Server) { s.mfaRoles[roleARN] = true }
}

// SetMFACode makes code the device's current one-time code (the next 30-second window).
func (s *Server) SetMFACode(serial, code string) {
	s.mu.Lock()
	s.mfaCodes[serial] = code
	s.mu.Unlock()
}

// Server is a running fake STS. It is closed by the test's cleanup.
type Server struct {
	srv       *httptest.Server
	clock     ports.Clock
	signClock ports.Clock
	done      chan struct{}
	closeOnce sync.Once

	mu         sync.Mutex
	delay      time.Duration
	failures   map[string]Failure
	keys       map[string]sigv4verify.Key // access key id -> secret (and session token)
	expires    map[string]time.Time       // issued access key id -> its Expiration
	principals map[string]string          // access key id -> principal ARN
	assumedIDs map[string]string          // assumed-role ARN -> AssumedRoleId
	calls      []Call
	mfaCodes   map[string]string // MFA serial -> current one-time code
	usedCodes  map[string]bool   // serial + "\x00" + code, each accepted once
	mfaRoles   map[string]bool   // role ARNs whose trust policy requires MFA
	mfaKeys    map[string]bool   // access key ids of MFA sessions
}

// New starts a fake STS on 127.0.0.1 and registers its shutdown with t.Cleanup.
func New(t testing.TB, opts ...Option) *Server {
	t.Helper()
	s := newServer(opts)
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

// newServer is a Server with opts applied, not yet listening.
func newServer(opts []Option) *Server {
	s := &Server{
		clock:      ports.SystemClock{},
		signClock:  ports.SystemClock{},
		done:       make(chan struct{}),
		failures:   map[string]Failure{},
		keys:       map[string]sigv4verify.Key{ExampleKeyID: {SecretAccessKey: ExampleSecret}},
		expires:    map[string]time.Time{},
		principals: map[string]string{},
		assumedIDs: map[string]string{},
		mfaCodes:   map[string]string{},
		usedCodes:  map[string]bool{},
		mfaRoles:   map[string]bool{},
		mfaKeys:    map[string]bool{},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Close stops the server; New's cleanup calls it.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.done) // release handlers still sleeping so Close does not wait for them
		s.srv.Close()
	})
}

// URL is the endpoint to put in AWS_ENDPOINT_URL_STS.
func (s *Server) URL() string { return s.srv.URL }

// Calls returns a copy of every request received so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Call, len(s.calls))
	copy(out, s.calls)
	return out
}

// SetFailure makes action ("" for every action) fail with f from now on; nil clears it.
func (s *Server) SetFailure(action string, f *Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f == nil {
		delete(s.failures, action)
		return
	}
	s.failures[action] = *f
}

// SetDelay makes every later answer wait d.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	s.delay = d
	s.mu.Unlock()
}

// stsError is an answer with an STS error code.
type stsError struct {
	status  int
	code    string
	message string
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	delay := s.delay
	s.mu.Unlock()
	if delay > 0 {
		timer := time.NewTimer(delay)
		select {
		case <-timer.C:
		case <-r.Context().Done():
			timer.Stop()
			return
		case <-s.done:
			timer.Stop()
			return
		}
	}

	requestID := randomHex(16)
	call := Call{Params: map[string]string{}}
	call.AccessKeyID, call.Region = credentialScope(r.Header.Get("Authorization"))
	call.HasSessionToken = r.Header.Get("X-Amz-Security-Token") != ""

	body, stsErr := s.answer(r, &call, requestID)
	s.mu.Lock()
	if stsErr != nil {
		call.ErrorCode = stsErr.code
	}
	s.calls = append(s.calls, call)
	s.mu.Unlock()

	if stsErr != nil {
		querywire.Answer(w, requestID, stsErr.status, nil, xmlNamespace, stsErr.code, stsErr.message)
		return
	}
	querywire.Answer(w, requestID, http.StatusOK, body, "", "", "")
}

// answer validates the request like STS does and builds the response body.
func (s *Server) answer(r *http.Request, call *Call, requestID string) (any, *stsError) {
	if r.Method != http.MethodPost {
		return nil, &stsError{http.StatusBadRequest, "InvalidAction", "STS Query API requests must be POST in this fake"}
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return nil, &stsError{http.StatusBadRequest, "MalformedQueryString", "cannot read the form body"}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if err := r.ParseForm(); err != nil {
		return nil, &stsError{http.StatusBadRequest, "MalformedQueryString", "cannot parse form body"}
	}
	for k, v := range r.PostForm {
		if len(v) > 0 {
			call.Params[k] = v[0]
		}
	}
	call.Action = call.Params["Action"]
	if call.Action == "" {
		return nil, &stsError{http.StatusBadRequest, "MissingAction", "Missing Action"}
	}
	if v := call.Params["Version"]; v != APIVersion {
		return nil, &stsError{http.StatusBadRequest, "InvalidAction",
			fmt.Sprintf("Could not find operation %s for version %s", call.Action, v)}
	}
	if _, err := sigv4verify.VerifyKey(r, body, s.key, s.signClock.Now(), MaxSkew); err != nil {
		status, code, message, ok := sigv4verify.Code(err)
		if !ok {
			status, code, message = http.StatusForbidden, "SignatureDoesNotMatch", sigv4verify.MessageSignature
		}
		return nil, &stsError{status, code, message}
	}
	s.mu.Lock()
	expires, issued := s.expires[call.AccessKeyID]
	s.mu.Unlock()
	if issued && !s.clock.Now().Before(expires) {
		return nil, &stsError{http.StatusForbidden, "ExpiredToken", ExpiredTokenMessage}
	}

	s.mu.Lock()
	failure, failing := s.failures[call.Action]
	if !failing {
		failure, failing = s.failures[""]
	}
	s.mu.Unlock()
	if failing {
		return nil, &stsError{failure.Status, failure.Code, failure.Message}
	}

	switch call.Action {
	case "AssumeRole":
		return s.assumeRole(call, requestID)
	case "GetSessionToken":
		return s.getSessionToken(call, requestID)
	case "GetCallerIdentity":
		return s.getCallerIdentity(call, requestID), nil
	default:
		return nil, &stsError{http.StatusBadRequest, "InvalidAction",
			fmt.Sprintf("Could not find operation %s for version %s", call.Action, APIVersion)}
	}
}

// namePattern is STS's pattern for RoleSessionName and SourceIdentity.
var namePattern = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)

var roleARNPattern = regexp.MustCompile(`^arn:[\w-]+:iam::(\d{12}):role/(?:[\w+=,.@/-]*/)?([\w+=,.@-]+)$`)

func (s *Server) assumeRole(call *Call, requestID string) (any, *stsError) {
	p := call.Params
	roleARN := p["RoleArn"]
	m := roleARNPattern.FindStringSubmatch(roleARN)
	if m == nil {
		return nil, validationError("roleArn", roleARN, "Member must be a role ARN")
	}
	account, roleName := m[1], m[2]
	session := p["RoleSessionName"]
	if !namePattern.MatchString(session) {
		return nil, validationError("roleSessionName", session, `Member must satisfy regular expression pattern: [\w+=,.@-]{2,64}`)
	}
	if v, ok := p["SourceIdentity"]; ok {
		if !namePattern.MatchString(v) {
			return nil, validationError("sourceIdentity", v, `Member must satisfy regular expression pattern: [\w+=,.@-]{2,64}`)
		}
		if strings.HasPrefix(strings.ToLower(v), "aws:") {
			return nil, &stsError{http.StatusBadRequest, "ValidationError", "SourceIdentity cannot begin with the reserved prefix aws:"}
		}
	}
	seconds, stsErr := durationParam(p, defaultAssumeRoleSeconds, maxAssumeRoleDurationSeconds)
	if stsErr != nil {
		return nil, stsErr
	}
	withMFA, stsErr := s.checkMFA(p)
	if stsErr != nil {
		return nil, stsErr
	}
	s.mu.Lock()
	caller := s.principalLocked(call.AccessKeyID)
	withMFA = withMFA || s.mfaKeys[call.AccessKeyID]
	needMFA := s.mfaRoles[roleARN]
	s.mu.Unlock()
	if needMFA && !withMFA {
		// The trust policy's aws:MultiFactorAuthPresent condition does not match.
		return nil, &stsError{http.StatusForbidden, "AccessDenied",
			fmt.Sprintf("User: %s is not authorized to perform: sts:AssumeRole on resource: %s", caller, roleARN)}
	}
	if strings.Contains(caller, ":assumed-role/") && seconds > roleChainingMaxSeconds {
		// Role chaining: STS caps a role assumed with role credentials at one hour.
		return nil, &stsError{http.StatusBadRequest, "ValidationError",
			"The requested DurationSeconds exceeds the 1 hour session limit for roles assumed by role chaining."}
	}

	creds := s.issue(seconds)
	call.Issued = &creds
	arn := fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", account, roleName, session)
	call.AssumedRoleID = RoleID(roleARN) + ":" + session
	s.mu.Lock()
	s.principals[creds.AccessKeyID] = arn
	s.assumedIDs[arn] = call.AssumedRoleID
	s.mu.Unlock()

	return assumeRoleResponse{
		Xmlns: xmlNamespace,
		Result: assumeRoleResult{
			Credentials:      xmlCredentials(creds),
			AssumedRoleUser:  assumedRoleUser{Arn: arn, AssumedRoleID: call.AssumedRoleID},
			PackedPolicySize: 0,
			SourceIdentity:   p["SourceIdentity"],
		},
		Metadata: responseMetadata{RequestID: requestID},
	}, nil
}

func (s *Server) getSessionToken(call *Call, requestID string) (any, *stsError) {
	if call.HasSessionToken {
		return nil, &stsError{http.StatusForbidden, "AccessDenied", "Cannot call GetSessionToken with session credentials"}
	}
	seconds, stsErr := durationParam(call.Params, defaultSessionTokenSeconds, maxSessionTokenDurationSeconds)
	if stsErr != nil {
		return nil, stsErr
	}
	withMFA, stsErr := s.checkMFA(call.Params)
	if stsErr != nil {
		return nil, stsErr
	}
	creds := s.issue(seconds)
	call.Issued = &creds
	s.mu.Lock()
	s.principals[creds.AccessKeyID] = s.principalLocked(call.AccessKeyID)
	s.mfaKeys[creds.AccessKeyID] = withMFA
	s.mu.Unlock()
	return getSessionTokenResponse{
		Xmlns:    xmlNamespace,
		Result:   getSessionTokenResult{Credentials: xmlCredentials(creds)},
		Metadata: responseMetadata{RequestID: requestID},
	}, nil
}

// Real STS messages for a refused MFA code and an unknown device, and for
// temporary credentials past their Expiration.
const (
	ExpiredTokenMessage     = "The security token included in the request is expired"
	InvalidMFACodeMessage   = "MultiFactorAuthentication failed with invalid MFA one time pass code. "
	UnknownMFADeviceMessage = "MultiFactorAuthentication failed, unable to validate MFA code.  Please verify your MFA serial number is valid and associated with this user."
)

var (
	serialPattern    = regexp.MustCompile(`^[\w+=/:,.@-]{9,256}$`)
	tokenCodePattern = regexp.MustCompile(`^\d{6}$`)
)

// checkMFA validates SerialNumber and TokenCode when the request names a
// device: withMFA is true when the code was the device's current, unused code.
func (s *Server) checkMFA(p map[string]string) (withMFA bool, _ *stsError) {
	serial, hasSerial := p["SerialNumber"]
	code, hasCode := p["TokenCode"]
	if !hasSerial {
		if hasCode {
			return false, &stsError{http.StatusForbidden, "AccessDenied", InvalidMFACodeMessage}
		}
		return false, nil
	}
	if !serialPattern.MatchString(serial) {
		return false, validationError("serialNumber", serial, `Member must satisfy regular expression pattern: [\w+=/:,.@-]*`)
	}
	if hasCode && !tokenCodePattern.MatchString(code) {
		return false, validationError("tokenCode", code, `Member must satisfy regular expression pattern: [\d]*`)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	current, known := s.mfaCodes[serial]
	if !known {
		return false, &stsError{http.StatusForbidden, "AccessDenied", UnknownMFADeviceMessage}
	}
	used := serial + "\x00" + code
	if !hasCode || code != current || s.usedCodes[used] {
		return false, &stsError{http.StatusForbidden, "AccessDenied", InvalidMFACodeMessage}
	}
	s.usedCodes[used] = true
	return true, nil
}

func (s *Server) getCallerIdentity(call *Call, requestID string) any {
	s.mu.Lock()
	arn := s.principalLocked(call.AccessKeyID)
	s.mu.Unlock()
	account := DefaultAccount
	if parts := strings.SplitN(arn, ":", 6); len(parts) == 6 {
		account = parts[4]
	}
	userID := "AIDA" + randomUpper(17)
	if i := strings.Index(arn, ":assumed-role/"); i >= 0 {
		segments := strings.Split(arn[i:], "/")
		userID = "AROA" + randomUpper(17) + ":" + segments[len(segments)-1]
		s.mu.Lock()
		if id, ok := s.assumedIDs[arn]; ok {
			userID = id // the AssumedRoleId AssumeRole answered
		}
		s.mu.Unlock()
	}
	return getCallerIdentityResponse{
		Xmlns:    xmlNamespace,
		Result:   getCallerIdentityResult{Arn: arn, UserID: userID, Account: account},
		Metadata: responseMetadata{RequestID: requestID},
	}
}

func (s *Server) principalLocked(accessKeyID string) string {
	if arn, ok := s.principals[accessKeyID]; ok {
		return arn
	}
	return fmt.Sprintf("arn:aws:iam::%s:user/%s", DefaultAccount, accessKeyID)
}

// issue makes temporary credentials; from now on requests signed with them verify.
func (s *Server) issue(seconds int) Credentials {
	// STS reports Expiration to the second; truncating keeps Issued equal to what clients parse.
	expires := s.clock.Now().Add(time.Duration(seconds) * time.Second).UTC().Truncate(time.Second)
	c := Credentials{
		AccessKeyID:     "ASIA" + randomUpper(16),
		SecretAccessKey: randomBase64(30),
		SessionToken:    randomBase64(120),
		Expiration:      expires,
	}
	s.mu.Lock()
	s.keys[c.AccessKeyID] = sigv4verify.Key{SecretAccessKey: c.SecretAccessKey, SessionToken: c.SessionToken}
	s.expires[c.AccessKeyID] = expires
	s.mu.Unlock()
	return c
}

// key is the secret (and session token) of a key the fake knows.
func (s *Server) key(accessKeyID string) (sigv4verify.Key, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k, ok := s.keys[accessKeyID]
	return k, ok
}

func durationParam(p map[string]string, def, maxSeconds int) (int, *stsError) {
	raw, ok := p["DurationSeconds"]
	if !ok {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < minDurationSeconds || n > maxSeconds {
		return 0, validationError("durationSeconds", raw,
			fmt.Sprintf("Member must have value between %d and %d", minDurationSeconds, maxSeconds))
	}
	return n, nil
}

func validationError(field, value, constraint string) *stsError {
	return &stsError{http.StatusBadRequest, "ValidationError",
		fmt.Sprintf("1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: %s", value, field, constraint)}
}

// credentialScope reads "Credential=AKID/date/region/service/aws4_request" from a SigV4 header.
func credentialScope(authorization string) (accessKeyID, region string) {
	_, rest, ok := strings.Cut(authorization, "Credential=")
	if !ok {
		return "", ""
	}
	scope, _, _ := strings.Cut(rest, ",")
	parts := strings.Split(strings.TrimSpace(scope), "/")
	if len(parts) < 3 {
		return parts[0], ""
	}
	return parts[0], parts[2]
}

// XML shapes of the STS Query API responses.

type responseMetadata struct {
	RequestID string `xml:"RequestId"`
}

type credentialsXML struct {
	AccessKeyID     string `xml:"AccessKeyId"`
	SecretAccessKey string `xml:"SecretAccessKey"`
	SessionToken    string `xml:"SessionToken"`
	Expiration      string `xml:"Expiration"`
}

func xmlCredentials(c Credentials) credentialsXML {
	return credentialsXML{
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		SessionToken:    c.SessionToken,
		Expiration:      c.Expiration.UTC().Format(time.RFC3339),
	}
}

type assumedRoleUser struct {
	Arn           string `xml:"Arn"`
	AssumedRoleID string `xml:"AssumedRoleId"`
}

type assumeRoleResult struct {
	Credentials      credentialsXML  `xml:"Credentials"`
	AssumedRoleUser  assumedRoleUser `xml:"AssumedRoleUser"`
	PackedPolicySize int             `xml:"PackedPolicySize"`
	SourceIdentity   string          `xml:"SourceIdentity,omitempty"`
}

type assumeRoleResponse struct {
	XMLName  xml.Name         `xml:"AssumeRoleResponse"`
	Xmlns    string           `xml:"xmlns,attr"`
	Result   assumeRoleResult `xml:"AssumeRoleResult"`
	Metadata responseMetadata `xml:"ResponseMetadata"`
}

type getSessionTokenResult struct {
	Credentials credentialsXML `xml:"Credentials"`
}

type getSessionTokenResponse struct {
	XMLName  xml.Name              `xml:"GetSessionTokenResponse"`
	Xmlns    string                `xml:"xmlns,attr"`
	Result   getSessionTokenResult `xml:"GetSessionTokenResult"`
	Metadata responseMetadata      `xml:"ResponseMetadata"`
}

type getCallerIdentityResult struct {
	Arn     string `xml:"Arn"`
	UserID  string `xml:"UserId"`
	Account string `xml:"Account"`
}

type getCallerIdentityResponse struct {
	XMLName  xml.Name                `xml:"GetCallerIdentityResponse"`
	Xmlns    string                  `xml:"xmlns,attr"`
	Result   getCallerIdentityResult `xml:"GetCallerIdentityResult"`
	Metadata responseMetadata        `xml:"ResponseMetadata"`
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return b
}

func randomHex(n int) string { return hex.EncodeToString(randomBytes(n)) }

func randomUpper(n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	b := randomBytes(n)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// RoleID is the unique id the fake gives the role roleARN: "AROA" and 17
// characters, the same on every call, as a role's id at AWS stays the same
// for the role's life.
func RoleID(roleARN string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	sum := sha256.Sum256([]byte(roleARN))
	b := make([]byte, 17)
	for i := range b {
		b[i] = alphabet[int(sum[i])%len(alphabet)]
	}
	return "AROA" + string(b)
}

func randomBase64(n int) string { return base64.StdEncoding.EncodeToString(randomBytes(n)) }
