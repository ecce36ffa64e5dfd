// Package awsdeny is the revoke that AWS enforces: an inline deny policy on
// every role a revoked session assumed, keyed on what AWS knows the session's
// credentials by (aws:SourceIdentity and aws:userid), so they stop working at
// AWS before their real Expiration; and the sweep that deletes those policies
// once no credential they target can still be valid.
//
// Everything here is pure (it takes now); Apply and Sweep drive a
// ports.InlinePolicies.
package awsdeny

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// NamePrefix starts the name of every policy a revoke at AWS writes; the
// sweep touches no other policy.
const NamePrefix = "SentinelRevoke-"

const (
	// RoleCredentialMax is the longest an AssumeRole credential can live
	// (STS's DurationSeconds ceiling, 43,200 s, whatever the role's
	// MaxSessionDuration): a deny kept this long past the revoke outlives
	// every credential the session was served, whatever cap served it. The
	// session record does not keep the duration STS was asked for, and a cap
	// can change between fills, so the ceiling is the one safe bound.
	RoleCredentialMax = 12 * time.Hour
	// SessionTokenMax is the same ceiling for GetSessionToken (129,600 s).
	SessionTokenMax = 36 * time.Hour
	// ClockMargin covers the difference between this machine's clock and
	// AWS's (credentials issued a little "later" than our now).
	ClockMargin = 5 * time.Minute
)

// iamNameMax is IAM's longest policy name.
const iamNameMax = 128

// Options are the operator's choices for one revoke at AWS.
type Options struct {
	// FallbackAllSessions: when a role's inline policies are full, write the
	// whole-role cut-off (every credential of the role issued before now).
	FallbackAllSessions bool
	// AllUserSessions: for a session that assumed no role (GetSessionToken),
	// deny every temporary credential its IAM user holds, issued before now.
	AllUserSessions bool
}

// Name is the deny policy's name: "SentinelRevoke-<session id>-<unix time
// until which it must stay>". The whole id is kept (32 hex characters fit
// IAM's 128 easily), so two sessions never share a policy.
func Name(sessionID string, until time.Time) string {
	return NamePrefix + sessionID + "-" + strconv.FormatInt(until.Unix(), 10)
}

// ParseName reads a name written by Name. ok is false for any other name
// (another tool's policy, or ours with a damaged time), which the sweep
// leaves alone.
func ParseName(name string) (sessionID string, until time.Time, ok bool) {
	rest, found := strings.CutPrefix(name, NamePrefix)
	if !found || len(name) > iamNameMax {
		return "", time.Time{}, false
	}
	i := strings.LastIndexByte(rest, '-')
	if i <= 0 {
		return "", time.Time{}, false
	}
	sec, err := strconv.ParseInt(rest[i+1:], 10, 64)
	if err != nil || sec <= 0 || rest[i+1] == '+' || !alnum(rest[:i]) {
		return "", time.Time{}, false
	}
	return rest[:i], time.Unix(sec, 0).UTC(), true
}

// alnum reports whether s is all ASCII letters and digits, as session ids are.
func alnum(s string) bool {
	for i := range len(s) {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// Expired returns the names of ours whose time has passed at now, in the
// order given: what the sweep deletes.
func Expired(names []string, now time.Time) []string {
	var out []string
	for _, n := range names {
		if _, until, ok := ParseName(n); ok && !now.Before(until) {
			out = append(out, n)
		}
	}
	return out
}

// statement and document are the IAM policy grammar, in the order IAM prints it.
type statement struct {
	Sid       string                    `json:"Sid"`
	Effect    string                    `json:"Effect"`
	Action    string                    `json:"Action"`
	Resource  string                    `json:"Resource"`
	Condition map[string]map[string]any `json:"Condition"`
}

type document struct {
	Version   string      `json:"Version"`
	Statement []statement `json:"Statement"`
}

func render(sid string, cond map[string]map[string]any) string {
	// Strings, and maps and slices of strings, always marshal.
	b, _ := json.Marshal(document{Version: "2012-10-17", Statement: []statement{{
		Sid: sid, Effect: "Deny", Action: "*", Resource: "*", Condition: cond,
	}}})
	return string(b)
}

// SessionDocument denies everything to the credentials of one session:
// StringEquals aws:SourceIdentity = sourceIdentity, and StringLike
// aws:userid = "<role id>:<role session name>*" for each AssumedRoleId. Both
// conditions must hold, so nothing but that session is touched. With no
// handle at all it is an error, never a deny without conditions.
func SessionDocument(sourceIdentity string, assumedRoleIDs []string) (string, error) {
	cond := map[string]map[string]any{}
	if sourceIdentity != "" {
		cond["StringEquals"] = map[string]any{"aws:SourceIdentity": sourceIdentity}
	}
	var ids []string
	for _, id := range assumedRoleIDs {
		roleID, name, ok := strings.Cut(id, ":")
		// StringLike's wildcards never occur in STS's names; a value that
		// has one is not an AssumedRoleId and would widen the match.
		if !ok || roleID == "" || name == "" || strings.ContainsAny(id, "*?") {
			continue
		}
		ids = append(ids, roleID+":"+name+"*")
	}
	if len(ids) > 0 {
		cond["StringLike"] = map[string]any{"aws:userid": ids}
	}
	if len(cond) == 0 {
		return "", fmt.Errorf("the session has no SourceIdentity and no AssumedRoleId: nothing identifies its credentials at AWS: %w", ports.ErrInvalidArgument)
	}
	return render("SentinelRevokeSession", cond), nil
}

// CutoffDocument denies everything to credentials issued before now
// (DateLessThan aws:TokenIssueTime): what the IAM console's "Revoke active
// sessions" writes. On a role it cuts every session of the role; on a user,
// every temporary credential of the user. Long-term access keys have no
// aws:TokenIssueTime and are not affected.
//
// The time is written to the second, rounded up, so a credential issued
// earlier in the same second as the revoke is cut too.
func CutoffDocument(now time.Time) string {
	cut := now.UTC().Truncate(time.Second)
	if cut.Before(now) {
		cut = cut.Add(time.Second)
	}
	return render("SentinelRevokeIssuedBefore", map[string]map[string]any{
		"DateLessThan": {"aws:TokenIssueTime": cut.Format(time.RFC3339)},
	})
}

// RoleName is the role's name in an IAM role ARN
// (arn:aws:iam::111122223333:role/path/Name).
func RoleName(arn string) (string, error) { return iamName(arn, "role/") }

// UserName is the user's name in an IAM user ARN.
func UserName(arn string) (string, error) { return iamName(arn, "user/") }

func iamName(arn, kind string) (string, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || !strings.HasPrefix(parts[5], kind) {
		return "", fmt.Errorf("%q is not an IAM %s ARN: %w", arn, strings.TrimSuffix(kind, "/"), ports.ErrInvalidArgument)
	}
	name := parts[5][strings.LastIndexByte(parts[5], '/')+1:]
	if name == "" {
		return "", fmt.Errorf("%q names no %s: %w", arn, strings.TrimSuffix(kind, "/"), ports.ErrInvalidArgument)
	}
	return name, nil
}

// Write is one policy a revoke at AWS puts.
type Write struct {
	RoleARN  string // set for a role
	Role     string // the role's name
	User     string // set for a user-level deny
	Policy   string
	Document string
	Scope    ports.DenyScope
	Until    time.Time
}

// ErrNoRole: the session assumed no role, so no role can carry its deny.
var ErrNoRole = errors.New("the session assumed no role at AWS")

// Plan returns the policies a revoke at AWS of s writes at now: one session
// deny per role s assumed; for a session that assumed no role
// (GetSessionToken, or credentials passed through), the user-level cut-off
// when opts.AllUserSessions, else ErrNoRole. The Until of each is the latest
// time a credential it targets can still be valid.
func Plan(s ports.Session, opts Options, now time.Time) ([]Write, error) {
	if len(s.RoleARNs) == 0 {
		if !opts.AllUserSessions {
			return nil, fmt.Errorf("session %s: %w: its credentials came from GetSessionToken or were passed through, and carry no per-session handle AWS can deny by", s.ID, ErrNoRole)
		}
		user, err := sessionUser(s)
		if err != nil {
			return nil, err
		}
		until := now.Add(SessionTokenMax + ClockMargin)
		return []Write{{User: user, Policy: Name(s.ID, until), Document: CutoffDocument(now),
			Scope: ports.DenyAllUserSessions, Until: until}}, nil
	}
	doc, err := SessionDocument(s.SourceIdentity, s.AssumedRoleIDs)
	if err != nil {
		return nil, fmt.Errorf("session %s: %w", s.ID, err)
	}
	until := now.Add(RoleCredentialMax + ClockMargin)
	out := make([]Write, 0, len(s.RoleARNs))
	for _, arn := range s.RoleARNs {
		role, err := RoleName(arn)
		if err != nil {
			return nil, fmt.Errorf("session %s: %w", s.ID, err)
		}
		out = append(out, Write{RoleARN: arn, Role: role, Policy: Name(s.ID, until), Document: doc,
			Scope: ports.DenySession, Until: until})
	}
	return out, nil
}

// sessionUser is the IAM user whose GetSessionToken credentials s was
// served: from the broker's UserARN, or the STS-resolved caller name.
func sessionUser(s ports.Session) (string, error) {
	if s.UserARN != "" {
		return UserName(s.UserARN)
	}
	if s.IdentitySource == "sts" && s.User != "" {
		return s.User, nil
	}
	return "", fmt.Errorf("session %s: its IAM user is not known (the caller was identified as %q by %q, not by STS), so no user-level deny can be written; deny the user in IAM yourself: %w",
		s.ID, s.User, s.IdentitySource, ports.ErrInvalidArgument)
}

// RolesOf returns the role names the sessions assumed, each once, sorted:
// where the sweep looks for policies.
func RolesOf(sessions []ports.Session) []string {
	var out []string
	for _, s := range sessions {
		for _, arn := range s.RoleARNs {
			if name, err := RoleName(arn); err == nil {
				out = append(out, name)
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// UsersOf returns the IAM users whose every session a revoke of one of
// sessions may have denied (AllUserSessions: sessions that assumed no
// role), sorted, each once.
func UsersOf(sessions []ports.Session) []string {
	var out []string
	for _, s := range sessions {
		if len(s.RoleARNs) != 0 {
			continue
		}
		if user, err := sessionUser(s); err == nil {
			out = append(out, user)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
