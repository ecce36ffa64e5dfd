package webhook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// DefaultTolerance is how far a timestamp may be from the receiver's clock
// when Verify is given no tolerance.
const DefaultTolerance = 5 * time.Minute

const signaturePrefix = "sha256="

// Verification errors; Verify wraps them, test with errors.Is.
var (
	// ErrMalformed: the timestamp or signature header is missing or not in the expected form.
	ErrMalformed = errors.New("webhook: malformed signature headers")
	// ErrStale: the timestamp is further from now than the tolerance (a replay, or a skewed clock).
	ErrStale = errors.New("webhook: timestamp outside tolerance")
	// ErrBadSignature: the signature does not match the secret, timestamp and body.
	ErrBadSignature = errors.New("webhook: signature mismatch")
)

// Sign returns the X-Sentinel-Signature value for a body sent at timestamp
// (unix seconds, as in X-Sentinel-Timestamp): "sha256=" and the hex
// HMAC-SHA256 of timestamp + "." + body under secret.
func Sign(secret []byte, timestamp string, body []byte) string {
	return signaturePrefix + hex.EncodeToString(mac(secret, timestamp, body))
}

func mac(secret []byte, timestamp string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(timestamp))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// Verify checks a delivery as a receiver sees it: timestamp and signature
// are the X-Sentinel-Timestamp and X-Sentinel-Signature headers, body the
// raw request body. It fails when the timestamp is more than tolerance
// (DefaultTolerance when 0 or less) away from now, or the signature is not
// the HMAC of timestamp + "." + body under secret (compared in constant time).
func Verify(secret []byte, timestamp, signature string, body []byte, now time.Time, tolerance time.Duration) error {
	if tolerance <= 0 {
		tolerance = DefaultTolerance
	}
	secs, err := strconv.ParseInt(timestamp, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: timestamp %q is not unix seconds", ErrMalformed, timestamp)
	}
	hexSig, ok := strings.CutPrefix(signature, signaturePrefix)
	if !ok {
		return fmt.Errorf("%w: signature does not start with %q", ErrMalformed, signaturePrefix)
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil || len(got) != sha256.Size {
		return fmt.Errorf("%w: signature is not %d hex-encoded bytes", ErrMalformed, sha256.Size)
	}
	if skew := now.Sub(time.Unix(secs, 0)).Abs(); skew > tolerance {
		return fmt.Errorf("%w: timestamp is %s away from now, tolerance %s", ErrStale, skew.Truncate(time.Second), tolerance)
	}
	if !hmac.Equal(got, mac(secret, timestamp, body)) {
		return ErrBadSignature
	}
	return nil
}
