// Package sigv4verify checks AWS Signature Version 4 header signatures the
// way AWS does: it recomputes the signature of a request with the secret of
// the access key the request names and compares it in constant time. The
// local STS stand-in and the broker's own checks use it.
//
// It recomputes with the AWS SDK's signer, over a copy of the request that
// holds only the headers the Authorization header says were signed. So a
// signature made over a header the SDK never signs (User-Agent, Expect,
// Transfer-Encoding, X-Amzn-Trace-Id) does not verify; real SDK clients never
// sign those. Query-string (presigned) signatures are refused.
package sigv4verify

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// AmzDateFormat is the layout of X-Amz-Date.
const AmzDateFormat = "20060102T150405Z"

// Errors of Verify, tested with errors.Is; Code maps each to AWS's answer.
var (
	// ErrUnsigned: no Authorization header (MissingAuthenticationToken).
	ErrUnsigned = errors.New("request is not signed")
	// ErrIncomplete: an Authorization header that is not a whole SigV4
	// header, or no X-Amz-Date (IncompleteSignature).
	ErrIncomplete = errors.New("incomplete signature")
	// ErrUnknownKey: the access key id is not known, or the session token
	// does not belong to it (InvalidClientTokenId).
	ErrUnknownKey = errors.New("unknown access key or security token")
	// ErrSignature: the recomputed signature differs (SignatureDoesNotMatch).
	ErrSignature = errors.New("signature does not match")
	// ErrStale: X-Amz-Date is further from now than the allowed skew
	// (SignatureDoesNotMatch "Signature expired", as STS answers).
	ErrStale = errors.New("signature expired")
)

// Key is what a verifier knows of an access key: its secret and, for
// temporary credentials, the session token issued with it ("" for a
// long-term key, which must then be used without a token).
type Key struct {
	SecretAccessKey string
	SessionToken    string
}

// Signed is what a verified request was signed with.
type Signed struct {
	AccessKeyID string
	Region      string
	Service     string
	// Date is X-Amz-Date.
	Date time.Time
	// SignedHeaders are the lower-case names the signature covers, sorted.
	SignedHeaders []string
	// Signature is the hex signature (unique per request, usable as a cache key).
	Signature string
}

// Verify recomputes r's SigV4 signature (body is r's body) with the secret
// secretFor gives for the key id in r's Authorization header, compares in
// constant time, and checks X-Amz-Date is within maxSkew of now. It returns
// the access key id. Keys from secretFor are long-term keys: a request that
// carries X-Amz-Security-Token is refused with ErrUnknownKey.
func Verify(r *http.Request, body []byte, secretFor func(accessKeyID string) (string, bool), now time.Time, maxSkew time.Duration) (string, error) {
	s, err := VerifyKey(r, body, func(id string) (Key, bool) {
		secret, ok := secretFor(id)
		return Key{SecretAccessKey: secret}, ok
	}, now, maxSkew)
	return s.AccessKeyID, err
}

// VerifyKey is Verify for keys that may be temporary: the request's
// X-Amz-Security-Token must equal the key's SessionToken (compared in
// constant time; both empty for a long-term key).
func VerifyKey(r *http.Request, body []byte, keyFor func(accessKeyID string) (Key, bool), now time.Time, maxSkew time.Duration) (Signed, error) {
	auth, err := ParseAuthorization(r.Header.Values("Authorization"), r.URL.Query())
	if err != nil {
		return Signed{}, err
	}
	rawDate := r.Header.Get("X-Amz-Date")
	if rawDate == "" {
		return Signed{}, fmt.Errorf("%w: the request has no X-Amz-Date header", ErrIncomplete)
	}
	date, err := time.Parse(AmzDateFormat, rawDate)
	if err != nil {
		return Signed{}, fmt.Errorf("%w: X-Amz-Date %q is not in the form %s", ErrIncomplete, rawDate, AmzDateFormat)
	}
	if err := CheckDate(date, now, maxSkew); err != nil {
		return Signed{}, err
	}
	if auth.Date != date.Format("20060102") {
		return Signed{}, fmt.Errorf("%w: credential scope date %s is not the date of X-Amz-Date %s", ErrSignature, auth.Date, rawDate)
	}
	if !contains(auth.SignedHeaders, "host") {
		return Signed{}, fmt.Errorf("%w: SignedHeaders must include host", ErrSignature)
	}
	key, ok := keyFor(auth.AccessKeyID)
	if !ok {
		return Signed{}, fmt.Errorf("%w: the access key id %s is not known", ErrUnknownKey, auth.AccessKeyID)
	}
	token := r.Header.Get("X-Amz-Security-Token")
	if !equal(token, key.SessionToken) {
		if key.SessionToken == "" {
			return Signed{}, fmt.Errorf("%w: the security token sent with long-term key %s is not valid", ErrUnknownKey, auth.AccessKeyID)
		}
		return Signed{}, fmt.Errorf("%w: the security token sent with key %s is not the one issued with it", ErrUnknownKey, auth.AccessKeyID)
	}

	want, signedHeaders, err := recompute(r, body, auth, date, key.SecretAccessKey)
	if err != nil {
		return Signed{}, err
	}
	if signedHeaders != strings.Join(auth.SignedHeaders, ";") {
		return Signed{}, fmt.Errorf("%w: SignedHeaders %q cannot be recomputed (recomputed over %q); sign with an AWS SDK",
			ErrSignature, strings.Join(auth.SignedHeaders, ";"), signedHeaders)
	}
	if !equal(want, auth.Signature) {
		return Signed{}, fmt.Errorf("%w: the signature of key %s does not match the request", ErrSignature, auth.AccessKeyID)
	}
	return Signed{AccessKeyID: auth.AccessKeyID, Region: auth.Region, Service: auth.Service, Date: date,
		SignedHeaders: auth.SignedHeaders, Signature: auth.Signature}, nil
}

// CheckDate refuses a signing date more than maxSkew before or after now,
// with STS's messages.
func CheckDate(date, now time.Time, maxSkew time.Duration) error {
	mins := int(maxSkew / time.Minute)
	if date.Before(now.Add(-maxSkew)) {
		return fmt.Errorf("%w: Signature expired: %s is now earlier than %s (%s - %d min.)", ErrStale,
			date.UTC().Format(AmzDateFormat), now.Add(-maxSkew).UTC().Format(AmzDateFormat), now.UTC().Format(AmzDateFormat), mins)
	}
	if date.After(now.Add(maxSkew)) {
		return fmt.Errorf("%w: Signature not yet current: %s is still later than %s (%s + %d min.)", ErrStale,
			date.UTC().Format(AmzDateFormat), now.Add(maxSkew).UTC().Format(AmzDateFormat), now.UTC().Format(AmzDateFormat), mins)
	}
	return nil
}

// recompute signs a copy of r holding only the signed headers, at date, and
// returns the signature and the signed-headers list the signer produced.
func recompute(r *http.Request, body []byte, auth Authorization, date time.Time, secret string) (signature, signedHeaders string, _ error) {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	u := &url.URL{Scheme: scheme, Host: r.Host, Path: r.URL.Path, RawPath: r.URL.RawPath, RawQuery: r.URL.RawQuery}
	clone, err := http.NewRequestWithContext(context.Background(), r.Method, u.String(), nil)
	if err != nil {
		return "", "", fmt.Errorf("%w: cannot rebuild the request: %w", ErrSignature, err)
	}
	clone.Host = r.Host
	creds := aws.Credentials{AccessKeyID: auth.AccessKeyID, SecretAccessKey: secret}
	for _, name := range auth.SignedHeaders {
		switch name {
		case "host":
		case "content-length":
			clone.ContentLength = int64(len(body))
		case "x-amz-security-token":
			creds.SessionToken = r.Header.Get(name)
		default:
			for _, v := range r.Header.Values(name) {
				clone.Header.Add(name, v)
			}
		}
	}
	if err := Sign(clone, body, creds, auth.Service, auth.Region, date); err != nil {
		return "", "", fmt.Errorf("%w: %w", ErrSignature, err)
	}
	got, err := ParseAuthorization(clone.Header.Values("Authorization"), nil)
	if err != nil {
		return "", "", err
	}
	return got.Signature, strings.Join(got.SignedHeaders, ";"), nil
}

// Sign signs r, whose body is body, with creds for service in region at
// signedAt, with the AWS SDK's signer, as an SDK client does: every header r
// has by then (but User-Agent and a few others) is signed, and
// X-Amz-Security-Token is added when creds have a session token.
func Sign(r *http.Request, body []byte, creds aws.Credentials, service, region string, signedAt time.Time) error {
	sum := sha256.Sum256(body)
	return v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), service, region, signedAt)
}

// Authorization is a parsed SigV4 Authorization header.
type Authorization struct {
	AccessKeyID   string
	Date          string // the credential scope's date, YYYYMMDD
	Region        string
	Service       string
	SignedHeaders []string
	Signature     string
}

// ParseAuthorization reads "AWS4-HMAC-SHA256 Credential=AKID/date/region/
// service/aws4_request, SignedHeaders=a;b, Signature=hex". values are the
// Authorization header's values; query is the URL query (a presigned request
// is refused).
func ParseAuthorization(values []string, query url.Values) (Authorization, error) {
	if len(values) == 0 {
		if query.Get("X-Amz-Signature") != "" || query.Get("X-Amz-Credential") != "" {
			return Authorization{}, fmt.Errorf("%w: query-string (presigned) signatures are not accepted; sign the Authorization header", ErrUnsigned)
		}
		return Authorization{}, fmt.Errorf("%w: the request has no Authorization header; sign it with SigV4", ErrUnsigned)
	}
	if len(values) > 1 {
		return Authorization{}, fmt.Errorf("%w: %d Authorization headers; send one", ErrIncomplete, len(values))
	}
	algorithm, rest, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if algorithm != Algorithm {
		return Authorization{}, fmt.Errorf("%w: algorithm %q: want %s", ErrIncomplete, truncate(algorithm), Algorithm)
	}
	var a Authorization
	var haveCred, haveHeaders, haveSig bool
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			return Authorization{}, fmt.Errorf("%w: Authorization element %q is not key=value", ErrIncomplete, truncate(part))
		}
		switch k {
		case "Credential":
			if haveCred {
				return Authorization{}, fmt.Errorf("%w: Credential given twice", ErrIncomplete)
			}
			scope := strings.Split(v, "/")
			if len(scope) != 5 || scope[4] != "aws4_request" || scope[0] == "" || len(scope[1]) != 8 || scope[2] == "" || scope[3] == "" {
				return Authorization{}, fmt.Errorf("%w: Credential %q: want KEYID/YYYYMMDD/REGION/SERVICE/aws4_request", ErrIncomplete, truncate(v))
			}
			if _, err := time.Parse("20060102", scope[1]); err != nil {
				return Authorization{}, fmt.Errorf("%w: Credential date %q is not YYYYMMDD", ErrIncomplete, truncate(scope[1]))
			}
			a.AccessKeyID, a.Date, a.Region, a.Service = scope[0], scope[1], scope[2], scope[3]
			haveCred = true
		case "SignedHeaders":
			if haveHeaders {
				return Authorization{}, fmt.Errorf("%w: SignedHeaders given twice", ErrIncomplete)
			}
			names := strings.Split(v, ";")
			for i, n := range names {
				if n == "" || n != strings.ToLower(n) || (i > 0 && names[i-1] >= n) {
					return Authorization{}, fmt.Errorf("%w: SignedHeaders %q: want lower-case names, sorted, each once", ErrIncomplete, truncate(v))
				}
			}
			a.SignedHeaders = names
			haveHeaders = true
		case "Signature":
			if haveSig {
				return Authorization{}, fmt.Errorf("%w: Signature given twice", ErrIncomplete)
			}
			if b, err := hex.DecodeString(v); err != nil || len(b) != sha256.Size {
				return Authorization{}, fmt.Errorf("%w: Signature is not 64 hex digits", ErrIncomplete)
			}
			a.Signature = v
			haveSig = true
		default:
			return Authorization{}, fmt.Errorf("%w: unknown Authorization element %q", ErrIncomplete, truncate(k))
		}
	}
	if !haveCred || !haveHeaders || !haveSig {
		return Authorization{}, fmt.Errorf("%w: Authorization needs Credential, SignedHeaders and Signature", ErrIncomplete)
	}
	return a, nil
}

// AWS's messages for the refusals whose text does not depend on the request.
const (
	MessageUnsigned   = "Request is missing Authentication Token"
	MessageUnknownKey = "The security token included in the request is invalid."
	MessageSignature  = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
)

// Code maps an error of Verify to the HTTP status, error code and message
// AWS answers; ok is false for an error that is none of them. A stale
// signature keeps STS's "Signature expired: ..." text, an incomplete one
// says what is wrong; the others answer AWS's fixed messages (the detail in
// err is for logs, not for the caller).
func Code(err error) (status int, code, message string, ok bool) {
	switch {
	case errors.Is(err, ErrUnsigned):
		return http.StatusForbidden, "MissingAuthenticationToken", MessageUnsigned, true
	case errors.Is(err, ErrIncomplete):
		return http.StatusBadRequest, "IncompleteSignature", detail(err, ErrIncomplete), true
	case errors.Is(err, ErrUnknownKey):
		return http.StatusForbidden, "InvalidClientTokenId", MessageUnknownKey, true
	case errors.Is(err, ErrStale):
		return http.StatusForbidden, "SignatureDoesNotMatch", detail(err, ErrStale), true
	case errors.Is(err, ErrSignature):
		return http.StatusForbidden, "SignatureDoesNotMatch", MessageSignature, true
	}
	return 0, "", "", false
}

// detail is err's text after its kind's prefix.
func detail(err, kind error) string {
	msg := err.Error()
	if i := strings.Index(msg, kind.Error()+": "); i >= 0 {
		return msg[i+len(kind.Error())+2:]
	}
	return msg
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// truncate keeps error messages short whatever the client sent.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}
