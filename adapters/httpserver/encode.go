package httpserver

import (
	"time"

	"github.com/sentinel-gw/sentinel/internal/jsonenc"
	"github.com/sentinel-gw/sentinel/ports"
)

// appendCredentials appends the ECS container-credentials response body.
// Every field is always present: botocore and the Node SDK reject a body
// without Token or Expiration.
func appendCredentials(dst []byte, c ports.Credentials, expires time.Time) []byte {
	dst = append(dst, `{"AccessKeyId":`...)
	dst = jsonenc.AppendString(dst, c.AccessKeyID)
	dst = append(dst, `,"SecretAccessKey":`...)
	dst = jsonenc.AppendString(dst, c.SecretAccessKey)
	dst = append(dst, `,"Token":`...)
	dst = jsonenc.AppendString(dst, c.SessionToken)
	dst = append(dst, `,"Expiration":"`...)
	// RFC 3339 drops sub-seconds, so the served time is never later than the cap.
	dst = expires.UTC().AppendFormat(dst, time.RFC3339)
	return append(dst, `"}`...)
}

// appendError appends {"Code":...,"Message":...}. The Go SDK decodes these
// keys case-insensitively; the Node SDK reads exactly Code and Message.
func appendError(dst []byte, code, message string) []byte {
	dst = append(dst, `{"Code":`...)
	dst = jsonenc.AppendString(dst, code)
	dst = append(dst, `,"Message":`...)
	dst = jsonenc.AppendString(dst, message)
	return append(dst, '}')
}
