package sigv4verify_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/sentinel-gw/sentinel/internal/sigv4verify"
)

const (
	longID      = "AKIATESTEXAMPLE00001"
	longSecret  = "long-term-secret"
	tempID      = "ASIATESTEXAMPLE00002"
	tempSecret  = "temporary-secret"
	tempToken   = "session-token-of-ASIA2"
	body        = "Action=GetCallerIdentity&Version=2011-06-15"
	endpoint    = "https://sts.us-east-1.amazonaws.com/"
	brokerValue = "broker-a"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func keys(id string) (sigv4verify.Key, bool) {
	switch id {
	case longID:
		return sigv4verify.Key{SecretAccessKey: longSecret}, true
	case tempID:
		return sigv4verify.Key{SecretAccessKey: tempSecret, SessionToken: tempToken}, true
	}
	return sigv4verify.Key{}, false
}

// signed builds a GetCallerIdentity request signed by the SDK's signer with
// creds at signedAt; edit runs before signing.
func signed(t *testing.T, creds aws.Credentials, signedAt time.Time, edit func(*http.Request)) *http.Request {
	t.Helper()
	r, err := http.NewRequestWithContext(context.Background(), http.MethodPost, endpoint, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	r.Header.Set("X-Sentinel-Broker", brokerValue)
	r.ContentLength = int64(len(body))
	if edit != nil {
		edit(r)
	}
	if err := sigv4verify.Sign(r, []byte(body), creds, "sts", "us-east-1", signedAt); err != nil {
		t.Fatal(err)
	}
	return r
}

func long() aws.Credentials { return aws.Credentials{AccessKeyID: longID, SecretAccessKey: longSecret} }
func temp() aws.Credentials {
	return aws.Credentials{AccessKeyID: tempID, SecretAccessKey: tempSecret, SessionToken: tempToken}
}

func TestVerifyKey(t *testing.T) {
	tests := []struct {
		name    string
		request func(t *testing.T) *http.Request
		body    string
		want    error
		wantID  string
		message string
	}{
		{name: "long-term key", wantID: longID,
			request: func(t *testing.T) *http.Request { return signed(t, long(), now, nil) }},
		{name: "temporary key with its token", wantID: tempID,
			request: func(t *testing.T) *http.Request { return signed(t, temp(), now, nil) }},
		{name: "four minutes old", wantID: longID,
			request: func(t *testing.T) *http.Request { return signed(t, long(), now.Add(-4*time.Minute), nil) }},
		{name: "an unsigned header added after signing still verifies (the caller's allow-list refuses it)", wantID: longID,
			request: func(t *testing.T) *http.Request {
				r := signed(t, long(), now, nil)
				r.Header.Set("X-Extra", "1")
				return r
			}},
		{name: "unsigned", want: sigv4verify.ErrUnsigned,
			request: func(t *testing.T) *http.Request {
				r := signed(t, long(), now, nil)
				r.Header.Del("Authorization")
				return r
			}},
		{name: "presigned query string", want: sigv4verify.ErrUnsigned, message: "presigned",
			request: func(t *testing.T) *http.Request {
				r := signed(t, long(), now, nil)
				r.Header.Del("Authorization")
				r.URL.RawQuery = "X-Amz-Signature=00"
				return r
			}},
		{name: "wrong secret", want: sigv4verify.ErrSignature,
			request: func(t *testing.T) *http.Request {
				return signed(t, aws.Credentials{AccessKeyID: longID, SecretAccessKey: "not-the-secret"}, now, nil)
			}},
		{name: "unknown key", want: sigv4verify.ErrUnknownKey,
			request: func(t *testing.T) *http.Request {
				return signed(t, aws.Credentials{AccessKeyID: "AKIAUNKNOWN", SecretAccessKey: longSecret}, now, nil)
			}},
		{name: "session token with a long-term key", want: sigv4verify.ErrUnknownKey,
			request: func(t *testing.T) *http.Request {
				return signed(t, aws.Credentials{AccessKeyID: longID, SecretAccessKey: longSecret, SessionToken: tempToken}, now, nil)
			}},
		{name: "another key's session token", want: sigv4verify.ErrUnknownKey,
			request: func(t *testing.T) *http.Request {
				return signed(t, aws.Credentials{AccessKeyID: tempID, SecretAccessKey: tempSecret, SessionToken: "forged"}, now, nil)
			}},
		{name: "temporary key without its token", want: sigv4verify.ErrUnknownKey,
			request: func(t *testing.T) *http.Request {
				return signed(t, aws.Credentials{AccessKeyID: tempID, SecretAccessKey: tempSecret}, now, nil)
			}},
		{name: "stale date", want: sigv4verify.ErrStale, message: "Signature expired: 20260301T115400Z is now earlier than 20260301T115500Z (20260301T120000Z - 5 min.)",
			request: func(t *testing.T) *http.Request { return signed(t, long(), now.Add(-6*time.Minute), nil) }},
		{name: "future date", want: sigv4verify.ErrStale, message: "Signature not yet current",
			request: func(t *testing.T) *http.Request { return signed(t, long(), now.Add(6*time.Minute), nil) }},
		{name: "body changed", want: sigv4verify.ErrSignature, body: "Action=GetCallerIdentity&Version=2011-06-16",
			request: func(t *testing.T) *http.Request { return signed(t, long(), now, nil) }},
		{name: "signed header changed", want: sigv4verify.ErrSignature,
			request: func(t *testing.T) *http.Request {
				r := signed(t, long(), now, nil)
				r.Header.Set("X-Sentinel-Broker", "broker-b")
				return r
			}},
		{name: "signed header removed", want: sigv4verify.ErrSignature,
			request: func(t *testing.T) *http.Request {
				r := signed(t, long(), now, nil)
				r.Header.Del("X-Sentinel-Broker")
				return r
			}},
		{name: "method changed", want: sigv4verify.ErrSignature,
			request: func(t *testing.T) *http.Request {
				r := signed(t, long(), now, nil)
				r.Method = http.MethodPut
				return r
			}},
		{name: "host changed", want: sigv4verify.ErrSignature,
			request: func(t *testing.T) *http.Request {
				r := signed(t, long(), now, nil)
				r.Host = "sts.eu-west-1.amazonaws.com"
				return r
			}},
		{name: "query parameter added", want: sigv4verify.ErrSignature,
			request: func(t *testing.T) *http.Request {
				r := signed(t, long(), now, nil)
				r.URL.RawQuery = "Action=AssumeRole"
				return r
			}},
		{name: "date header changed", want: sigv4verify.ErrSignature,
			request: func(t *testing.T) *http.Request {
				r := signed(t, long(), now, nil)
				r.Header.Set("X-Amz-Date", now.Add(time.Second).Format(sigv4verify.AmzDateFormat))
				return r
			}},
		{name: "scope date is not the request's date", want: sigv4verify.ErrSignature,
			request: func(t *testing.T) *http.Request {
				r := signed(t, long(), now, nil)
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20260301/", "/20260302/", 1))
				return r
			}},
		{name: "host not signed", want: sigv4verify.ErrSignature,
			request: func(t *testing.T) *http.Request {
				r := signed(t, long(), now, nil)
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";host;", ";", 1))
				return r
			}},
		{name: "a signed header the SDK never signs", want: sigv4verify.ErrSignature, message: "cannot be recomputed",
			request: func(t *testing.T) *http.Request {
				r := signed(t, long(), now, nil)
				r.Header.Set("User-Agent", "x")
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "host;", "host;user-agent;", 1))
				return r
			}},
		{name: "no X-Amz-Date", want: sigv4verify.ErrIncomplete,
			request: func(t *testing.T) *http.Request {
				r := signed(t, long(), now, nil)
				r.Header.Del("X-Amz-Date")
				return r
			}},
		{name: "other algorithm", want: sigv4verify.ErrIncomplete,
			request: func(t *testing.T) *http.Request {
				r := signed(t, long(), now, nil)
				r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256", 1))
				return r
			}},
		{name: "two Authorization headers", want: sigv4verify.ErrIncomplete,
			request: func(t *testing.T) *http.Request {
				r := signed(t, long(), now, nil)
				r.Header.Add("Authorization", r.Header.Get("Authorization"))
				return r
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.request(t)
			b := body
			if tt.body != "" {
				b = tt.body
			}
			got, err := sigv4verify.VerifyKey(r, []byte(b), keys, now, 5*time.Minute)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("VerifyKey: %v", err)
				}
				if got.AccessKeyID != tt.wantID || got.Service != "sts" || got.Region != "us-east-1" || len(got.Signature) != 64 {
					t.Fatalf("VerifyKey = %+v, want key %s, sts, us-east-1", got, tt.wantID)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("VerifyKey error = %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.message) {
				t.Fatalf("VerifyKey error = %q, want it to contain %q", err, tt.message)
			}
		})
	}
}

func TestVerifyLongTermKeys(t *testing.T) {
	secretFor := func(id string) (string, bool) { return longSecret, id == longID }
	id, err := sigv4verify.Verify(signed(t, long(), now, nil), []byte(body), secretFor, now, 5*time.Minute)
	if err != nil || id != longID {
		t.Fatalf("Verify = %q, %v; want %s", id, err, longID)
	}
	// Keys from secretFor have no session token: a request carrying one is refused.
	r := signed(t, aws.Credentials{AccessKeyID: longID, SecretAccessKey: longSecret, SessionToken: "t"}, now, nil)
	if _, err := sigv4verify.Verify(r, []byte(body), secretFor, now, 5*time.Minute); !errors.Is(err, sigv4verify.ErrUnknownKey) {
		t.Fatalf("Verify with a session token = %v, want ErrUnknownKey", err)
	}
}

func TestCode(t *testing.T) {
	stale := sigv4verify.CheckDate(now.Add(-20*time.Minute), now, 15*time.Minute)
	tests := []struct {
		err     error
		status  int
		code    string
		message string
		ok      bool
	}{
		{sigv4verify.ErrUnsigned, 403, "MissingAuthenticationToken", sigv4verify.MessageUnsigned, true},
		{sigv4verify.ErrUnknownKey, 403, "InvalidClientTokenId", sigv4verify.MessageUnknownKey, true},
		{sigv4verify.ErrSignature, 403, "SignatureDoesNotMatch", sigv4verify.MessageSignature, true},
		{stale, 403, "SignatureDoesNotMatch", "Signature expired: 20260301T114000Z is now earlier than 20260301T114500Z (20260301T120000Z - 15 min.)", true},
		{errors.New("x"), 0, "", "", false},
	}
	for _, tt := range tests {
		status, code, message, ok := sigv4verify.Code(tt.err)
		if status != tt.status || code != tt.code || message != tt.message || ok != tt.ok {
			t.Errorf("Code(%v) = %d %q %q %v, want %d %q %q %v", tt.err, status, code, message, ok, tt.status, tt.code, tt.message, tt.ok)
		}
	}
	status, code, _, _ := sigv4verify.Code(sigv4verify.CheckDate(now, now, time.Minute))
	if status != 0 || code != "" {
		t.Errorf("a current date is refused: %d %s", status, code)
	}
	if status, code, _, _ := sigv4verify.Code(errors.Join(errors.New("wrapped"), sigv4verify.ErrIncomplete)); status != 400 || code != "IncompleteSignature" {
		t.Errorf("Code(incomplete) = %d %s, want 400 IncompleteSignature", status, code)
	}
}

func FuzzParseAuthorization(f *testing.F) {
	f.Add("AWS4-HMAC-SHA256 Credential=AKIA/20260301/us-east-1/sts/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("ab", 32))
	f.Add("AWS4-HMAC-SHA256 Credential=AKIA/2026/us-east-1/sts/aws4_request, SignedHeaders=x-amz-date;host, Signature=00")
	f.Add("AWS4-HMAC-SHA256 Credential=, SignedHeaders=, Signature=")
	f.Add("AWS AKIA:sig")
	f.Add("")
	f.Fuzz(func(t *testing.T, header string) {
		a, err := sigv4verify.ParseAuthorization([]string{header}, nil)
		if err != nil {
			if !errors.Is(err, sigv4verify.ErrIncomplete) {
				t.Fatalf("error %v is not ErrIncomplete", err)
			}
			return
		}
		if a.AccessKeyID == "" || len(a.Date) != 8 || a.Region == "" || a.Service == "" || len(a.Signature) != 64 || len(a.SignedHeaders) == 0 {
			t.Fatalf("accepted an incomplete header %q: %+v", header, a)
		}
		for i := 1; i < len(a.SignedHeaders); i++ {
			if a.SignedHeaders[i-1] >= a.SignedHeaders[i] {
				t.Fatalf("accepted unsorted SignedHeaders %v", a.SignedHeaders)
			}
		}
	})
}
