package ports

import (
	"context"
	"time"
)

// Credentials are AWS credentials as served to a caller.
type Credentials struct {
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	// Expires is zero for long-lived credentials passed through unchanged.
	Expires time.Time

	// Origin says where the credentials came from; it is never served.
	Origin CredentialOrigin
}

// CredentialOrigin describes how a source obtained credentials, so the
// gateway can judge their real lifetime and record what AWS knows them by.
type CredentialOrigin struct {
	// PassThrough is set when the source handed on its own credentials
	// unchanged (--no-session, SSO, credential_process, a session token in
	// the file): their lifetime is the source's, not the request's.
	PassThrough bool
	// RoleARN, AssumedRoleID and SourceIdentity are set when the credentials
	// come from STS AssumeRole: the role assumed, the AssumedRoleUser.AssumedRoleId
	// STS answered ("AROA...:<role session name>"), and the SourceIdentity
	// STS received (empty when none was sent).
	RoleARN        string
	AssumedRoleID  string
	SourceIdentity string
}

// CredentialRequest asks a source for credentials for one profile.
type CredentialRequest struct {
	Profile string
	// Duration is the capped lifetime the caller may be served. Sources that
	// cannot issue so short a credential (STS's floor is 900 s) issue longer
	// ones; the server serves an Expiration no later than the cap.
	Duration time.Duration
	// SourceIdentity goes to STS AssumeRole (2-64 chars of [A-Za-z0-9_+=,.@-]);
	// every AssumeRole of one session sends the same one.
	SourceIdentity string
	// RoleSessionName goes to STS AssumeRole; it carries the session id too.
	RoleSessionName string
}

// CredentialProvider turns a profile into credentials (AssumeRole,
// GetSessionToken, or the source credentials passed through).
type CredentialProvider interface {
	// Credentials errors are the source's; they must not contain secrets.
	Credentials(ctx context.Context, req CredentialRequest) (Credentials, error)
}

// Identity is who the caller is, as policy sees it.
type Identity struct {
	// ARN is the caller's full principal ARN; empty for an OS identity.
	ARN string
	// Name is the IAM user name, the session name of an assumed role, or the OS user name.
	Name string
	// Source is "sts" or "os".
	Source string
}

// IdentityResolver finds the caller's identity.
type IdentityResolver interface {
	Identity(ctx context.Context) (Identity, error)
}
