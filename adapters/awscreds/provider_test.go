package awscreds

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go"

	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/ports"
)

// Source keys in the test credentials file; the secrets must never show in an error.
const (
	baseKeyID   = "AKIABASEEXAMPLE00001"
	baseSecret  = "baseSecretMustNotLeak/0123456789abcdefXYZ"
	plainKeyID  = "AKIAPLAINEXAMPLE0002"
	plainSecret = "plainSecretMustNotLeak/0123456789abcdefXY"
	selfKeyID   = "AKIASELFEXAMPLE00003"
	selfSecret  = "selfSecretMustNotLeak/0123456789abcdefXYZ"
	tempKeyID   = "ASIATEMPEXAMPLE00004"
	tempSecret  = "tempSecretMustNotLeak/0123456789abcdefXYZ"
	tempToken   = "tempTokenMustNotLeakFwoGZXIvYXdzEXAMPLE"
	envKeyID    = "AKIAENVIRONMENT00009"
	envSecret   = "envSecretMustNotLeak"

	prodRole = "arn:aws:iam::111122223333:role/deploy/Deploy"
)

const testCredentialsFile = `[base]
aws_access_key_id = ` + baseKeyID + `
aws_secret_access_key = ` + baseSecret + `

[plain]
aws_access_key_id = ` + plainKeyID + `
aws_secret_access_key = ` + plainSecret + `

[self]
aws_access_key_id = ` + selfKeyID + `
aws_secret_access_key = ` + selfSecret + `

[temp]
aws_access_key_id = ` + tempKeyID + `
aws_secret_access_key = ` + tempSecret + `
aws_session_token = ` + tempToken + `
`

const testConfigFile = `[profile prod]
role_arn = ` + prodRole + `
source_profile = base
region = eu-west-1

[profile capped]
region = us-east-1
role_arn = arn:aws:iam::111122223333:role/Capped
source_profile = base
duration_seconds = 1200

[profile external]
region = us-east-1
role_arn = arn:aws:iam::111122223333:role/Partner
source_profile = base
external_id = partner-7

[profile self]
region = us-east-1
role_arn = arn:aws:iam::111122223333:role/Self
source_profile = self

[profile chained]
region = us-east-1
role_arn = arn:aws:iam::444455556666:role/Second
source_profile = prod

[profile plain]
region = ap-south-1

[profile plaincapped]
region = us-east-1
duration_seconds = 2000

[profile mfa]
region = us-east-1
role_arn = arn:aws:iam::111122223333:role/Mfa
source_profile = base
mfa_serial = arn:aws:iam::111122223333:mfa/alice

[profile mfasource]
role_arn = arn:aws:iam::111122223333:role/Outer
source_profile = mfa

[profile webid]
role_arn = arn:aws:iam::111122223333:role/Web
web_identity_token_file = /nonexistent/token

[profile envsource]
role_arn = arn:aws:iam::111122223333:role/Env
credential_source = Environment

[profile nokeys]
region = us-west-2

[profile shortcap]
role_arn = arn:aws:iam::111122223333:role/Short
source_profile = base
duration_seconds = 600

[profile orphan]
role_arn = arn:aws:iam::111122223333:role/Orphan
source_profile = missing
`

// secrets are every value no error may contain.
var secrets = []string{baseSecret, plainSecret, selfSecret, tempSecret, tempToken}

// files are the paths the test environment points AWS_CONFIG_FILE and
// AWS_SHARED_CREDENTIALS_FILE at.
type testFiles struct {
	config      string
	credentials string
}

// isolate clears every AWS variable the machine might have, so nothing leaks
// in, and points HOME at an empty directory.
func isolate(t *testing.T) {
	t.Helper()
	for _, name := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY", "AWS_SECRET_KEY",
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION", "AWS_DEFAULT_REGION",
		"AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE",
		"AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_STS", "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
		"AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
		"AWS_CONTAINER_AUTHORIZATION_TOKEN", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME",
		"AWS_STS_REGIONAL_ENDPOINTS", "AWS_USE_FIPS_ENDPOINT", "AWS_USE_DUALSTACK_ENDPOINT",
		"AWS_CA_BUNDLE", "AWS_MAX_ATTEMPTS", "AWS_RETRY_MODE", "AWS_SDK_LOAD_CONFIG",
		"HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy",
	} {
		t.Setenv(name, "")
	}
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("HOME", t.TempDir())
}

// setup isolates the environment, writes the test profiles and starts a fake
// STS that the SDK reaches through AWS_ENDPOINT_URL_STS.
func setup(t *testing.T, opts ...fakests.Option) (*fakests.Server, testFiles) {
	t.Helper()
	isolate(t)
	dir := t.TempDir()
	f := testFiles{config: filepath.Join(dir, "config"), credentials: filepath.Join(dir, "credentials")}
	if err := os.WriteFile(f.config, []byte(testConfigFile), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.credentials, []byte(testCredentialsFile), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", f.config)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", f.credentials)
	known := []fakests.Option{ // the fake verifies signatures: it knows every key of the files
		fakests.WithUser(baseKeyID, baseSecret, ""), fakests.WithUser(plainKeyID, plainSecret, ""),
		fakests.WithUser(selfKeyID, selfSecret, ""), fakests.WithUser(envKeyID, envSecret, ""),
		fakests.WithSessionCredentials(fakests.Credentials{AccessKeyID: tempKeyID, SecretAccessKey: tempSecret, SessionToken: tempToken}, ""),
	}
	fake := fakests.New(t, append(known, opts...)...)
	t.Setenv("AWS_ENDPOINT_URL_STS", fake.URL())
	return fake, f
}

func newProvider(t *testing.T, profile string, opts Options) *Provider {
	t.Helper()
	p, err := NewProvider(context.Background(), profile, opts)
	if err != nil {
		t.Fatalf("NewProvider(%q): %v", profile, err)
	}
	return p
}

func assertNoSecret(t *testing.T, err error, extra ...string) {
	t.Helper()
	for _, text := range []string{err.Error(), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err)} {
		for _, s := range append(append([]string{}, secrets...), extra...) {
			if s != "" && strings.Contains(text, s) {
				t.Fatalf("error exposes a secret: %s", text)
			}
		}
	}
}

// assertServed checks that what the caller got is exactly what STS issued.
func assertServed(t *testing.T, got ports.Credentials, call fakests.Call) {
	t.Helper()
	if call.Issued == nil {
		t.Fatalf("%s issued nothing (error %q)", call.Action, call.ErrorCode)
	}
	want := ports.Credentials{
		AccessKeyID:     call.Issued.AccessKeyID,
		SecretAccessKey: call.Issued.SecretAccessKey,
		SessionToken:    call.Issued.SessionToken,
		Expires:         call.Issued.Expiration,
	}
	if got.AccessKeyID != want.AccessKeyID || got.SecretAccessKey != want.SecretAccessKey ||
		got.SessionToken != want.SessionToken || !got.Expires.Equal(want.Expires) {
		t.Fatalf("served credentials differ from what STS issued: key %s expires %s, want key %s expires %s",
			got.AccessKeyID, got.Expires, want.AccessKeyID, want.Expires)
	}
}

func TestAssumeRoleSendsWhatWeAsk(t *testing.T) {
	tests := []struct {
		name         string
		profile      string
		roleARN      string
		duration     time.Duration
		wantDuration string
		wantRegion   string
	}{
		{"5m is raised to the 900s floor", "prod", prodRole, 5 * time.Minute, "900", "eu-west-1"},
		{"zero is raised to the floor", "prod", prodRole, 0, "900", "eu-west-1"},
		{"30m is asked as is", "prod", prodRole, 30 * time.Minute, "1800", "eu-west-1"},
		{"partial seconds round up", "prod", prodRole, 1000*time.Second + time.Millisecond, "1001", "eu-west-1"},
		{"above 12h is capped at AssumeRole's ceiling", "prod", prodRole, 13 * time.Hour, "43200", "eu-west-1"},
		{"duration_seconds caps a longer request", "capped", "arn:aws:iam::111122223333:role/Capped", 30 * time.Minute, "1200", "us-east-1"},
		{"duration_seconds leaves a shorter request", "capped", "arn:aws:iam::111122223333:role/Capped", 16 * time.Minute, "960", "us-east-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, _ := setup(t)
			p := newProvider(t, tt.profile, Options{})
			got, err := p.Credentials(context.Background(), ports.CredentialRequest{
				Profile: tt.profile, Duration: tt.duration,
				SourceIdentity: "alice@example.com", RoleSessionName: "sentinel-3f9a",
			})
			if err != nil {
				t.Fatalf("Credentials: %v", err)
			}
			calls := fake.Calls()
			if len(calls) != 1 {
				t.Fatalf("STS got %d calls, want 1: %+v", len(calls), calls)
			}
			c := calls[0]
			want := map[string]string{
				"Action": "AssumeRole", "Version": fakests.APIVersion, "RoleArn": tt.roleARN,
				"RoleSessionName": "sentinel-3f9a", "SourceIdentity": "alice@example.com",
				"DurationSeconds": tt.wantDuration,
			}
			for k, v := range want {
				if c.Params[k] != v {
					t.Errorf("%s = %q, want %q", k, c.Params[k], v)
				}
			}
			if _, ok := c.Params["ExternalId"]; ok {
				t.Errorf("ExternalId sent for a profile without external_id")
			}
			if c.AccessKeyID != baseKeyID {
				t.Errorf("signed with %q, want the source profile's %q", c.AccessKeyID, baseKeyID)
			}
			if c.HasSessionToken {
				t.Errorf("static source keys sent a session token")
			}
			if c.Region != tt.wantRegion || p.Region() != tt.wantRegion {
				t.Errorf("signing region %q, Region() %q, want %q", c.Region, p.Region(), tt.wantRegion)
			}
			assertServed(t, got, c)
			if want := (ports.CredentialOrigin{RoleARN: tt.roleARN, AssumedRoleID: c.AssumedRoleID, SourceIdentity: "alice@example.com"}); got.Origin != want || c.AssumedRoleID == "" {
				t.Errorf("origin = %+v, want %+v (what STS received and answered)", got.Origin, want)
			}
			seconds, _ := strconv.Atoi(tt.wantDuration)
			if lifetime := time.Until(got.Expires); lifetime < time.Duration(seconds-60)*time.Second || lifetime > time.Duration(seconds)*time.Second {
				t.Errorf("Expires in %s, want about %ss as STS said", lifetime, tt.wantDuration)
			}
		})
	}
}

func TestAssumeRoleOmitsEmptySourceIdentityAndSendsExternalID(t *testing.T) {
	fake, _ := setup(t)
	p := newProvider(t, "external", Options{})
	got, err := p.Credentials(context.Background(), ports.CredentialRequest{Duration: time.Hour, RoleSessionName: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	c := fake.Calls()[0]
	if _, ok := c.Params["SourceIdentity"]; ok {
		t.Errorf("SourceIdentity sent although the request had none: %q", c.Params["SourceIdentity"])
	}
	if got.Origin.SourceIdentity != "" || got.Origin.RoleARN == "" {
		t.Errorf("origin = %+v: names a SourceIdentity STS never received", got.Origin)
	}
	if c.Params["ExternalId"] != "partner-7" {
		t.Errorf("ExternalId = %q, want partner-7", c.Params["ExternalId"])
	}
	if c.Params["DurationSeconds"] != "3600" {
		t.Errorf("DurationSeconds = %q, want 3600", c.Params["DurationSeconds"])
	}
}

func TestAssumeRoleNeedsSessionName(t *testing.T) {
	fake, _ := setup(t)
	p := newProvider(t, "prod", Options{})
	_, err := p.Credentials(context.Background(), ports.CredentialRequest{Duration: time.Hour, SourceIdentity: "alice"})
	if !errors.Is(err, ports.ErrInvalidArgument) {
		t.Fatalf("err = %v, want ErrInvalidArgument", err)
	}
	if n := len(fake.Calls()); n != 0 {
		t.Fatalf("STS got %d calls for a request we refuse", n)
	}
}

func TestProviderRefusesAnotherProfile(t *testing.T) {
	fake, _ := setup(t)
	p := newProvider(t, "prod", Options{})
	_, err := p.Credentials(context.Background(), ports.CredentialRequest{Profile: "plain", RoleSessionName: "s1"})
	if !errors.Is(err, ports.ErrInvalidArgument) || !strings.Contains(err.Error(), `"plain"`) {
		t.Fatalf("err = %v, want ErrInvalidArgument naming the profile", err)
	}
	if n := len(fake.Calls()); n != 0 {
		t.Fatalf("STS got %d calls", n)
	}
}

func TestSelfReferencingProfileSignsWithItsOwnKeys(t *testing.T) {
	fake, _ := setup(t)
	p := newProvider(t, "self", Options{})
	got, err := p.Credentials(context.Background(), ports.CredentialRequest{Duration: time.Hour, RoleSessionName: "s1"})
	if err != nil {
		t.Fatal(err)
	}
	calls := fake.Calls()
	if len(calls) != 1 || calls[0].Action != "AssumeRole" || calls[0].AccessKeyID != selfKeyID ||
		calls[0].Params["RoleArn"] != "arn:aws:iam::111122223333:role/Self" {
		t.Fatalf("calls = %+v, want one AssumeRole of role/Self signed with %s", calls, selfKeyID)
	}
	assertServed(t, got, calls[0])
}

func TestChainedSourceProfileIsAssumedFirst(t *testing.T) {
	fake, _ := setup(t)
	p := newProvider(t, "chained", Options{})
	got, err := p.Credentials(context.Background(), ports.CredentialRequest{Duration: time.Hour, RoleSessionName: "outer"})
	if err != nil {
		t.Fatal(err)
	}
	calls := fake.Calls()
	if len(calls) != 2 {
		t.Fatalf("STS got %d calls, want 2 (source role, then ours): %+v", len(calls), calls)
	}
	if calls[0].Params["RoleArn"] != prodRole || calls[0].AccessKeyID != baseKeyID {
		t.Errorf("first call assumed %q with %q, want %q with %q", calls[0].Params["RoleArn"], calls[0].AccessKeyID, prodRole, baseKeyID)
	}
	second := calls[1]
	if second.Params["RoleArn"] != "arn:aws:iam::444455556666:role/Second" || second.Params["RoleSessionName"] != "outer" {
		t.Errorf("second call = %+v", second.Params)
	}
	if calls[0].Issued == nil || second.AccessKeyID != calls[0].Issued.AccessKeyID || !second.HasSessionToken {
		t.Errorf("second call signed with %q, want the first call's issued key", second.AccessKeyID)
	}
	assertServed(t, got, second)
}

func TestGetSessionTokenForPlainProfile(t *testing.T) {
	tests := []struct {
		name         string
		profile      string
		duration     time.Duration
		wantDuration string
	}{
		{"5m is raised to the floor", "plain", 5 * time.Minute, "900"},
		{"30m is asked as is", "plain", 30 * time.Minute, "1800"},
		{"above 36h is capped at GetSessionToken's ceiling", "plain", 40 * time.Hour, "129600"},
		{"duration_seconds caps it too", "plaincapped", time.Hour, "2000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, f := setup(t)
			if tt.profile == "plaincapped" {
				appendFile(t, f.credentials, "\n[plaincapped]\naws_access_key_id = "+plainKeyID+"\naws_secret_access_key = "+plainSecret+"\n")
			}
			p := newProvider(t, tt.profile, Options{})
			got, err := p.Credentials(context.Background(), ports.CredentialRequest{
				Duration: tt.duration, SourceIdentity: "alice", RoleSessionName: "s1",
			})
			if err != nil {
				t.Fatal(err)
			}
			calls := fake.Calls()
			if len(calls) != 1 || calls[0].Action != "GetSessionToken" {
				t.Fatalf("calls = %+v, want one GetSessionToken", calls)
			}
			c := calls[0]
			if c.Params["DurationSeconds"] != tt.wantDuration {
				t.Errorf("DurationSeconds = %q, want %s", c.Params["DurationSeconds"], tt.wantDuration)
			}
			if c.AccessKeyID != plainKeyID {
				t.Errorf("signed with %q, want %q", c.AccessKeyID, plainKeyID)
			}
			for _, k := range []string{"RoleArn", "SourceIdentity", "RoleSessionName"} {
				if _, ok := c.Params[k]; ok {
					t.Errorf("GetSessionToken sent %s", k)
				}
			}
			assertServed(t, got, c)
			if got.Origin != (ports.CredentialOrigin{}) {
				t.Errorf("origin = %+v, want none: STS issued them, no role, no SourceIdentity", got.Origin)
			}
		})
	}
}

func appendFile(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(text); err != nil {
		t.Fatal(err)
	}
}

// passed marks credentials handed on unchanged, so the gateway judges their real lifetime.
var passed = ports.CredentialOrigin{PassThrough: true}

func TestPassThroughWithoutSTS(t *testing.T) {
	tests := []struct {
		name      string
		profile   string
		noSession bool
		want      ports.Credentials
	}{
		{"no-session plain profile", "plain", true, ports.Credentials{AccessKeyID: plainKeyID, SecretAccessKey: plainSecret, Origin: passed}},
		{"no-session role profile gives its source", "prod", true, ports.Credentials{AccessKeyID: baseKeyID, SecretAccessKey: baseSecret, Origin: passed}},
		{"temporary keys cannot get a session token", "temp", false, ports.Credentials{AccessKeyID: tempKeyID, SecretAccessKey: tempSecret, SessionToken: tempToken, Origin: passed}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, _ := setup(t)
			p := newProvider(t, tt.profile, Options{NoSession: tt.noSession})
			got, err := p.Credentials(context.Background(), ports.CredentialRequest{Duration: 5 * time.Minute, RoleSessionName: "s1"})
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got key %q token set %v expires %v origin %+v, want key %q unchanged with zero Expires, marked pass-through",
					got.AccessKeyID, got.SessionToken != "", got.Expires, got.Origin, tt.want.AccessKeyID)
			}
			if calls := fake.Calls(); len(calls) != 0 {
				t.Fatalf("STS got %d calls, want none: %+v", len(calls), calls)
			}
		})
	}
}

func TestSTSErrorShowsCodeAndMessageButNoSecret(t *testing.T) {
	const message = "User: arn:aws:iam::111122223333:user/alice is not authorized to perform: sts:AssumeRole on resource: " + prodRole
	tests := []struct {
		name    string
		profile string
		action  string
		want    string
	}{
		{"AssumeRole", "prod", "AssumeRole", "sts AssumeRole for profile prod: AccessDenied: " + message},
		{"GetSessionToken", "plain", "GetSessionToken", "sts GetSessionToken for profile plain: AccessDenied: " + message},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, _ := setup(t, fakests.WithFailure(tt.action, fakests.Failure{Status: 403, Code: "AccessDenied", Message: message}))
			p := newProvider(t, tt.profile, Options{})
			_, err := p.Credentials(context.Background(), ports.CredentialRequest{Duration: time.Hour, SourceIdentity: "alice", RoleSessionName: "s1"})
			if err == nil {
				t.Fatal("no error for a 403")
			}
			if err.Error() != tt.want {
				t.Errorf("error = %q\nwant    %q", err.Error(), tt.want)
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "AccessDenied" {
				t.Errorf("errors.As(smithy.APIError) lost the STS code: %v", err)
			}
			assertNoSecret(t, err)
			if calls := fake.Calls(); len(calls) != 1 || calls[0].ErrorCode != "AccessDenied" {
				t.Errorf("calls = %+v, want one refused call (a 403 must not be retried)", calls)
			}
		})
	}
}

func TestSTSValidationErrorSurfaces(t *testing.T) {
	setup(t)
	p := newProvider(t, "prod", Options{})
	// A session name with a space breaks STS's pattern; the answer must reach the caller.
	_, err := p.Credentials(context.Background(), ports.CredentialRequest{Duration: time.Hour, RoleSessionName: "bad name"})
	if err == nil || !strings.HasPrefix(err.Error(), "sts AssumeRole for profile prod: ValidationError: ") {
		t.Fatalf("err = %v, want the ValidationError", err)
	}
}

func TestSlowSTSFailsWithinTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	tests := []struct {
		profile string
		action  string
	}{{"prod", "AssumeRole"}, {"plain", "GetSessionToken"}}
	for _, tt := range tests {
		t.Run(tt.action, func(t *testing.T) {
			setup(t, fakests.WithDelay(10*time.Second))
			p := newProvider(t, tt.profile, Options{Timeout: timeout})
			start := time.Now()
			_, err := p.Credentials(context.Background(), ports.CredentialRequest{Duration: time.Hour, RoleSessionName: "s1"})
			elapsed := time.Since(start)
			if err == nil {
				t.Fatal("no error from a server slower than the timeout")
			}
			if elapsed < timeout || elapsed > timeout+700*time.Millisecond {
				t.Errorf("failed after %s, want about %s", elapsed, timeout)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("err = %v, want it to wrap context.DeadlineExceeded", err)
			}
			want := "sts " + tt.action + " for profile " + tt.profile + ": no answer within 300ms"
			if err.Error() != want {
				t.Errorf("error = %q, want %q", err.Error(), want)
			}
			assertNoSecret(t, err)
		})
	}
}

func TestCallerContextCancelStopsTheCall(t *testing.T) {
	setup(t, fakests.WithDelay(10*time.Second))
	p := newProvider(t, "prod", Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := p.Credentials(ctx, ports.CredentialRequest{Duration: time.Hour, RoleSessionName: "s1"})
	if err == nil || time.Since(start) > time.Second {
		t.Fatalf("err = %v after %s, want an error near 200ms although Timeout is 10s", err, time.Since(start))
	}
}

func TestUnreachableSTSIsAClearError(t *testing.T) {
	setup(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:1") // nothing listens on port 1
	p := newProvider(t, "prod", Options{Timeout: 2 * time.Second})
	_, err := p.Credentials(context.Background(), ports.CredentialRequest{Duration: time.Hour, RoleSessionName: "s1"})
	if err == nil || !strings.HasPrefix(err.Error(), "sts AssumeRole for profile prod: ") {
		t.Fatalf("err = %v", err)
	}
	assertNoSecret(t, err)
}

func TestGenericEndpointVariableWorks(t *testing.T) {
	fake, _ := setup(t)
	t.Setenv("AWS_ENDPOINT_URL_STS", "")
	t.Setenv("AWS_ENDPOINT_URL", fake.URL())
	p := newProvider(t, "plain", Options{})
	if _, err := p.Credentials(context.Background(), ports.CredentialRequest{Duration: time.Hour}); err != nil {
		t.Fatal(err)
	}
	if calls := fake.Calls(); len(calls) != 1 || calls[0].Action != "GetSessionToken" {
		t.Fatalf("calls = %+v, want one GetSessionToken through AWS_ENDPOINT_URL", calls)
	}
}

func TestUnknownProfileSaysWhereItLooked(t *testing.T) {
	fake, f := setup(t)
	_, err := NewProvider(context.Background(), "nope", Options{})
	want := fmt.Sprintf(`profile "nope" not found in AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE (%s, %s): add it or check --profile`, f.config, f.credentials)
	if err == nil || err.Error() != want {
		t.Fatalf("error = %v\nwant    %s", err, want)
	}
	if !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("errors.Is(err, ErrNotFound) = false")
	}
	if n := len(fake.Calls()); n != 0 {
		t.Errorf("STS got %d calls", n)
	}
}

func TestRefusedProfiles(t *testing.T) {
	tests := []struct {
		profile  string
		sentinel error
		want     []string
	}{
		{"mfasource", ports.ErrInvalidArgument, []string{`profile "mfasource"`, `mfa_serial on "mfa", a role profile used as source_profile`, "not supported yet"}},
		{"webid", ports.ErrInvalidArgument, []string{"web_identity_token_file", "not supported yet"}},
		{"envsource", ports.ErrInvalidArgument, []string{"credential_source", "not supported yet"}},
		{"nokeys", ports.ErrInvalidArgument, []string{`profile "nokeys" has no credentials`}},
		{"shortcap", ports.ErrInvalidArgument, []string{"duration_seconds 600", "900..43200"}},
		{"orphan", ports.ErrNotFound, []string{`source_profile "missing" not found`}},
		{"", ports.ErrInvalidArgument, []string{"profile name is empty"}},
	}
	for _, tt := range tests {
		t.Run(tt.profile, func(t *testing.T) {
			fake, _ := setup(t)
			_, err := NewProvider(context.Background(), tt.profile, Options{})
			if !errors.Is(err, tt.sentinel) {
				t.Fatalf("err = %v, want %v", err, tt.sentinel)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not say %q", err, w)
				}
			}
			assertNoSecret(t, err)
			if n := len(fake.Calls()); n != 0 {
				t.Errorf("STS got %d calls", n)
			}
		})
	}
}

// The region resolves as in aws-sdk-go-v2 and the AWS CLI: --region, then
// AWS_REGION, then AWS_DEFAULT_REGION, then the profile's own region; never a
// source_profile's nor [default]'s. With none, STS is not called and the error says what to set.
func TestRegionPrecedence(t *testing.T) {
	const extra = `
[default]
region = me-south-1

[profile inherits]
role_arn = arn:aws:iam::111122223333:role/Inherits
source_profile = plain

[profile barekeys]
aws_access_key_id = AKIABAREEXAMPLE00005
aws_secret_access_key = bareSecretMustNotLeak/0123456789abcdefXY
`
	tests := []struct {
		name          string
		profile       string
		flag          string
		awsRegion     string
		defaultRegion string
		want          string
	}{
		{"flag beats everything", "prod", "ca-central-1", "sa-east-1", "af-south-1", "ca-central-1"},
		{"AWS_REGION beats the profile", "prod", "", "sa-east-1", "af-south-1", "sa-east-1"},
		{"AWS_DEFAULT_REGION beats the profile", "prod", "", "", "af-south-1", "af-south-1"},
		{"the profile's own region", "prod", "", "", "", "eu-west-1"},
		{"AWS_REGION for a profile without region", "inherits", "", "sa-east-1", "", "sa-east-1"},
		{"source_profile's region is not inherited", "inherits", "", "", "", ""},
		{"[default]'s region does not apply to a named profile", "barekeys", "", "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, f := setup(t)
			appendFile(t, f.config, extra)
			t.Setenv("AWS_REGION", tt.awsRegion)
			t.Setenv("AWS_DEFAULT_REGION", tt.defaultRegion)
			p := newProvider(t, tt.profile, Options{Region: tt.flag})
			if p.Region() != tt.want {
				t.Errorf("Region() = %q, want %q", p.Region(), tt.want)
			}
			_, err := p.Credentials(context.Background(), ports.CredentialRequest{Duration: time.Hour, RoleSessionName: "s1"})
			_, idErr := p.SourceIdentityResolver().Identity(context.Background())
			if tt.want == "" {
				for _, e := range []error{err, idErr} {
					if !errors.Is(e, ports.ErrInvalidArgument) || !strings.Contains(fmt.Sprint(e), "no AWS region") ||
						!strings.Contains(fmt.Sprint(e), "--region") || !strings.Contains(fmt.Sprint(e), "[profile "+tt.profile+"]") {
						t.Errorf("err = %v, want a clear no-region error", e)
					}
				}
				if n := len(fake.Calls()); n != 0 {
					t.Fatalf("STS got %d calls without a region", n)
				}
				return
			}
			if err != nil || idErr != nil {
				t.Fatal(err, idErr)
			}
			for _, c := range fake.Calls() {
				if c.Region != tt.want {
					t.Errorf("%s signed for %q, want %q", c.Action, c.Region, tt.want)
				}
			}
		})
	}
}

// Passing the source credentials through needs no region.
func TestNoSessionNeedsNoRegion(t *testing.T) {
	fake, f := setup(t)
	appendFile(t, f.config, "\n[profile keysonly]\naws_access_key_id = AKIAKEYSONLYEXAMPLE6\naws_secret_access_key = keysOnlySecret\n")
	p := newProvider(t, "keysonly", Options{NoSession: true})
	if p.Region() != "" {
		t.Fatalf("Region() = %q", p.Region())
	}
	if _, err := p.Credentials(context.Background(), ports.CredentialRequest{Duration: time.Hour}); err != nil || len(fake.Calls()) != 0 {
		t.Fatal(err, fake.Calls())
	}
}

func TestEnvironmentKeysDoNotOverrideTheProfile(t *testing.T) {
	fake, _ := setup(t)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT00009")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "envSecret")
	t.Setenv("AWS_PROFILE", "plain")
	p := newProvider(t, "prod", Options{})
	if _, err := p.Credentials(context.Background(), ports.CredentialRequest{Duration: time.Hour, RoleSessionName: "s1"}); err != nil {
		t.Fatal(err)
	}
	if got := fake.Calls()[0].AccessKeyID; got != baseKeyID {
		t.Fatalf("signed with %q, want the profile's source key %q", got, baseKeyID)
	}
}

func TestSTSDurationSeconds(t *testing.T) {
	tests := []struct {
		requested, profileMax, ceiling time.Duration
		want                           int32
	}{
		{0, 0, MaxAssumeRoleDuration, 900},
		{time.Minute, 0, MaxAssumeRoleDuration, 900},
		{899 * time.Second, 0, MaxAssumeRoleDuration, 900},
		{900 * time.Second, 0, MaxAssumeRoleDuration, 900},
		{901 * time.Second, 0, MaxAssumeRoleDuration, 901},
		{1800*time.Second + 1, 0, MaxAssumeRoleDuration, 1801},
		{time.Hour, 1200 * time.Second, MaxAssumeRoleDuration, 1200},
		{5 * time.Minute, 1200 * time.Second, MaxAssumeRoleDuration, 900},
		{24 * time.Hour, 0, MaxAssumeRoleDuration, 43200},
		{24 * time.Hour, 0, MaxSessionTokenDuration, 86400},
		{48 * time.Hour, 0, MaxSessionTokenDuration, 129600},
	}
	for _, tt := range tests {
		if got := STSDurationSeconds(tt.requested, tt.profileMax, tt.ceiling); got != tt.want {
			t.Errorf("STSDurationSeconds(%s, %s, %s) = %d, want %d", tt.requested, tt.profileMax, tt.ceiling, got, tt.want)
		}
	}
}

func TestConcurrentCredentials(t *testing.T) {
	fake, _ := setup(t)
	p := newProvider(t, "prod", Options{})
	const workers = 16
	errs := make(chan error, workers)
	for i := range workers {
		go func() {
			_, err := p.Credentials(context.Background(), ports.CredentialRequest{
				Duration: time.Hour, RoleSessionName: fmt.Sprintf("s%d", i),
			})
			errs <- err
		}()
	}
	for range workers {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	names := map[string]bool{}
	for _, c := range fake.Calls() {
		names[c.Params["RoleSessionName"]] = true
	}
	if len(names) != workers {
		t.Fatalf("STS saw %d distinct session names, want %d", len(names), workers)
	}
}
