package httpserver

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/aws/smithy-go"

	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/ports"
)

// sdkContainerExpiryWindow is how early the Go SDK's config refreshes
// container credentials (resolve_credentials.go sets ExpiryWindow).
const sdkContainerExpiryWindow = 5 * time.Minute

// containerEnv makes the Go SDK's default chain see only our server, exactly
// as a child of `sentinel exec --server` would.
func containerEnv(t *testing.T, s *Server, token string) {
	t.Helper()
	for _, k := range []string{
		"AWS_ACCESS_KEY_ID", "AWS_ACCESS_KEY", "AWS_SECRET_ACCESS_KEY", "AWS_SECRET_KEY", "AWS_SESSION_TOKEN",
		"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ROLE_ARN", "AWS_ROLE_SESSION_NAME", "AWS_WEB_IDENTITY_TOKEN_FILE",
		"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
	} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", s.URL())
	t.Setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN", token)
}

func loadSDKConfig(t *testing.T, opts ...func(*config.LoadOptions) error) aws.Config {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		t.Fatalf("LoadDefaultConfig: %v", err)
	}
	return cfg
}

func retrieve(t *testing.T, p aws.CredentialsProvider) (aws.Credentials, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return p.Retrieve(ctx)
}

func TestGoSDKDefaultChainGetsServedKeys(t *testing.T) {
	issuer := &fakeIssuer{creds: testCreds}
	token, _ := NewToken()
	s := startServer(t, Config{Token: token, Issuer: issuer})
	containerEnv(t, s, token)

	got, err := retrieve(t, loadSDKConfig(t).Credentials)
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	if got.AccessKeyID != testCreds.AccessKeyID || got.SecretAccessKey != testCreds.SecretAccessKey ||
		got.SessionToken != testCreds.SessionToken {
		t.Errorf("SDK got %q/%q/%q; want the served keys", got.AccessKeyID, got.SecretAccessKey, got.SessionToken)
	}
	// The SDK's cache moves Expires 5 minutes earlier (its ExpiryWindow for container credentials).
	if !got.CanExpire || !got.Expires.Equal(testCreds.Expires.Add(-sdkContainerExpiryWindow)) {
		t.Errorf("CanExpire %v, Expires %v; want true, %v minus the window", got.CanExpire, got.Expires, testCreds.Expires)
	}
	if got.Source != endpointcreds.ProviderName {
		t.Errorf("Source = %q; the SDK did not use the container provider", got.Source)
	}
	if issuer.called.Load() != 1 {
		t.Errorf("issuer called %d times; want 1", issuer.called.Load())
	}
}

func TestGoSDKStaticCredentialsExpire(t *testing.T) {
	clock := ports.NewFakeClock(time.Date(2031, 2, 3, 4, 5, 6, 0, time.UTC))
	static := ports.Credentials{AccessKeyID: "AKIASTATIC0000000001", SecretAccessKey: "static/secret"}
	token, _ := NewToken()
	s := startServer(t, Config{Token: token, Issuer: &fakeIssuer{creds: static}, Clock: clock})
	containerEnv(t, s, token)

	got, err := retrieve(t, loadSDKConfig(t).Credentials)
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	if got.AccessKeyID != static.AccessKeyID || got.SessionToken != "" {
		t.Errorf("got %q, session token %q", got.AccessKeyID, got.SessionToken)
	}
	want := clock.Now().Add(DefaultStaticExpiry - sdkContainerExpiryWindow)
	if !got.CanExpire || !got.Expires.Equal(want) {
		t.Errorf("CanExpire %v, Expires %v; want true, %v", got.CanExpire, got.Expires, want)
	}
}

func TestGoSDKSurfacesRefusals(t *testing.T) {
	at := time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)
	tests := []struct {
		name       string
		err        error
		wrongToken bool
		wantStatus int
		wantCode   string
		wantMsg    string
		notInMsg   string
	}{
		{name: "denied", err: &gateway.DeniedError{Rule: "prod-weekdays", Reason: "weekend"},
			wantStatus: 403, wantCode: "AccessDenied", wantMsg: "policy denied: rule prod-weekdays: weekend"},
		{name: "revoked", err: &gateway.RevokedError{By: "alice", Reason: "incident 7", At: at},
			wantStatus: 403, wantCode: "SessionRevoked", wantMsg: "session revoked by alice at 2026-05-01T09:00:00Z: incident 7"},
		{name: "session ended", err: &gateway.SessionEndedError{SessionID: "0123"},
			wantStatus: 403, wantCode: "SessionExpired", wantMsg: "session 0123 has expired; restart sentinel exec --server"},
		{name: "store", err: &gateway.StoreError{Err: errors.New("dial refused")},
			wantStatus: 503, wantCode: "StoreUnavailable", wantMsg: "session store unavailable", notInMsg: "dial refused"},
		{name: "source", err: &gateway.SourceError{Profile: "prod", Err: errors.New("ExpiredToken: detail-xyz")},
			wantStatus: 502, wantCode: "CredentialSourceFailed", wantMsg: `credential source for profile "prod" failed`, notInMsg: "detail-xyz"},
		{name: "internal", err: errors.New("nil map detail-xyz"),
			wantStatus: 500, wantCode: "InternalError", wantMsg: internalErrorMessage, notInMsg: "detail-xyz"},
		{name: "wrong token", wrongToken: true,
			wantStatus: 401, wantCode: "Unauthorized", wantMsg: "AWS_CONTAINER_AUTHORIZATION_TOKEN"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, _ := NewToken()
			s := startServer(t, Config{Token: token, Issuer: &fakeIssuer{err: tt.err}})
			sent := token
			if tt.wrongToken {
				sent, _ = NewToken()
			}
			containerEnv(t, s, sent)
			// No retries: 5xx answers would otherwise be retried with backoff.
			cfg := loadSDKConfig(t, config.WithRetryer(func() aws.Retryer { return aws.NopRetryer{} }))

			_, err := retrieve(t, cfg.Credentials)
			if err == nil {
				t.Fatal("Retrieve succeeded; want an error")
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("SDK error %q does not carry %q", err, tt.wantMsg)
			}
			if tt.notInMsg != "" && strings.Contains(err.Error(), tt.notInMsg) {
				t.Errorf("SDK error %q leaks %q", err, tt.notInMsg)
			}
			var apiErr smithy.APIError
			if !errors.As(err, &apiErr) || apiErr.ErrorCode() != tt.wantCode || !strings.Contains(apiErr.ErrorMessage(), tt.wantMsg) {
				t.Errorf("SDK APIError = %v; want code %q", apiErr, tt.wantCode)
			}
			var status interface{ HTTPStatusCode() int }
			if !errors.As(err, &status) || status.HTTPStatusCode() != tt.wantStatus {
				t.Errorf("SDK saw status %v; want %d", status, tt.wantStatus)
			}
		})
	}
}

// TestGoSDKNextRequestAfterRevokeFails drives the endpointcreds provider
// directly (no cache), as a refresh would: once the core says revoked, the
// very next fetch fails with the revocation text.
func TestGoSDKNextRequestAfterRevokeFails(t *testing.T) {
	issuer := &fakeIssuer{creds: testCreds}
	token, _ := NewToken()
	s := startServer(t, Config{Token: token, Issuer: issuer})
	p := endpointcreds.New(s.URL(), func(o *endpointcreds.Options) {
		o.AuthorizationToken = token
		o.Retryer = aws.NopRetryer{}
	})
	got, err := retrieve(t, p)
	if err != nil || got.SecretAccessKey != testCreds.SecretAccessKey {
		t.Fatalf("first fetch: %v, %q", err, got.SecretAccessKey)
	}
	// Without the cache the provider reports the served Expiration exactly.
	if !got.CanExpire || !got.Expires.Equal(testCreds.Expires) {
		t.Errorf("Expires %v; want %v", got.Expires, testCreds.Expires)
	}
	issuer.set(ports.Credentials{}, &gateway.RevokedError{By: "bob", Reason: "left the company"})
	_, err = retrieve(t, p)
	if err == nil || !strings.Contains(err.Error(), "session revoked by bob: left the company") {
		t.Fatalf("fetch after revoke: %v; want the revocation", err)
	}
}
