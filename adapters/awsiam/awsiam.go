// Package awsiam implements ports.InlinePolicies on AWS IAM (aws-sdk-go-v2's
// iam client): the inline deny policies a revoke at AWS writes, and the
// sweep's list and delete. The endpoint is the SDK's own resolution, so
// AWS_ENDPOINT_URL_IAM (or endpoint_url in the profile) points it elsewhere.
// Every call is retried with the SDK's exponential backoff with jitter, on
// throttling, IAM's 5xx and ConcurrentModification.
package awsiam

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/iam"

	"github.com/sentinel-gw/sentinel/ports"
)

// Defaults for the retries.
const (
	DefaultMaxAttempts = 6
	DefaultMaxBackoff  = 5 * time.Second
)

// Options tune the client; zero values take the defaults.
type Options struct {
	// Profile is the shared-config profile whose credentials write the
	// policies (the revoker's); empty means the SDK's default chain.
	Profile     string
	MaxAttempts int
	MaxBackoff  time.Duration
}

// Policies is ports.InlinePolicies on IAM.
type Policies struct {
	client *iam.Client
}

var _ ports.InlinePolicies = (*Policies)(nil)

// Load reads the shared AWS config (opts.Profile) and returns Policies.
func Load(ctx context.Context, opts Options) (*Policies, error) {
	var load []func(*config.LoadOptions) error
	if opts.Profile != "" {
		load = append(load, config.WithSharedConfigProfile(opts.Profile))
	}
	cfg, err := config.LoadDefaultConfig(ctx, load...)
	if err != nil {
		return nil, fmt.Errorf("iam: load the AWS config for the revoker (profile %q): %w", opts.Profile, err)
	}
	return New(cfg, opts), nil
}

// New returns Policies on cfg. IAM is global: a config without a region
// signs for us-east-1, as IAM requires.
func New(cfg aws.Config, opts Options) *Policies {
	if cfg.Region == "" {
		cfg.Region = "us-east-1"
	}
	attempts, backoff := opts.MaxAttempts, opts.MaxBackoff
	if attempts <= 0 {
		attempts = DefaultMaxAttempts
	}
	if backoff <= 0 {
		backoff = DefaultMaxBackoff
	}
	cfg.Retryer = func() aws.Retryer {
		return retry.NewStandard(func(o *retry.StandardOptions) {
			o.MaxAttempts = attempts
			o.MaxBackoff = backoff
			o.Backoff = retry.NewExponentialJitterBackoff(backoff)
			// IAM answers ConcurrentModification (409) when another write to
			// the same entity is in flight: a retry succeeds.
			o.Retryables = append(o.Retryables, retry.RetryableErrorCode{Codes: map[string]struct{}{"ConcurrentModification": {}}})
		})
	}
	return &Policies{client: iam.NewFromConfig(cfg)}
}

// PutRolePolicy writes (or replaces) the role's inline policy.
func (p *Policies) PutRolePolicy(ctx context.Context, role, name, document string) error {
	_, err := p.client.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: &role, PolicyName: &name, PolicyDocument: &document})
	return mapError("put policy "+name+" on role "+role, err)
}

// DeleteRolePolicy deletes the role's inline policy.
func (p *Policies) DeleteRolePolicy(ctx context.Context, role, name string) error {
	_, err := p.client.DeleteRolePolicy(ctx, &iam.DeleteRolePolicyInput{RoleName: &role, PolicyName: &name})
	return mapError("delete policy "+name+" of role "+role, err)
}

// ListRolePolicies lists the role's inline policy names, every page.
func (p *Policies) ListRolePolicies(ctx context.Context, role string) ([]string, error) {
	var names []string
	pages := iam.NewListRolePoliciesPaginator(p.client, &iam.ListRolePoliciesInput{RoleName: &role})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, mapError("list the inline policies of role "+role, err)
		}
		names = append(names, page.PolicyNames...)
	}
	return names, nil
}

// PutUserPolicy writes (or replaces) the user's inline policy.
func (p *Policies) PutUserPolicy(ctx context.Context, user, name, document string) error {
	_, err := p.client.PutUserPolicy(ctx, &iam.PutUserPolicyInput{UserName: &user, PolicyName: &name, PolicyDocument: &document})
	return mapError("put policy "+name+" on user "+user, err)
}

// DeleteUserPolicy deletes the user's inline policy.
func (p *Policies) DeleteUserPolicy(ctx context.Context, user, name string) error {
	_, err := p.client.DeleteUserPolicy(ctx, &iam.DeleteUserPolicyInput{UserName: &user, PolicyName: &name})
	return mapError("delete policy "+name+" of user "+user, err)
}

// ListUserPolicies lists the user's inline policy names, every page.
func (p *Policies) ListUserPolicies(ctx context.Context, user string) ([]string, error) {
	var names []string
	pages := iam.NewListUserPoliciesPaginator(p.client, &iam.ListUserPoliciesInput{UserName: &user})
	for pages.HasMorePages() {
		page, err := pages.NextPage(ctx)
		if err != nil {
			return nil, mapError("list the inline policies of user "+user, err)
		}
		names = append(names, page.PolicyNames...)
	}
	return names, nil
}

// GetRolePolicy returns the role's inline policy document, decoded (IAM
// sends it URL-encoded). The opt-in test against real AWS reads it back.
func (p *Policies) GetRolePolicy(ctx context.Context, role, name string) (string, error) {
	out, err := p.client.GetRolePolicy(ctx, &iam.GetRolePolicyInput{RoleName: &role, PolicyName: &name})
	if err != nil {
		return "", mapError("get policy "+name+" of role "+role, err)
	}
	doc, err := url.QueryUnescape(aws.ToString(out.PolicyDocument))
	if err != nil {
		return "", fmt.Errorf("iam: policy %s of role %s: %w (%w)", name, role, ports.ErrCorrupt, err)
	}
	return doc, nil
}

// RolePermissions are the IAM actions Policies calls on a role, and
// UserPermissions on a user (only for --all-user-sessions); the docs list
// them for the revoker, and a test holds the two together.
var (
	RolePermissions = []string{"iam:PutRolePolicy", "iam:DeleteRolePolicy", "iam:ListRolePolicies", "iam:GetRolePolicy"}
	UserPermissions = []string{"iam:PutUserPolicy", "iam:DeleteUserPolicy", "iam:ListUserPolicies", "iam:GetUserPolicy"}
)

// GetUserPolicy returns the user's inline policy document, decoded.
func (p *Policies) GetUserPolicy(ctx context.Context, user, name string) (string, error) {
	out, err := p.client.GetUserPolicy(ctx, &iam.GetUserPolicyInput{UserName: &user, PolicyName: &name})
	if err != nil {
		return "", mapError("get policy "+name+" of user "+user, err)
	}
	doc, err := url.QueryUnescape(aws.ToString(out.PolicyDocument))
	if err != nil {
		return "", fmt.Errorf("iam: policy %s of user %s: %w (%w)", name, user, ports.ErrCorrupt, err)
	}
	return doc, nil
}
