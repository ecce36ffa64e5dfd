package gateway

import "strings"

// STS accepts SourceIdentity and RoleSessionName of 2-64 characters from
// [A-Za-z0-9_+=,.@-]; anything else (a colon included) is refused.
const (
	stsNameMin = 2
	stsNameMax = 64
	// namePrefix marks every name Sentinel gives STS, so CloudTrail shows
	// who brokered the credentials.
	namePrefix = "sentinel"
	// suffixMax keeps a session id whole (32 hex) while leaving room for
	// the caller name.
	suffixMax = 32
	// unknownCaller stands in for an empty caller name.
	unknownCaller = "unknown"
)

// SourceIdentity returns the STS SourceIdentity every AssumeRole of one
// session carries, e.g. "sentinel.alice.<session id>": one handle per
// session at AWS, so a deny on aws:SourceIdentity targets exactly that
// session. The session id is kept whole and the caller name is cut to fit
// 64 characters: the session record holds the full user name.
func SourceIdentity(callerName, sessionID string) string {
	return stsName(callerName, sessionID)
}

// RoleSessionName returns the STS RoleSessionName for a server session, e.g.
// "sentinel.alice.<session id>", cut like SourceIdentity.
func RoleSessionName(callerName, sessionID string) string {
	return stsName(callerName, sessionID)
}

// stsName builds "sentinel.<caller>[.<suffix>]" from sanitized parts that
// always fits STS's rules.
func stsName(caller, suffix string) string {
	suffix = sanitize(suffix, suffixMax)
	budget := stsNameMax - len(namePrefix) - 1
	if suffix != "" {
		budget -= len(suffix) + 1
	}
	caller = sanitize(caller, budget)
	if caller == "" {
		caller = unknownCaller
	}
	var b strings.Builder
	b.Grow(stsNameMax)
	b.WriteString(namePrefix)
	b.WriteByte('.')
	b.WriteString(caller)
	if suffix != "" {
		b.WriteByte('.')
		b.WriteString(suffix)
	}
	return b.String()
}

// sanitize replaces each character STS refuses with '-' and keeps at most
// limit characters. The output is ASCII, so its length in bytes is its
// length in characters.
func sanitize(s string, limit int) string {
	var b strings.Builder
	for _, r := range s {
		if b.Len() >= limit {
			break
		}
		if stsNameChar(r) {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	return b.String()
}

func stsNameChar(r rune) bool {
	switch {
	case 'a' <= r && r <= 'z', 'A' <= r && r <= 'Z', '0' <= r && r <= '9':
		return true
	}
	return strings.ContainsRune("_+=,.@-", r)
}

// validSTSName reports whether s is a name STS accepts.
func validSTSName(s string) bool {
	if len(s) < stsNameMin || len(s) > stsNameMax {
		return false
	}
	for i := range len(s) {
		if !stsNameChar(rune(s[i])) {
			return false
		}
	}
	return true
}
