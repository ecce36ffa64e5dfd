package awscreds

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/sentinel-gw/sentinel/ports"
)

// BrokerSignerConfig says whose credentials sign a team-mode client's
// proofs and for which broker.
type BrokerSignerConfig struct {
	// AWSProfile names the caller's own profile; empty is the SDK's chain.
	AWSProfile string
	// BrokerID is the value signed into X-Sentinel-Broker.
	BrokerID string
	Clock    ports.Clock
	// Getenv reads AWS_ENDPOINT_URL_STS; nil is the process environment.
	Getenv func(string) string
}

// NewBrokerSigner loads the caller's own AWS credentials (as the identity
// resolver does) and returns the signer of their broker proofs. It makes no
// network call: the credentials are fetched when the first proof is made.
func NewBrokerSigner(ctx context.Context, cfg BrokerSignerConfig) (ports.CallerSigner, error) {
	awsCfg, _, err := loadCallerConfig(ctx, cfg.AWSProfile, Options{})
	if err != nil {
		return nil, fmt.Errorf("your AWS credentials prove who you are to the broker: %w", err)
	}
	endpoint, region := STSEndpoint(cfg.Getenv, awsCfg.Region)
	return NewCallerSigner(awsCfg.Credentials, region, endpoint, cfg.BrokerID, cfg.Clock), nil
}

// GlobalSTSEndpoint is where team mode's proofs go by default, on both ends:
// the client signs for its host, and the broker forwards only there. Set
// AWS_ENDPOINT_URL_STS on both ends to use another (a regional endpoint,
// another partition, a test's stand-in).
const GlobalSTSEndpoint = "https://sts.amazonaws.com"

// STSEndpoint is the STS endpoint and signing region of team-mode proofs:
// AWS_ENDPOINT_URL_STS when set (signed for region, or us-east-1), else the
// global endpoint (us-east-1).
func STSEndpoint(getenv func(string) string, region string) (endpoint, signingRegion string) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if e := strings.TrimSuffix(getenv("AWS_ENDPOINT_URL_STS"), "/"); e != "" {
		if region == "" {
			region = "us-east-1"
		}
		return e, region
	}
	return GlobalSTSEndpoint, "us-east-1"
}
