package jsonlog

import (
	"strconv"
	"time"

	"github.com/sentinel-gw/sentinel/internal/jsonenc"
	"github.com/sentinel-gw/sentinel/ports"
)

// appendRecord appends r as encoding/json would marshal it (the same keys,
// omitempty and omitzero rules, RFC 3339 nanosecond times) without
// reflection: it runs on every credential request. A test holds it equal to
// json.Marshal.
func appendRecord(dst []byte, r ports.DecisionRecord) []byte {
	dst = append(dst, `{"time":`...)
	dst = appendTime(dst, r.Time)
	dst = appendField(dst, "request_id", r.RequestID)
	dst = appendField(dst, "user", r.User)
	dst = appendOptional(dst, "user_arn", r.UserARN)
	dst = appendField(dst, "identity_source", r.IdentitySource)
	dst = appendField(dst, "profile", r.Profile)
	dst = appendField(dst, "mode", r.Mode)
	dst = appendOptional(dst, "session_id", r.SessionID)
	dst = appendField(dst, "effect", r.Effect)
	dst = appendOptional(dst, "rule_effect", r.RuleEffect)
	dst = appendOptional(dst, "rule", r.Rule)
	dst = append(dst, `,"rule_index":`...)
	dst = strconv.AppendInt(dst, int64(r.RuleIndex), 10)
	dst = appendField(dst, "reason", r.Reason)
	dst = appendOptional(dst, "override", r.Override)
	dst = appendOptional(dst, "source_identity", r.SourceIdentity)
	dst = appendOptional(dst, "served_duration", r.ServedDuration)
	if !r.CredentialsExpire.IsZero() {
		dst = append(dst, `,"credentials_expire":`...)
		dst = appendTime(dst, r.CredentialsExpire)
	}
	dst = appendOptional(dst, "error", r.Error)
	dst = appendOptional(dst, "policy_version", r.PolicyVersion)
	dst = appendOptional(dst, "outcome", r.Outcome)
	dst = appendOptional(dst, "action", r.Action)
	dst = appendOptional(dst, "target", r.Target)
	return append(dst, '}')
}

func appendField(dst []byte, key, value string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	dst = append(dst, '"', ':')
	return jsonenc.AppendString(dst, value)
}

func appendOptional(dst []byte, key, value string) []byte {
	if value == "" {
		return dst
	}
	return appendField(dst, key, value)
}

func appendTime(dst []byte, t time.Time) []byte {
	dst = append(dst, '"')
	dst = t.AppendFormat(dst, time.RFC3339Nano)
	return append(dst, '"')
}
