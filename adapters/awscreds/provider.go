// Package awscreds turns AWS shared-config profiles into credentials with
// aws-sdk-go-v2: STS AssumeRole for role profiles (with our own
// SourceIdentity, RoleSessionName and DurationSeconds), GetSessionToken for
// static-key profiles, or the source credentials passed through. It also
// resolves caller identities (STS GetCallerIdentity or the OS user).
package awscreds

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/aws-sdk-go-v2/service/sts/types"
	"github.com/aws/smithy-go"

	"github.com/sentinel-gw/sentinel/ports"
)

// DefaultTimeout bounds one STS call when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// STS duration limits.
const (
	MinSTSDuration          = 900 * time.Second
	MaxAssumeRoleDuration   = 12 * time.Hour
	MaxSessionTokenDuration = 36 * time.Hour
)

// Options tune a Provider or an identity resolver.
type Options struct {
	// NoSession passes the source credentials through unchanged (no STS call),
	// for offline use and AWS-compatible endpoints without STS. For a role
	// profile these are its source_profile's credentials: the role is not assumed.
	NoSession bool
	// Region (--region) beats AWS_REGION, AWS_DEFAULT_REGION and the profile's region.
	Region string
	// HTTPClient replaces the SDK's HTTP client (tests).
	HTTPClient *http.Client
	// Timeout bounds each STS call; DefaultTimeout when zero.
	Timeout time.Duration
	// MFAToken is the one-time code for the first MFA session (--mfa-token).
	MFAToken string
	// MFAPrompt asks for later codes when the profile has no mfa_process;
	// TerminalPrompter when nil.
	MFAPrompt MFAPrompter
	// Clock tells when the MFA session expires; ports.SystemClock when nil.
	Clock ports.Clock
}

func (o Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

// Provider issues credentials for one profile. It is safe for concurrent use.
type Provider struct {
	profile    string
	roleARN    string // empty for a plain profile
	externalID string
	// maxDuration is the profile's duration_seconds; zero when unset.
	maxDuration time.Duration
	region      string
	noSession   bool
	timeout     time.Duration
	// source signs STS calls: the profile's own credentials, or its source_profile's.
	source aws.Config
	sts    *sts.Client
	// ssoLogin is the `aws sso login` command for an SSO source; empty otherwise.
	ssoLogin string
	// mfa is the MFA session of a profile with mfa_serial; nil otherwise.
	mfa *mfa
}

var _ ports.CredentialProvider = (*Provider)(nil)

// NewProvider loads and validates profile from the shared config and
// credentials files (AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE honoured).
// It makes no network call. Errors wrap ports.ErrNotFound for an unknown
// profile and ports.ErrInvalidArgument for a profile Sentinel cannot use.
func NewProvider(ctx context.Context, profile string, opts Options) (*Provider, error) {
	if profile == "" {
		return nil, reject(ports.ErrInvalidArgument, "aws profile name is empty: pass --profile")
	}
	files := sharedFiles()
	shared, err := config.LoadSharedConfigProfile(ctx, profile, func(o *config.LoadSharedConfigOptions) {
		o.ConfigFiles = files.config
		o.CredentialsFiles = files.credentials
	})
	if err != nil {
		return nil, files.explain(profile, err)
	}
	if err := checkSupported(shared); err != nil {
		return nil, err
	}
	serial, holder, err := mfaSerialOf(shared)
	if err != nil {
		return nil, err
	}

	p := &Provider{
		profile:    profile,
		roleARN:    shared.RoleARN,
		externalID: shared.ExternalID,
		region:     pickRegion(opts.Region, shared.Region),
		noSession:  opts.NoSession,
		timeout:    opts.timeout(),
		ssoLogin:   ssoLoginCommand(shared),
	}
	if shared.RoleDurationSeconds != nil {
		p.maxDuration = *shared.RoleDurationSeconds
		limit := MaxSessionTokenDuration
		if p.roleARN != "" {
			limit = MaxAssumeRoleDuration
		}
		if p.maxDuration < MinSTSDuration || p.maxDuration > limit {
			return nil, reject(ports.ErrInvalidArgument, "profile %q: duration_seconds %d is outside STS's %d..%d",
				profile, int(p.maxDuration.Seconds()), int(MinSTSDuration.Seconds()), int(limit.Seconds()))
		}
	}

	// For a role profile, load the source_profile, so the SDK resolves only the
	// credentials that sign our own AssumeRole and never assumes the role itself.
	sourceProfile := profile
	loadOpts := []func(*config.LoadOptions) error{
		config.WithRegion(p.region),
		config.WithSharedConfigFiles(files.config),
		config.WithSharedCredentialsFiles(files.credentials),
	}
	switch {
	case p.roleARN != "" && shared.CredentialSource != "":
		// The task role, instance profile or environment keys sign the
		// AssumeRole; no profile is loaded for them.
		src, err := credentialSource(profile, shared.CredentialSource, os.Getenv)
		if err != nil {
			return nil, err
		}
		sourceProfile = ""
		loadOpts = append(loadOpts, config.WithCredentialsProvider(aws.NewCredentialsCache(src)))
	case p.roleARN != "":
		sourceProfile = shared.SourceProfileName
		if sourceProfile == profile {
			// Self-referencing profile: its keys are the source; loading it by
			// name would make the SDK assume the role.
			loadOpts = append(loadOpts, config.WithCredentialsProvider(
				credentials.StaticCredentialsProvider{Value: shared.Source.Credentials}))
		}
	}
	if sourceProfile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(sourceProfile))
	}
	if opts.HTTPClient != nil {
		loadOpts = append(loadOpts, config.WithHTTPClient(opts.HTTPClient))
	}
	cfg, err := config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("profile %q: load source profile %q: %w", profile, sourceProfile, err)
	}
	// An empty region would let the SDK take the source_profile's: the SDKs
	// and the CLI never inherit it, so neither do we.
	cfg.Region = p.region
	p.source = cfg
	p.sts = sts.NewFromConfig(cfg)
	if opts.MFAToken != "" && (serial == "" || p.noSession) {
		return nil, reject(ports.ErrInvalidArgument, "--mfa-token: profile %q asks for no MFA code (no mfa_serial, or --no-session): drop --mfa-token", profile)
	}
	if serial != "" && !p.noSession {
		if p.mfa, err = newMFA(profile, serial, holder, files, opts); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// checkSupported refuses profile shapes Sentinel cannot serve yet, with a message saying why.
func checkSupported(shared config.SharedConfig) error {
	profile := shared.Profile
	if shared.RoleARN != "" {
		switch {
		case shared.WebIdentityTokenFile != "":
			return reject(ports.ErrInvalidArgument, "profile %q: role_arn with web_identity_token_file is not supported yet", profile)
		case shared.CredentialSource != "" && !knownCredentialSource(shared.CredentialSource):
			return reject(ports.ErrInvalidArgument, "profile %q: credential_source %q: want Environment, EcsContainer or Ec2InstanceMetadata", profile, shared.CredentialSource)
		case shared.CredentialSource != "":
			return nil
		case shared.SourceProfileName == "" || shared.Source == nil:
			return reject(ports.ErrInvalidArgument, "profile %q: role_arn needs source_profile naming the profile whose credentials assume the role", profile)
		}
		return nil
	}
	if !hasCredentials(shared) {
		return reject(ports.ErrInvalidArgument, "profile %q has no credentials: add aws_access_key_id/aws_secret_access_key, role_arn with source_profile, sso_session or credential_process",
			profile)
	}
	return nil
}

func hasCredentials(s config.SharedConfig) bool {
	return s.Credentials.HasKeys() || s.CredentialProcess != "" || s.SSOSessionName != "" ||
		s.SSOStartURL != "" || s.SSOAccountID != "" || s.LoginSession != ""
}

// pickRegion resolves the region as aws-sdk-go-v2's LoadDefaultConfig and the
// AWS CLI do: the flag, else AWS_REGION, else AWS_DEFAULT_REGION, else the
// profile's own region key. A source_profile's region and [default]'s are not
// used for a named profile. Empty when none is set.
func pickRegion(flag, profile string) string {
	for _, r := range []string{flag, os.Getenv("AWS_REGION"), os.Getenv("AWS_DEFAULT_REGION"), profile} {
		if r != "" {
			return r
		}
	}
	return ""
}

// Region is the region STS calls are signed for; empty when none is set.
func (p *Provider) Region() string { return p.region }

// needRegion refuses an STS call when no region is known, instead of assuming one.
func needRegion(region, profile string) error {
	if region != "" {
		return nil
	}
	where := "the profile"
	if profile != "" {
		where = "[profile " + profile + "]"
	}
	return reject(ports.ErrInvalidArgument,
		"no AWS region for STS: pass --region, set AWS_REGION, or add region to %s (a source_profile's region and [default]'s do not apply to a named profile)", where)
}

// Credentials issues credentials for the provider's profile. req.Profile must
// be empty or the provider's profile. Errors never contain the secret key or
// session token; an STS error shows its code and message.
func (p *Provider) Credentials(ctx context.Context, req ports.CredentialRequest) (ports.Credentials, error) {
	if req.Profile != "" && req.Profile != p.profile {
		return ports.Credentials{}, reject(ports.ErrInvalidArgument, "credentials for profile %q asked of the provider for %q",
			req.Profile, p.profile)
	}
	if p.mfa != nil {
		return p.withMFA(ctx, req)
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()

	source, err := p.source.Credentials.Retrieve(ctx)
	if err != nil {
		if sso := explainSSO(p.profile, p.ssoLogin, err); sso != nil {
			return ports.Credentials{}, sso
		}
		return ports.Credentials{}, p.wrap("retrieve source credentials", err)
	}
	if p.noSession {
		return passThrough(source), nil
	}
	if p.roleARN != "" || source.SessionToken == "" {
		if err := needRegion(p.region, p.profile); err != nil {
			return ports.Credentials{}, err
		}
	}
	if p.roleARN != "" {
		return p.assumeRole(ctx, p.sts, req)
	}
	if source.SessionToken != "" {
		// Already temporary (SSO, credential_process, a session token in the
		// file): STS refuses GetSessionToken with session credentials.
		return passThrough(source), nil
	}
	return p.getSessionToken(ctx, req)
}

// withMFA serves a profile with mfa_serial: its MFA session itself for a
// plain profile, or an AssumeRole signed with it. The code prompt is not
// bound by the STS timeout; each STS call is.
func (p *Provider) withMFA(ctx context.Context, req ports.CredentialRequest) (ports.Credentials, error) {
	if p.roleARN != "" && req.RoleSessionName == "" {
		return ports.Credentials{}, reject(ports.ErrInvalidArgument, "sts AssumeRole for profile %s: RoleSessionName is empty", p.profile)
	}
	if err := needRegion(p.region, p.profile); err != nil {
		return ports.Credentials{}, err
	}
	seconds := int32(MFASessionDuration / time.Second)
	if p.roleARN == "" {
		// The session is what the caller gets: it lives as long as asked.
		seconds = STSDurationSeconds(req.Duration, p.maxDuration, MaxSessionTokenDuration)
	}
	session, signed, err := p.mfa.credentials(ctx, p.sts, seconds)
	if err != nil {
		return ports.Credentials{}, err
	}
	if p.roleARN == "" {
		return session, nil
	}
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	return p.assumeRole(ctx, signed, req)
}

func (p *Provider) assumeRole(ctx context.Context, client *sts.Client, req ports.CredentialRequest) (ports.Credentials, error) {
	if req.RoleSessionName == "" {
		return ports.Credentials{}, reject(ports.ErrInvalidArgument, "sts AssumeRole for profile %s: RoleSessionName is empty", p.profile)
	}
	in := &sts.AssumeRoleInput{
		RoleArn:         aws.String(p.roleARN),
		RoleSessionName: aws.String(req.RoleSessionName),
		DurationSeconds: aws.Int32(STSDurationSeconds(req.Duration, p.maxDuration, MaxAssumeRoleDuration)),
	}
	if req.SourceIdentity != "" {
		in.SourceIdentity = aws.String(req.SourceIdentity)
	}
	if p.externalID != "" {
		in.ExternalId = aws.String(p.externalID)
	}
	out, err := client.AssumeRole(ctx, in)
	if err != nil {
		return ports.Credentials{}, p.wrap("sts AssumeRole", err)
	}
	if out.Credentials == nil {
		return ports.Credentials{}, fmt.Errorf("sts AssumeRole for profile %s: answer has no Credentials", p.profile)
	}
	if out.AssumedRoleUser == nil || aws.ToString(out.AssumedRoleUser.AssumedRoleId) == "" {
		return ports.Credentials{}, fmt.Errorf("sts AssumeRole for profile %s: answer has no AssumedRoleUser.AssumedRoleId", p.profile)
	}
	creds := fromSTS(out.Credentials)
	creds.Origin = ports.CredentialOrigin{
		RoleARN:        p.roleARN,
		AssumedRoleID:  aws.ToString(out.AssumedRoleUser.AssumedRoleId),
		SourceIdentity: aws.ToString(in.SourceIdentity),
	}
	return creds, nil
}

// fromSTS copies the credentials of an STS answer.
func fromSTS(c *types.Credentials) ports.Credentials {
	return ports.Credentials{
		AccessKeyID:     aws.ToString(c.AccessKeyId),
		SecretAccessKey: aws.ToString(c.SecretAccessKey),
		SessionToken:    aws.ToString(c.SessionToken),
		Expires:         aws.ToTime(c.Expiration),
	}
}

func (p *Provider) getSessionToken(ctx context.Context, req ports.CredentialRequest) (ports.Credentials, error) {
	out, err := p.sts.GetSessionToken(ctx, &sts.GetSessionTokenInput{
		DurationSeconds: aws.Int32(STSDurationSeconds(req.Duration, p.maxDuration, MaxSessionTokenDuration)),
	})
	if err != nil {
		return ports.Credentials{}, p.wrap("sts GetSessionToken", err)
	}
	if out.Credentials == nil {
		return ports.Credentials{}, fmt.Errorf("sts GetSessionToken for profile %s: answer has no Credentials", p.profile)
	}
	return fromSTS(out.Credentials), nil
}

// STSDurationSeconds is the DurationSeconds to request for a caller who may be
// served requested: at least STS's 900 s floor, at most the profile's
// duration_seconds (profileMax, zero when unset) and the operation's ceiling.
// Partial seconds round up so the credentials outlive the caller's cap.
func STSDurationSeconds(requested, profileMax, ceiling time.Duration) int32 {
	d := max(requested, MinSTSDuration)
	if profileMax > 0 {
		d = min(d, profileMax)
	}
	d = min(d, ceiling)
	seconds := int64((d + time.Second - 1) / time.Second)
	if seconds < 0 || seconds > math.MaxInt32 { // only reachable with a ceiling beyond any STS limit
		return math.MaxInt32
	}
	return int32(seconds)
}

// passThrough hands on the source's own credentials, marked as such: their
// lifetime is the source's (none for static keys), not the request's.
func passThrough(c aws.Credentials) ports.Credentials {
	out := ports.Credentials{
		AccessKeyID:     c.AccessKeyID,
		SecretAccessKey: c.SecretAccessKey,
		SessionToken:    c.SessionToken,
		Origin:          ports.CredentialOrigin{PassThrough: true},
	}
	if c.CanExpire {
		out.Expires = c.Expires
	}
	return out
}

func (p *Provider) wrap(what string, err error) error {
	return wrapSTS(what+" for profile "+p.profile, p.timeout, err)
}

// callError prints a short, secret-free line and keeps the SDK error for errors.As.
type callError struct {
	msg string
	err error
}

func (e *callError) Error() string { return e.msg }
func (e *callError) Unwrap() error { return e.err }

// reject prints format without the sentinel's own text, yet errors.Is(err, sentinel) holds.
func reject(sentinel error, format string, args ...any) error {
	return &callError{msg: fmt.Sprintf(format, args...), err: sentinel}
}

// wrapSTS makes an SDK error readable: an STS answer shows its code and
// message, a deadline says how long we waited.
func wrapSTS(what string, timeout time.Duration, err error) error {
	var apiErr smithy.APIError
	switch {
	case errors.As(err, &apiErr):
		return &callError{msg: fmt.Sprintf("%s: %s: %s", what, apiErr.ErrorCode(), apiErr.ErrorMessage()), err: err}
	case errors.Is(err, context.DeadlineExceeded):
		return &callError{msg: fmt.Sprintf("%s: no answer within %s", what, timeout), err: err}
	default:
		return &callError{msg: fmt.Sprintf("%s: %v", what, err), err: err}
	}
}

// files are the shared config and credentials files the SDK reads.
type files struct {
	config      []string
	credentials []string
}

// sharedFiles honours AWS_CONFIG_FILE and AWS_SHARED_CREDENTIALS_FILE the way
// LoadDefaultConfig does; LoadSharedConfigProfile alone would ignore them.
func sharedFiles() files {
	f := files{
		config:      []string{config.DefaultSharedConfigFilename()},
		credentials: []string{config.DefaultSharedCredentialsFilename()},
	}
	if v := os.Getenv("AWS_CONFIG_FILE"); v != "" {
		f.config = []string{v}
	}
	if v := os.Getenv("AWS_SHARED_CREDENTIALS_FILE"); v != "" {
		f.credentials = []string{v}
	}
	return f
}

// explain turns a shared-config load error into a message that says what to fix.
func (f files) explain(profile string, err error) error {
	paths := strings.Join(append(append([]string{}, f.config...), f.credentials...), ", ")
	var roleErr config.SharedConfigAssumeRoleError
	if errors.As(err, &roleErr) {
		return reject(ports.ErrNotFound, "profile %q: source_profile %q not found or has no credentials in AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE (%s)",
			profile, roleErr.Profile, paths)
	}
	var notFound config.SharedConfigProfileNotExistError
	if errors.As(err, &notFound) {
		return reject(ports.ErrNotFound, "profile %q not found in AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE (%s): add it or check --profile",
			profile, paths)
	}
	return fmt.Errorf("profile %q: read AWS_CONFIG_FILE/AWS_SHARED_CREDENTIALS_FILE (%s): %w", profile, paths, err)
}
