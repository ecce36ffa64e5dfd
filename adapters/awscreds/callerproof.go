package awscreds

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/sentinel-gw/sentinel/internal/sigv4verify"
	"github.com/sentinel-gw/sentinel/ports"
)

// A caller's proof of identity (Vault's aws auth method, iam type): the
// headers of a SigV4-signed sts:GetCallerIdentity request naming the broker
// in the signed X-Sentinel-Broker header, as base64url(JSON object of header
// name -> value). The method (POST), path (/) and body (CallerProofBody) are
// fixed, so they are not sent: the broker always forwards exactly these.

// CallerProofBody is the only request body a proof is signed over.
const CallerProofBody = "Action=GetCallerIdentity&Version=2011-06-15"

// callerProofContentType is the form content type the proof is signed with.
const callerProofContentType = "application/x-www-form-urlencoded; charset=utf-8"

// ProofReuse is how long a signer reuses a proof: under ProofMaxAge, so the
// broker's cache (keyed by the signature) serves most calls.
const ProofReuse = 4 * time.Minute

// CallerSigner makes proofs with the caller's AWS credentials.
type CallerSigner struct {
	creds    aws.CredentialsProvider
	region   string
	endpoint string
	brokerID string
	clock    ports.Clock

	mu       sync.Mutex
	proof    string
	keyID    string
	signedAt time.Time
}

var _ ports.CallerSigner = (*CallerSigner)(nil)

// NewCallerSigner signs proofs for broker brokerID with creds, for the STS
// endpoint stsEndpoint ("" for STSEndpoint(region)) in region.
func NewCallerSigner(creds aws.CredentialsProvider, region, stsEndpoint, brokerID string, clock ports.Clock) *CallerSigner {
	return &CallerSigner{creds: creds, region: region, endpoint: stsEndpoint, brokerID: brokerID, clock: clock}
}

// Proof returns a proof younger than ProofReuse, signing a new one when the
// last is older or the credentials' key changed.
func (s *CallerSigner) Proof(ctx context.Context) (string, error) {
	if s.brokerID == "" {
		return "", fmt.Errorf("sign caller proof: no broker id: %w", ports.ErrInvalidArgument)
	}
	creds, err := s.creds.Retrieve(ctx)
	if err != nil {
		return "", fmt.Errorf("sign caller proof: AWS credentials: %w", err)
	}
	now := s.clock.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.proof != "" && s.keyID == creds.AccessKeyID && now.Sub(s.signedAt) < ProofReuse && !now.Before(s.signedAt) {
		return s.proof, nil
	}
	endpoint := s.endpoint
	if endpoint == "" {
		if endpoint, err = STSEndpoint(ctx, s.region); err != nil {
			return "", fmt.Errorf("sign caller proof: %w", err)
		}
	}
	proof, err := signCallerProof(creds, s.region, endpoint, s.brokerID, now)
	if err != nil {
		return "", err
	}
	s.proof, s.keyID, s.signedAt = proof, creds.AccessKeyID, now
	return proof, nil
}

// signCallerProof signs the fixed GetCallerIdentity request for endpoint at
// now and encodes its headers.
func signCallerProof(creds aws.Credentials, region, endpoint, brokerID string, now time.Time) (string, error) {
	if region == "" {
		return "", fmt.Errorf("sign caller proof: no AWS region; set AWS_REGION or the profile's region: %w", ports.ErrInvalidArgument)
	}
	u, err := parseEndpoint(endpoint)
	if err != nil {
		return "", fmt.Errorf("sign caller proof: %w", err)
	}
	// No body: the payload hash is given, and Content-Length stays unsigned.
	r, err := http.NewRequestWithContext(context.Background(), http.MethodPost, u.String(), nil)
	if err != nil {
		return "", fmt.Errorf("sign caller proof: %w", err)
	}
	r.Header.Set("Content-Type", callerProofContentType)
	r.Header.Set(ports.BrokerHeader, brokerID)
	if err := sigv4verify.Sign(r, []byte(CallerProofBody), creds, "sts", region, now); err != nil {
		return "", fmt.Errorf("sign caller proof: %w", err)
	}
	host := r.Host
	if host == "" {
		host = r.URL.Host
	}
	headers := map[string]string{"Host": host}
	for name := range r.Header {
		headers[name] = r.Header.Get(name)
	}
	return encodeProof(headers)
}

func encodeProof(headers map[string]string) (string, error) {
	b, err := json.Marshal(headers)
	if err != nil {
		return "", fmt.Errorf("encode caller proof: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// STSEndpoint is the STS endpoint a proof is signed for and the broker
// forwards to: AWS_ENDPOINT_URL_STS when set, else region's regional endpoint.
func STSEndpoint(ctx context.Context, region string) (string, error) {
	if v := os.Getenv("AWS_ENDPOINT_URL_STS"); v != "" {
		return v, nil
	}
	if region == "" {
		return "", fmt.Errorf("no AWS region for the STS endpoint; set AWS_REGION or AWS_ENDPOINT_URL_STS: %w", ports.ErrInvalidArgument)
	}
	ep, err := sts.NewDefaultEndpointResolverV2().ResolveEndpoint(ctx, sts.EndpointParameters{Region: aws.String(region)})
	if err != nil {
		return "", fmt.Errorf("STS endpoint for region %q: %w", region, err)
	}
	return ep.URI.String(), nil
}

// parseEndpoint accepts an http(s) URL with a host and no path beyond "/",
// and drops the scheme's default port.
func parseEndpoint(endpoint string) (*url.URL, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil ||
		strings.Trim(u.Path, "/") != "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("STS endpoint %q: want https://HOST[:PORT] with no path or query: %w", endpoint, ports.ErrInvalidArgument)
	}
	host := u.Host
	if (u.Scheme == "https" && u.Port() == "443") || (u.Scheme == "http" && u.Port() == "80") {
		host = u.Hostname() // SigV4 signs the host without its default port
	}
	return &url.URL{Scheme: u.Scheme, Host: host, Path: "/"}, nil
}
