// Package signin is a small client for the AWS sign-in federation endpoint:
// it trades temporary role credentials for a SigninToken (getSigninToken) and
// builds the console login URL from it. See the AWS guide "Enable custom
// identity broker access to the AWS console".
//
// The credentials travel in the request's query string, as the endpoint
// requires, so the endpoint must be HTTPS (plain HTTP is accepted only on a
// loopback address, for tests). Errors never contain the secret key, the
// session token or the SigninToken.
package signin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// EndpointEnv names the variable that overrides the federation endpoint's
// base URL, as AWS_ENDPOINT_URL_<SERVICE> does for the SDKs.
const EndpointEnv = "AWS_ENDPOINT_URL_SIGNIN"

// SessionDuration bounds the federation endpoint accepts.
const (
	MinSessionDuration = 900 * time.Second
	MaxSessionDuration = 12 * time.Hour
)

// DefaultTimeout bounds one getSigninToken call when Options.Timeout is zero.
const DefaultTimeout = 10 * time.Second

// maxBody bounds the answer read; a SigninToken is a few hundred bytes.
const maxBody = 64 << 10

// Options configure a Client.
type Options struct {
	// Endpoint is the base URL (scheme and host, optionally a path prefix);
	// empty means the partition's endpoint for Region.
	Endpoint string
	// Region picks the partition (aws, aws-cn, aws-us-gov) of the default
	// endpoint and of the console destination.
	Region string
	// HTTPClient replaces http.DefaultClient (tests).
	HTTPClient *http.Client
	// Timeout bounds each call; DefaultTimeout when zero.
	Timeout time.Duration
}

// Client talks to one federation endpoint.
type Client struct {
	federation string // base + "/federation"
	region     string
	http       *http.Client
	timeout    time.Duration
}

// New checks the endpoint and returns a client.
func New(opts Options) (*Client, error) {
	base := opts.Endpoint
	if base == "" {
		base = "https://" + partitionOf(opts.Region).signin
	}
	u, err := url.Parse(base)
	if err != nil || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("signin endpoint %q: want a base URL such as https://signin.aws.amazon.com: %w", base, ports.ErrInvalidArgument)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopback(u.Hostname()) {
			return nil, fmt.Errorf("signin endpoint %q: plain http is allowed only on a loopback address (the credentials travel in the URL): use https: %w", base, ports.ErrInvalidArgument)
		}
	default:
		return nil, fmt.Errorf("signin endpoint %q: scheme must be https: %w", base, ports.ErrInvalidArgument)
	}
	c := &Client{
		federation: strings.TrimSuffix(u.String(), "/") + "/federation",
		region:     opts.Region,
		http:       opts.HTTPClient,
		timeout:    opts.Timeout,
	}
	if c.http == nil {
		c.http = http.DefaultClient
	}
	if c.timeout <= 0 {
		c.timeout = DefaultTimeout
	}
	return c, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Endpoint is the federation URL the client calls (no query).
func (c *Client) Endpoint() string { return c.federation }

// session is the JSON the Session parameter carries.
type session struct {
	SessionID    string `json:"sessionId"`
	SessionKey   string `json:"sessionKey"`
	SessionToken string `json:"sessionToken"`
}

// SigninToken trades temporary credentials (they must carry a session token:
// role credentials from AssumeRole) for a SigninToken whose console session
// lasts d, which must be whole seconds within MinSessionDuration and
// MaxSessionDuration.
func (c *Client) SigninToken(ctx context.Context, creds ports.Credentials, d time.Duration) (string, error) {
	if err := CheckSessionDuration(d); err != nil {
		return "", err
	}
	if creds.AccessKeyID == "" || creds.SecretAccessKey == "" || creds.SessionToken == "" {
		return "", fmt.Errorf("signin: getSigninToken needs temporary credentials (access key id, secret and session token): %w", ports.ErrInvalidArgument)
	}
	sess, err := json.Marshal(session{creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken})
	if err != nil {
		return "", fmt.Errorf("signin: encode session: %w", err)
	}
	q := url.Values{
		"Action":          {"getSigninToken"},
		"SessionDuration": {strconv.Itoa(int(d / time.Second))},
		"Session":         {string(sess)},
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.federation+"?"+q.Encode(), nil)
	if err != nil {
		return "", fmt.Errorf("signin: build request to %s: %w", c.federation, ports.ErrInvalidArgument)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return "", c.transportError(ctx, err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return "", c.transportError(ctx, err)
	}
	return parseAnswer(c.federation, resp.StatusCode, body)
}

// CheckSessionDuration refuses a console session length the federation
// endpoint would refuse.
func CheckSessionDuration(d time.Duration) error {
	if d%time.Second != 0 || d < MinSessionDuration || d > MaxSessionDuration {
		return fmt.Errorf("signin: console session duration %s must be whole seconds between %s and %s: %w",
			d, MinSessionDuration, MaxSessionDuration, ports.ErrInvalidArgument)
	}
	return nil
}

// transportError reports a failed call without the URL, whose query holds
// the credentials (a *url.Error would print it).
func (c *Client) transportError(ctx context.Context, err error) error {
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("signin: getSigninToken at %s: no answer within %s (check the network, or %s)", c.federation, c.timeout, EndpointEnv)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	return fmt.Errorf("signin: getSigninToken at %s: %w", c.federation, err)
}

// parseAnswer reads the endpoint's answer strictly: 200 with a JSON object
// whose SigninToken is a non-empty string, and nothing after it. A refusal
// is reported by its status only: the body is not echoed.
func parseAnswer(endpoint string, status int, body []byte) (string, error) {
	switch {
	case status == http.StatusBadRequest:
		return "", fmt.Errorf("signin: getSigninToken at %s refused the request (HTTP 400): the credentials are not temporary role credentials, have expired, or the session duration is not allowed for them (role chaining allows at most 1h): %w",
			endpoint, ports.ErrInvalidArgument)
	case status != http.StatusOK:
		return "", fmt.Errorf("signin: getSigninToken at %s answered HTTP %d: retry later", endpoint, status)
	case len(body) > maxBody:
		return "", fmt.Errorf("signin: getSigninToken at %s: answer longer than %d bytes", endpoint, maxBody)
	}
	var answer struct {
		SigninToken *string `json:"SigninToken"`
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	if err := dec.Decode(&answer); err != nil {
		return "", fmt.Errorf("signin: getSigninToken at %s: answer is not a JSON object with SigninToken", endpoint)
	}
	if dec.More() {
		return "", fmt.Errorf("signin: getSigninToken at %s: answer has data after the JSON object", endpoint)
	}
	if answer.SigninToken == nil || *answer.SigninToken == "" {
		return "", fmt.Errorf("signin: getSigninToken at %s: answer has no SigninToken", endpoint)
	}
	return *answer.SigninToken, nil
}

// LoginURL is the console sign-in URL for token: opening it signs the
// browser in and lands on destination. issuer is shown to AWS as where the
// user came from. The URL is a credential until the token is used or expires.
func (c *Client) LoginURL(issuer, destination, token string) string {
	q := url.Values{
		"Action":      {"login"},
		"Issuer":      {issuer},
		"Destination": {destination},
		"SigninToken": {token},
	}
	return c.federation + "?" + q.Encode()
}

// Destination is the console URL for the client's region: path (it must
// start with "/", and stays on the console's host), or the console home
// for the region when path is empty.
func (c *Client) Destination(path string) (string, error) {
	p := partitionOf(c.region)
	host := p.console
	if c.region != "" && p.console == "console.aws.amazon.com" {
		host = c.region + "." + p.console
	}
	if path == "" {
		home := "/console/home"
		if c.region != "" {
			home += "?region=" + url.QueryEscape(c.region)
		}
		return "https://" + host + home, nil
	}
	u, err := url.Parse(path)
	if err != nil || !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") || u.Scheme != "" || u.Host != "" {
		return "", fmt.Errorf("console destination %q: give a path on the console, such as /s3/home or /ec2/home?region=eu-west-1: %w", path, ports.ErrInvalidArgument)
	}
	return "https://" + host + u.String(), nil
}

// partition holds the hosts of one AWS partition.
type partition struct{ signin, console string }

func partitionOf(region string) partition {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return partition{signin: "signin.amazonaws.cn", console: "console.amazonaws.cn"}
	case strings.HasPrefix(region, "us-gov-"):
		return partition{signin: "signin.amazonaws-us-gov.com", console: "console.amazonaws-us-gov.com"}
	default:
		return partition{signin: "signin.aws.amazon.com", console: "console.aws.amazon.com"}
	}
}
