package httpserver

import (
	"time"
	"unicode/utf8"

	"github.com/sentinel-gw/sentinel/ports"
)

// appendCredentials appends the ECS container-credentials response body.
// Every field is always present: botocore and the Node SDK reject a body
// without Token or Expiration.
func appendCredentials(dst []byte, c ports.Credentials, expires time.Time) []byte {
	dst = append(dst, `{"AccessKeyId":`...)
	dst = appendJSONString(dst, c.AccessKeyID)
	dst = append(dst, `,"SecretAccessKey":`...)
	dst = appendJSONString(dst, c.SecretAccessKey)
	dst = append(dst, `,"Token":`...)
	dst = appendJSONString(dst, c.SessionToken)
	dst = append(dst, `,"Expiration":"`...)
	// RFC 3339 drops sub-seconds, so the served time is never later than the cap.
	dst = expires.UTC().AppendFormat(dst, time.RFC3339)
	return append(dst, `"}`...)
}

// appendError appends {"Code":...,"Message":...}. The Go SDK decodes these
// keys case-insensitively; the Node SDK reads exactly Code and Message.
func appendError(dst []byte, code, message string) []byte {
	dst = append(dst, `{"Code":`...)
	dst = appendJSONString(dst, code)
	dst = append(dst, `,"Message":`...)
	dst = appendJSONString(dst, message)
	return append(dst, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD,
// as encoding/json does, so the body is always valid JSON.
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '"', '\\':
				dst = append(dst, '\\', b)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i++
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
