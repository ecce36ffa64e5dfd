package awscreds

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sentinel-gw/sentinel/ports"
)

// Identity sources, as stored in ports.Identity.Source.
const (
	IdentitySourceSTS = "sts"
	IdentitySourceOS  = "os"
)

// ParseIdentitySource accepts "sts" or "os".
func ParseIdentitySource(s string) (string, error) {
	switch s {
	case IdentitySourceSTS, IdentitySourceOS:
		return s, nil
	}
	return "", reject(ports.ErrInvalidArgument, "identity source %q: want %q (AWS caller identity) or %q (OS user name)",
		s, IdentitySourceSTS, IdentitySourceOS)
}

// NameFromARN is the policy name of a principal: the IAM user name, the role
// name, or the session name of an assumed role or federated user; "root" for
// the account root. It returns "" for a string that is not an ARN. Characters
// are never stripped or normalised, so a name cannot be made to collide.
func NameFromARN(arn string) string {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return ""
	}
	resource := parts[5]
	if i := strings.LastIndexByte(resource, '/'); i >= 0 {
		return resource[i+1:]
	}
	return resource
}

// stsIdentity answers GetCallerIdentity on the credentials of cfg.
type stsIdentity struct {
	client  *sts.Client
	what    string
	timeout time.Duration
	// region signs the call; empty refuses it with a clear error.
	region  string
	profile string
	// explain may turn an error into a clearer one (an SSO login to run); nil keeps it.
	explain func(error) error
}

func (r *stsIdentity) Identity(ctx context.Context) (ports.Identity, error) {
	if err := needRegion(r.region, r.profile); err != nil {
		return ports.Identity{}, fmt.Errorf("sts GetCallerIdentity%s: %w", r.what, err)
	}
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	out, err := r.client.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		if r.explain != nil {
			if clear := r.explain(err); clear != nil {
				return ports.Identity{}, clear
			}
		}
		return ports.Identity{}, wrapSTS("sts GetCallerIdentity"+r.what, r.timeout, err)
	}
	arn := aws.ToString(out.Arn)
	name := NameFromARN(arn)
	if name == "" {
		return ports.Identity{}, fmt.Errorf("sts GetCallerIdentity%s: answer has no usable Arn %q", r.what, arn)
	}
	return ports.Identity{ARN: arn, Name: name, Source: IdentitySourceSTS}, nil
}

// SourceIdentityResolver finds who the profile's SOURCE credentials belong to
// (for a role profile: the source_profile's principal, not the role).
func (p *Provider) SourceIdentityResolver() ports.IdentityResolver {
	return &stsIdentity{client: p.sts, what: " for profile " + p.profile, timeout: p.timeout, region: p.region, profile: p.profile,
		explain: func(err error) error { return explainSSO(p.profile, p.ssoLogin, err) }}
}

// NewSTSIdentityResolver resolves the Sentinel process's own caller identity
// through the SDK's standard chain (environment, AWS_PROFILE, ...), or through
// awsProfile when it is non-empty. It makes no network call until Identity.
func NewSTSIdentityResolver(ctx context.Context, awsProfile string, opts Options) (ports.IdentityResolver, error) {
	cfg, named, err := loadCallerConfig(ctx, awsProfile, opts)
	if err != nil {
		return nil, err
	}
	what := ""
	if awsProfile != "" {
		what = " for profile " + awsProfile
	}
	return &stsIdentity{client: sts.NewFromConfig(cfg), what: what, timeout: opts.timeout(), region: cfg.Region, profile: named}, nil
}

// loadCallerConfig loads the caller's own AWS config: the SDK's standard
// chain (environment, AWS_PROFILE, ...), or awsProfile when it is non-empty.
// named is the profile it used, if any.
func loadCallerConfig(ctx context.Context, awsProfile string, opts Options) (cfg aws.Config, named string, err error) {
	files := sharedFiles()
	loadOpts := []func(*config.LoadOptions) error{
		config.WithSharedConfigFiles(files.config),
		config.WithSharedCredentialsFiles(files.credentials),
	}
	if awsProfile != "" {
		loadOpts = append(loadOpts, config.WithSharedConfigProfile(awsProfile))
	}
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	if opts.HTTPClient != nil {
		loadOpts = append(loadOpts, config.WithHTTPClient(opts.HTTPClient))
	}
	named = awsProfile
	if named == "" {
		named = os.Getenv("AWS_PROFILE")
	}
	cfg, err = config.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		if named == "" {
			return cfg, "", fmt.Errorf("load AWS config for the caller identity: %w", err)
		}
		return cfg, named, files.explain(named, err)
	}
	return cfg, named, nil
}

type osIdentity struct{}

// NewOSIdentityResolver names the caller by the operating-system user running Sentinel.
func NewOSIdentityResolver() ports.IdentityResolver { return osIdentity{} }

func (osIdentity) Identity(context.Context) (ports.Identity, error) {
	u, err := user.Current()
	if err != nil {
		return ports.Identity{}, fmt.Errorf("os user: %w", err)
	}
	if u.Username == "" {
		return ports.Identity{}, fmt.Errorf("os user: uid %s has no user name", u.Uid)
	}
	return ports.Identity{Name: u.Username, Source: IdentitySourceOS}, nil
}
