package fakests

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/sentinel-gw/sentinel/ports"
)

// TestSignaturesAreVerified: every request's signature is recomputed with the
// secret of the key it names; the fake refuses what STS refuses.
func TestSignaturesAreVerified(t *testing.T) {
	const aliceID, aliceSecret, aliceARN = "AKIAALICE00000000001", "alice/secret", "arn:aws:iam::111122223333:user/alice"
	s := New(t, WithUser(aliceID, aliceSecret, aliceARN))
	issued := s.GetSessionToken(t)
	alice := &Credentials{AccessKeyID: aliceID, SecretAccessKey: aliceSecret}
	gci := form("GetCallerIdentity")
	tests := []struct {
		name    string
		request func() *http.Request
		status  int
		code    string
		message string
	}{
		{name: "a known user", status: 200,
			request: func() *http.Request { return signedRequest(t, s, gci, alice, time.Now()) }},
		{name: "the example key", status: 200,
			request: func() *http.Request { return signedRequest(t, s, gci, signed, time.Now()) }},
		{name: "issued credentials with their token", status: 200,
			request: func() *http.Request { return signedRequest(t, s, gci, &issued, time.Now()) }},
		{name: "unsigned", status: 403, code: "MissingAuthenticationToken",
			request: func() *http.Request { return signedRequest(t, s, gci, nil, time.Now()) }},
		{name: "wrong secret", status: 403, code: "SignatureDoesNotMatch", message: "Check your AWS Secret Access Key",
			request: func() *http.Request {
				return signedRequest(t, s, gci, &Credentials{AccessKeyID: aliceID, SecretAccessKey: ExampleSecret}, time.Now())
			}},
		{name: "unknown key", status: 403, code: "InvalidClientTokenId",
			request: func() *http.Request {
				return signedRequest(t, s, gci, &Credentials{AccessKeyID: "AKIANOBODY0000000000", SecretAccessKey: ExampleSecret}, time.Now())
			}},
		{name: "issued key without its token", status: 403, code: "InvalidClientTokenId",
			request: func() *http.Request {
				return signedRequest(t, s, gci, &Credentials{AccessKeyID: issued.AccessKeyID, SecretAccessKey: issued.SecretAccessKey}, time.Now())
			}},
		{name: "issued key with a forged token", status: 403, code: "InvalidClientTokenId",
			request: func() *http.Request {
				forged := issued
				forged.SessionToken = "forged"
				return signedRequest(t, s, gci, &forged, time.Now())
			}},
		{name: "stale date", status: 403, code: "SignatureDoesNotMatch", message: "Signature expired: ",
			request: func() *http.Request { return signedRequest(t, s, gci, alice, time.Now().Add(-16*time.Minute)) }},
		{name: "future date", status: 403, code: "SignatureDoesNotMatch", message: "Signature not yet current: ",
			request: func() *http.Request { return signedRequest(t, s, gci, alice, time.Now().Add(16*time.Minute)) }},
		{name: "broker header removed after signing", status: 403, code: "SignatureDoesNotMatch",
			request: func() *http.Request {
				r := signedRequest(t, s, gci, alice, time.Now())
				r.Header.Del("X-Sentinel-Broker")
				return r
			}},
		{name: "broker header changed after signing", status: 403, code: "SignatureDoesNotMatch",
			request: func() *http.Request {
				r := signedRequest(t, s, gci, alice, time.Now())
				r.Header.Set("X-Sentinel-Broker", "broker-b")
				return r
			}},
		{name: "body changed after signing", status: 403, code: "SignatureDoesNotMatch",
			request: func() *http.Request {
				r := signedRequest(t, s, gci, alice, time.Now())
				other := form("AssumeRole", "RoleArn", "arn:aws:iam::111122223333:role/R", "RoleSessionName", "s1").Encode()
				r.Body, r.ContentLength = http.NoBody, 0
				r2, _ := http.NewRequestWithContext(context.Background(), http.MethodPost, r.URL.String(), strings.NewReader(other))
				r2.Header = r.Header
				return r2
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := send(t, s, tt.request())
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if tt.status == 200 {
				return
			}
			e := decodeError(t, body)
			if e.Error.Code != tt.code || !strings.Contains(e.Error.Message, tt.message) {
				t.Fatalf("error %+v, want %s with %q", e.Error, tt.code, tt.message)
			}
		})
	}
}

// TestRealSDKClients: the SDK's STS client, signing for real, is accepted
// with the right secret and refused with a wrong one.
func TestRealSDKClients(t *testing.T) {
	const aliceID, aliceARN = "AKIAALICE00000000001", "arn:aws:iam::111122223333:user/alice"
	s := New(t, WithUser(aliceID, "alice/secret", aliceARN))
	client := func(secret, token string) *sts.Client { return sdkClient(s, aliceID, secret, token) }
	out, err := client("alice/secret", "").GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(out.Arn) != aliceARN {
		t.Fatalf("GetCallerIdentity = %v, %v; want %s", out, err, aliceARN)
	}
	var apiErr smithy.APIError
	_, err = client("wrong", "").GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "SignatureDoesNotMatch" {
		t.Fatalf("wrong secret: %v, want SignatureDoesNotMatch", err)
	}
	_, err = client("alice/secret", "a-token").GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if !errors.As(err, &apiErr) || apiErr.ErrorCode() != "InvalidClientTokenId" {
		t.Fatalf("long-term key with a session token: %v, want InvalidClientTokenId", err)
	}
	// Credentials the fake issued work with their token.
	tok, err := client("alice/secret", "").GetSessionToken(context.Background(), &sts.GetSessionTokenInput{})
	if err != nil {
		t.Fatal(err)
	}
	c := tok.Credentials
	out, err = sdkClient(s, aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken)).
		GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(out.Arn) != aliceARN {
		t.Fatalf("GetCallerIdentity with issued credentials = %v, %v; want %s", out, err, aliceARN)
	}
}

func sdkClient(s *Server, id, secret, token string) *sts.Client {
	return sts.New(sts.Options{Region: "us-west-2", BaseEndpoint: aws.String(s.URL()),
		Credentials: credentials.NewStaticCredentialsProvider(id, secret, token)})
}

// TestIssuedCredentialsExpire: credentials the fake issued are refused once
// its clock passes their Expiration, as STS answers ExpiredToken.
func TestIssuedCredentialsExpire(t *testing.T) {
	clock := ports.NewFakeClock(time.Now())
	s := New(t, WithClock(clock))
	issued := s.AssumeRole(t, "arn:aws:iam::111122223333:role/R", 900)
	if status, body := post(t, s, form("GetCallerIdentity"), &issued); status != 200 {
		t.Fatalf("fresh credentials: %d %s", status, body)
	}
	clock.Advance(900 * time.Second)
	status, body := post(t, s, form("GetCallerIdentity"), &issued)
	if e := decodeError(t, body); status != 403 || e.Error.Code != "ExpiredToken" || e.Error.Message != ExpiredTokenMessage {
		t.Fatalf("expired credentials: %d %+v, want 403 ExpiredToken", status, e.Error)
	}
	// Long-term keys do not expire.
	if status, body := post(t, s, form("GetCallerIdentity"), signed); status != 200 {
		t.Fatalf("the example key after the clock moved: %d %s", status, body)
	}
}
