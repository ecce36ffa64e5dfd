package awscreds

import (
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/ec2rolecreds"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"

	"github.com/sentinel-gw/sentinel/ports"
)

// The credential_source values of a role profile (the AWS CLI's and the
// SDKs' names): where the credentials that sign the AssumeRole come from,
// when no source_profile names them. A broker on ECS, EC2 or in a container
// with keys in its environment assumes its target roles this way.
const (
	sourceEnvironment = "Environment"
	sourceECS         = "EcsContainer"
	sourceEC2         = "Ec2InstanceMetadata"
)

// ecsHost is the ECS agent's credential endpoint for AWS_CONTAINER_CREDENTIALS_RELATIVE_URI.
const ecsHost = "http://169.254.170.2"

// credentialSource returns the provider of a role profile's credential_source.
func credentialSource(profile, source string, getenv func(string) string) (aws.CredentialsProvider, error) {
	switch source {
	case sourceEnvironment:
		id, secret := getenv("AWS_ACCESS_KEY_ID"), getenv("AWS_SECRET_ACCESS_KEY")
		if id == "" || secret == "" {
			return nil, reject(ports.ErrInvalidArgument, "profile %q: credential_source = Environment, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not both set", profile)
		}
		return credentials.NewStaticCredentialsProvider(id, secret, getenv("AWS_SESSION_TOKEN")), nil
	case sourceECS:
		endpoint := getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI")
		if rel := getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"); rel != "" {
			endpoint = ecsHost + rel
		}
		if endpoint == "" {
			return nil, reject(ports.ErrInvalidArgument, "profile %q: credential_source = EcsContainer, but neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set (not running in an ECS task with a task role?)", profile)
		}
		tokenFile, token := getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE"), getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN")
		return endpointcreds.New(endpoint, func(o *endpointcreds.Options) {
			if tokenFile != "" {
				o.AuthorizationTokenProvider = endpointcreds.TokenProviderFunc(func() (string, error) {
					b, err := os.ReadFile(tokenFile) // #nosec G304 -- the path is the ECS agent's, from the environment
					if err != nil {
						return "", fmt.Errorf("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE: %w", err)
					}
					return strings.TrimSpace(string(b)), nil
				})
				return
			}
			o.AuthorizationToken = token
		}), nil
	case sourceEC2:
		return ec2rolecreds.New(), nil
	}
	return nil, reject(ports.ErrInvalidArgument, "profile %q: credential_source %q: want Environment, EcsContainer or Ec2InstanceMetadata", profile, source)
}

// knownCredentialSource reports whether source is a credential_source Sentinel reads.
func knownCredentialSource(source string) bool {
	return source == sourceEnvironment || source == sourceECS || source == sourceEC2
}
