package storeurl

import (
	"fmt"
	"strings"
)

// Identity names where a store keeps its records, as a policy's
// session_store names it: the kind and the location, without user names,
// passwords, TLS or tuning options. Two URLs reach the same records when
// their identities are equal:
//
//	bolt:///var/lib/sentinel/sessions.db
//	redis://HOST:PORT/DB?prefix=PREFIX            (rediss:// too)
//	dynamodb://TABLE[?region=REGION][&endpoint=URL] (as given, unescaped)
func (s Spec) Identity() string {
	switch s.Kind {
	case Bolt:
		return "bolt://" + s.Path
	case Redis:
		return fmt.Sprintf("redis://%s/%d?prefix=%s", s.Addr, s.DB, s.Prefix)
	case DynamoDB:
		var params []string
		if s.Region != "" {
			params = append(params, "region="+s.Region)
		}
		if s.Endpoint != "" {
			params = append(params, "endpoint="+s.Endpoint)
		}
		if len(params) == 0 {
			return "dynamodb://" + s.Table
		}
		return "dynamodb://" + s.Table + "?" + strings.Join(params, "&")
	}
	return string(s.Kind)
}

// IdentityOf parses raw and returns its Identity.
func IdentityOf(raw string) (string, error) {
	s, err := Parse(raw)
	if err != nil {
		return "", err
	}
	return s.Identity(), nil
}
