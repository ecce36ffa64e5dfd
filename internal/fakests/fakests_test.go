package fakests

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/querywire"
	"github.com/sentinel-gw/sentinel/ports"
)

// post sends one form-encoded STS request signed in eu-west-1 with as (nil:
// unsigned) and returns the status and body.
func post(t *testing.T, s *Server, form url.Values, as *Credentials) (int, []byte) {
	t.Helper()
	return send(t, s, signedRequest(t, s, form, as, time.Now()))
}

func signedRequest(t *testing.T, s *Server, form url.Values, as *Credentials, at time.Time) *http.Request {
	t.Helper()
	body := form.Encode()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.URL()+"/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("X-Sentinel-Broker", "broker-a")
	if as != nil {
		if err := Sign(req, []byte(body), *as, "eu-west-1", at); err != nil {
			t.Fatal(err)
		}
	}
	return req
}

func send(t *testing.T, _ *Server, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, body
}

func form(action string, kv ...string) url.Values {
	v := url.Values{"Action": {action}, "Version": {APIVersion}}
	for i := 0; i+1 < len(kv); i += 2 {
		v.Set(kv[i], kv[i+1])
	}
	return v
}

// signed signs with the key every fake knows.
var signed = &Credentials{AccessKeyID: ExampleKeyID, SecretAccessKey: ExampleSecret}

func decodeError(t *testing.T, body []byte) querywire.ErrorResponse {
	t.Helper()
	var e querywire.ErrorResponse
	if err := xml.Unmarshal(body, &e); err != nil {
		t.Fatalf("not an ErrorResponse: %v\n%s", err, body)
	}
	return e
}

func TestAssumeRoleAnswersTheRealShape(t *testing.T) {
	clock := ports.NewFakeClock(time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC))
	s := New(t, WithClock(clock))
	status, body := post(t, s, form("AssumeRole",
		"RoleArn", "arn:aws:iam::111122223333:role/ops/Deploy", "RoleSessionName", "sess-1",
		"SourceIdentity", "alice", "DurationSeconds", "1800"), signed)
	if status != http.StatusOK {
		t.Fatalf("status %d: %s", status, body)
	}
	// Decode with independent struct tags so a renamed element is caught.
	var got struct {
		XMLName xml.Name `xml:"https://sts.amazonaws.com/doc/2011-06-15/ AssumeRoleResponse"`
		Result  struct {
			Credentials struct {
				AccessKeyID, SecretAccessKey, SessionToken, Expiration string
			} `xml:"Credentials"`
			AssumedRoleUser struct {
				Arn           string
				AssumedRoleID string `xml:"AssumedRoleId"`
			} `xml:"AssumedRoleUser"`
			SourceIdentity string
		} `xml:"AssumeRoleResult"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	if err := xml.Unmarshal(body, &got); err != nil {
		t.Fatalf("%v\n%s", err, body)
	}
	if got.Result.AssumedRoleUser.Arn != "arn:aws:sts::111122223333:assumed-role/Deploy/sess-1" ||
		got.Result.SourceIdentity != "alice" || got.RequestID == "" {
		t.Errorf("response = %+v", got)
	}
	calls := s.Calls()
	if len(calls) != 1 {
		t.Fatalf("%d calls", len(calls))
	}
	c := calls[0]
	if c.Action != "AssumeRole" || c.AccessKeyID != ExampleKeyID || c.Region != "eu-west-1" || c.Params["RoleSessionName"] != "sess-1" {
		t.Errorf("call = %+v", c)
	}
	if c.Issued == nil || !c.Issued.Expiration.Equal(clock.Now().Add(30*time.Minute)) {
		t.Fatalf("issued = %+v, want expiry 30m after the clock", c.Issued)
	}
	if !strings.Contains(string(body), "<AccessKeyId>"+c.Issued.AccessKeyID+"</AccessKeyId>") ||
		!strings.Contains(string(body), "<Expiration>2026-03-01T12:30:00Z</Expiration>") {
		t.Errorf("body does not carry the issued credentials: %s", body)
	}

	// The issued key now identifies as the assumed role.
	_, body = post(t, s, form("GetCallerIdentity"), c.Issued)
	var who struct {
		Arn     string `xml:"GetCallerIdentityResult>Arn"`
		UserID  string `xml:"GetCallerIdentityResult>UserId"`
		Account string `xml:"GetCallerIdentityResult>Account"`
	}
	if err := xml.Unmarshal(body, &who); err != nil {
		t.Fatal(err)
	}
	if who.Arn != "arn:aws:sts::111122223333:assumed-role/Deploy/sess-1" || who.Account != "111122223333" || who.UserID != c.AssumedRoleID {
		t.Errorf("GetCallerIdentity = %+v, want UserId %q as AssumeRole answered", who, c.AssumedRoleID)
	}
	// AssumedRoleId is the role's stable id and the session name, as at AWS.
	if want := RoleID("arn:aws:iam::111122223333:role/ops/Deploy") + ":sess-1"; got.Result.AssumedRoleUser.AssumedRoleID != want || c.AssumedRoleID != want {
		t.Errorf("AssumedRoleId = %q (call %q), want %q", got.Result.AssumedRoleUser.AssumedRoleID, c.AssumedRoleID, want)
	}
}

func TestRoleIDIsStablePerRole(t *testing.T) {
	a, b := RoleID("arn:aws:iam::111122223333:role/A"), RoleID("arn:aws:iam::111122223333:role/B")
	if a != RoleID("arn:aws:iam::111122223333:role/A") || a == b || len(a) != 21 || !strings.HasPrefix(a, "AROA") {
		t.Errorf("RoleID: %q, %q; want stable, distinct, AROA and 17 characters", a, b)
	}
	s := New(t)
	var ids []string
	for _, name := range []string{"s1", "s1", "s2"} {
		if status, body := post(t, s, form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:role/A", "RoleSessionName", name), signed); status != 200 {
			t.Fatalf("status %d: %s", status, body)
		}
	}
	for _, c := range s.Calls() {
		ids = append(ids, c.AssumedRoleID)
	}
	if ids[0] != a+":s1" || ids[1] != ids[0] || ids[2] != a+":s2" {
		t.Errorf("AssumedRoleIds %v, want the same role id with each session name", ids)
	}
}

func TestRoleChainingIsCappedAtOneHour(t *testing.T) {
	s := New(t)
	if status, body := post(t, s, form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:role/A", "RoleSessionName", "s1"), signed); status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	chained := s.Calls()[0].Issued
	status, body := post(t, s, form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:role/B", "RoleSessionName", "s2", "DurationSeconds", "3601"), chained)
	if e := decodeError(t, body); status != 400 || e.Error.Code != "ValidationError" || !strings.Contains(e.Error.Message, "role chaining") {
		t.Errorf("chained 3601s: status %d, %+v; want a ValidationError about role chaining", status, e)
	}
	if status, body = post(t, s, form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:role/B", "RoleSessionName", "s2", "DurationSeconds", "3600"), chained); status != 200 {
		t.Errorf("chained 3600s: status %d: %s", status, body)
	}
}

func TestRequestsSTSWouldRefuse(t *testing.T) {
	tests := []struct {
		name   string
		form   url.Values
		as     *Credentials
		status int
		code   string
	}{
		{"unsigned", form("GetCallerIdentity"), nil, 403, "MissingAuthenticationToken"},
		{"wrong version", url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2010-01-01"}}, signed, 400, "InvalidAction"},
		{"no action", url.Values{"Version": {APIVersion}}, signed, 400, "MissingAction"},
		{"unknown action", form("AssumeRoot"), signed, 400, "InvalidAction"},
		{"duration under 900", form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:role/R", "RoleSessionName", "s1", "DurationSeconds", "600"), signed, 400, "ValidationError"},
		{"duration over 12h", form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:role/R", "RoleSessionName", "s1", "DurationSeconds", "43201"), signed, 400, "ValidationError"},
		{"missing session name", form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:role/R"), signed, 400, "ValidationError"},
		{"bad source identity", form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:role/R", "RoleSessionName", "s1", "SourceIdentity", "a b"), signed, 400, "ValidationError"},
		{"source identity of one character", form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:role/R", "RoleSessionName", "s1", "SourceIdentity", "a"), signed, 400, "ValidationError"},
		{"source identity over 64", form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:role/R", "RoleSessionName", "s1", "SourceIdentity", strings.Repeat("a", 65)), signed, 400, "ValidationError"},
		{"source identity with the aws: prefix", form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:role/R", "RoleSessionName", "s1", "SourceIdentity", "AWS:x"), signed, 400, "ValidationError"},
		{"session name with a colon", form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:role/R", "RoleSessionName", "a:b"), signed, 400, "ValidationError"},
		{"session name over 64", form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:role/R", "RoleSessionName", strings.Repeat("s", 65)), signed, 400, "ValidationError"},
		{"duration not a number", form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:role/R", "RoleSessionName", "s1", "DurationSeconds", "1h"), signed, 400, "ValidationError"},
		{"not a role arn", form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:user/R", "RoleSessionName", "s1"), signed, 400, "ValidationError"},
		{"session token over 36h", form("GetSessionToken", "DurationSeconds", "129601"), signed, 400, "ValidationError"},
		{"session token with session credentials", form("GetSessionToken"), nil, 403, "AccessDenied"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(t)
			as := tt.as
			if tt.name == "session token with session credentials" {
				issued := s.GetSessionToken(t)
				as = &issued
				s.calls = nil
			}
			status, body := post(t, s, tt.form, as)
			e := decodeError(t, body)
			if status != tt.status || e.Error.Code != tt.code || e.Error.Type != "Sender" || e.Error.Message == "" || e.RequestID == "" {
				t.Errorf("status %d, error %+v; want %d %s", status, e, tt.status, tt.code)
			}
			if calls := s.Calls(); len(calls) != 1 || calls[0].ErrorCode != tt.code || calls[0].Issued != nil {
				t.Errorf("calls = %+v", calls)
			}
		})
	}
}

func TestFailureAndDelayControls(t *testing.T) {
	s := New(t, WithFailure("GetSessionToken", Failure{Status: 403, Code: "AccessDenied", Message: "no"}))
	if status, _ := post(t, s, form("GetSessionToken"), signed); status != 403 {
		t.Fatalf("WithFailure: status %d", status)
	}
	if status, _ := post(t, s, form("GetCallerIdentity"), signed); status != 200 {
		t.Fatalf("a failure for one action leaked to another: status %d", status)
	}
	s.SetFailure("", &Failure{Status: 503, Code: "ServiceUnavailable", Message: "down"})
	status, body := post(t, s, form("GetCallerIdentity"), signed)
	if e := decodeError(t, body); status != 503 || e.Error.Type != "Receiver" || e.Error.Code != "ServiceUnavailable" {
		t.Fatalf("SetFailure(\"\"): status %d, %+v", status, e)
	}
	s.SetFailure("", nil)
	s.SetFailure("GetSessionToken", nil)
	if status, _ := post(t, s, form("GetSessionToken"), signed); status != 200 {
		t.Fatalf("cleared failure still fails: %d", status)
	}

	s.SetDelay(5 * time.Second)
	client := &http.Client{Timeout: 150 * time.Millisecond}
	start := time.Now()
	req := signedRequest(t, s, form("GetCallerIdentity"), signed, time.Now())
	if resp, err := client.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("a delayed answer arrived before the client's timeout")
	}
	if time.Since(start) < 150*time.Millisecond {
		t.Fatalf("client gave up after %s, sooner than its timeout", time.Since(start))
	}
}

func TestMFACodesAreCheckedLikeSTS(t *testing.T) {
	const serial = "arn:aws:iam::123456789012:mfa/alice"
	const role = "arn:aws:iam::123456789012:role/NeedsMFA"
	s := New(t, WithMFADevice(serial, "123456"), WithMFARequired(role))
	tests := []struct {
		name        string
		kv          []string
		status      int
		code, about string
	}{
		{"missing code", []string{"SerialNumber", serial}, 403, "AccessDenied", InvalidMFACodeMessage},
		{"wrong code", []string{"SerialNumber", serial, "TokenCode", "654321"}, 403, "AccessDenied", InvalidMFACodeMessage},
		{"code without device", []string{"TokenCode", "123456"}, 403, "AccessDenied", InvalidMFACodeMessage},
		{"unknown device", []string{"SerialNumber", "arn:aws:iam::123456789012:mfa/bob", "TokenCode", "123456"}, 403, "AccessDenied", UnknownMFADeviceMessage},
		{"malformed code", []string{"SerialNumber", serial, "TokenCode", "12ab56"}, 400, "ValidationError", "tokenCode"},
		{"malformed serial", []string{"SerialNumber", "a b", "TokenCode", "123456"}, 400, "ValidationError", "serialNumber"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(t, s, form("GetSessionToken", tt.kv...), signed)
			e := decodeError(t, body)
			if status != tt.status || e.Error.Code != tt.code || !strings.Contains(e.Error.Message, tt.about) {
				t.Fatalf("status %d code %s message %q, want %d %s containing %q", status, e.Error.Code, e.Error.Message, tt.status, tt.code, tt.about)
			}
		})
	}

	// Without MFA the role refuses; the right code works once; its session assumes the role.
	status, body := post(t, s, form("AssumeRole", "RoleArn", role, "RoleSessionName", "s1"), signed)
	if e := decodeError(t, body); status != 403 || e.Error.Code != "AccessDenied" || !strings.Contains(e.Error.Message, "not authorized to perform: sts:AssumeRole") {
		t.Fatalf("AssumeRole without MFA: %d %+v", status, e.Error)
	}
	status, body = post(t, s, form("GetSessionToken", "SerialNumber", serial, "TokenCode", "123456"), signed)
	if status != 200 {
		t.Fatalf("right code refused: %d %s", status, body)
	}
	var ok getSessionTokenResponse
	if err := xml.Unmarshal(body, &ok); err != nil {
		t.Fatal(err)
	}
	if status, _ := post(t, s, form("GetSessionToken", "SerialNumber", serial, "TokenCode", "123456"), signed); status != 403 {
		t.Fatalf("a used code was accepted again: %d", status)
	}
	mfa := &Credentials{AccessKeyID: ok.Result.Credentials.AccessKeyID, SecretAccessKey: ok.Result.Credentials.SecretAccessKey,
		SessionToken: ok.Result.Credentials.SessionToken}
	status, body = post(t, s, form("AssumeRole", "RoleArn", role, "RoleSessionName", "s1"), mfa)
	if status != 200 {
		t.Fatalf("AssumeRole with the MFA session refused: %d %s", status, body)
	}
	s.SetMFACode(serial, "222222")
	if status, body := post(t, s, form("AssumeRole", "RoleArn", role, "RoleSessionName", "s2", "SerialNumber", serial, "TokenCode", "222222"), signed); status != 200 {
		t.Fatalf("AssumeRole with its own code refused: %d %s", status, body)
	}
}
