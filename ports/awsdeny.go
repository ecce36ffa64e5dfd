package ports

import (
	"context"
	"errors"
	"time"
)

// ErrPolicyQuota is IAM's LimitExceeded on an inline policy write: the
// role's (or user's) inline policies are full (10,240 characters for a role,
// 2,048 for a user, whitespace not counted).
var ErrPolicyQuota = errors.New("inline policy quota full")

// InlinePolicies writes, lists and deletes the inline policies a revoke at
// AWS puts on roles and users (IAM's PutRolePolicy and its kin). Names are
// IAM names (a role's or user's name, not its ARN).
//
// Errors, wrapped with context: ErrNotFound when the role, user or policy
// does not exist (IAM's NoSuchEntity); ErrPolicyQuota when the inline
// policies are full; ErrInvalidArgument when IAM refuses the name or
// document; ErrForbidden when the caller may not write the policy;
// ErrUnavailable when IAM cannot answer now (after the adapter's retries).
type InlinePolicies interface {
	PutRolePolicy(ctx context.Context, role, name, document string) error
	DeleteRolePolicy(ctx context.Context, role, name string) error
	ListRolePolicies(ctx context.Context, role string) ([]string, error)
	PutUserPolicy(ctx context.Context, user, name, document string) error
	DeleteUserPolicy(ctx context.Context, user, name string) error
	ListUserPolicies(ctx context.Context, user string) ([]string, error)
}

// DenyScope says whom a deny policy at AWS cuts off.
type DenyScope string

// The scopes of a deny policy.
const (
	// DenySession denies one session's credentials (aws:SourceIdentity and
	// aws:userid), on one role.
	DenySession DenyScope = "session"
	// DenyAllRoleSessions denies every credential of the role issued before
	// the revoke (aws:TokenIssueTime): the --fallback-all-sessions cut-off.
	DenyAllRoleSessions DenyScope = "all-role-sessions"
	// DenyAllUserSessions denies every temporary credential of the IAM user
	// issued before the revoke: --all-user-sessions, for GetSessionToken.
	DenyAllUserSessions DenyScope = "all-user-sessions"
)

// AWSDenial is what a revoke at AWS did on one role or user.
type AWSDenial struct {
	SessionID string `json:"session_id"`
	// RoleARN is set for a role, User for a user-level deny.
	RoleARN string    `json:"role_arn,omitempty"`
	User    string    `json:"user,omitempty"`
	Policy  string    `json:"policy,omitempty"`
	Scope   DenyScope `json:"scope,omitempty"`
	// Until is when the sweep may delete the policy: no credential it
	// targets can still be valid by then.
	Until  time.Time `json:"until,omitzero"`
	Denied bool      `json:"denied"`
	// Error says why it failed and Next what to do; both empty when Denied.
	Error string `json:"error,omitempty"`
	Next  string `json:"next,omitempty"`
}
