package brokerhttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/httpserver"
	"github.com/sentinel-gw/sentinel/ports"
)

// DefaultClientTimeout bounds one call, answer included; above the
// broker's own write timeout so the broker's answer wins.
const DefaultClientTimeout = 65 * time.Second

// idleConnTimeout is how long the client keeps an idle connection.
const idleConnTimeout = 30 * time.Second

// maxAnswerBytes bounds an answer read: a page of listings, not more.
const maxAnswerBytes = 8 << 20

// ClientConfig configures NewClient.
type ClientConfig struct {
	// URL is the broker's base URL: https://HOST[:PORT][/PREFIX]. http:// is
	// accepted only for a loopback host.
	URL string
	// Signer makes the proof sent with every call.
	Signer ports.CallerSigner
	// CAFile, when set, is a PEM file of CA certificates to trust for the
	// broker besides the system roots.
	CAFile string
	// HTTPClient, when set, is used as is (CAFile and Timeout are then ignored).
	HTTPClient *http.Client
	// Timeout bounds each call; zero is DefaultClientTimeout.
	Timeout time.Duration
}

// Client calls the broker: one method per BrokerService operation, each one
// HTTP round trip on a reused connection. Refusals come back as the errors
// the broker's service returned (see rebuild).
type Client struct {
	base   string
	signer ports.CallerSigner
	http   *http.Client
}

// NewClient checks the URL and builds the HTTP client.
func NewClient(cfg ClientConfig) (*Client, error) {
	if cfg.Signer == nil {
		return nil, errors.New("brokerhttp: Signer is required")
	}
	base, err := checkBrokerURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	c := &Client{base: base, signer: cfg.Signer, http: cfg.HTTPClient}
	if c.http == nil {
		pool, err := RootsWith(cfg.CAFile)
		if err != nil {
			return nil, err
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		tr.MaxIdleConnsPerHost = 16
		// Below the broker's idle timeout and a load balancer's usual 60s,
		// so a call never picks a connection the other end is closing.
		tr.IdleConnTimeout = idleConnTimeout
		tr.ForceAttemptHTTP2 = true
		timeout := cfg.Timeout
		if timeout <= 0 {
			timeout = DefaultClientTimeout
		}
		c.http = &http.Client{Transport: tr, Timeout: timeout,
			// A redirect would resend the proof elsewhere: never follow one.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	return c, nil
}

// BrokerID is the id a client signs into X-Sentinel-Broker for the broker
// at raw: its host name, lower case, without the port. A proof made for one
// host is refused by a broker with another id, so a service a user is
// tricked into calling cannot replay it to the real broker. raw must be a
// URL NewClient accepts.
func BrokerID(raw string) (string, error) {
	if _, err := checkBrokerURL(raw); err != nil {
		return "", err
	}
	u, _ := url.Parse(raw) // checked above
	return strings.ToLower(u.Hostname()), nil
}

// checkBrokerURL returns the base URL without a trailing slash.
func checkBrokerURL(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("brokerhttp: broker URL %q: want https://HOST[:PORT]: %w", raw, ports.ErrInvalidArgument)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("brokerhttp: broker URL %q: no user, query or fragment allowed: %w", raw, ports.ErrInvalidArgument)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !isLoopbackName(u.Hostname()) {
			return "", fmt.Errorf("brokerhttp: broker URL %q: plain http:// is allowed only to a loopback host (proofs and credentials would cross the network unencrypted); use https://: %w", raw, ports.ErrInvalidArgument)
		}
	default:
		return "", fmt.Errorf("brokerhttp: broker URL %q: want https://HOST[:PORT]: %w", raw, ports.ErrInvalidArgument)
	}
	return strings.TrimSuffix(u.Scheme+"://"+u.Host+u.EscapedPath(), "/"), nil
}

func isLoopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RootsWith returns the system roots plus the certificates of caFile (nil,
// the system roots, for ""): a --broker-ca as the client and the health
// probe read it. A file with no certificate wraps ports.ErrInvalidArgument.
func RootsWith(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, nil // nil: the system roots.
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("brokerhttp: read --broker-ca: %w", err)
	}
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("brokerhttp: --broker-ca %s holds no PEM certificate: %w", caFile, ports.ErrInvalidArgument)
	}
	return pool, nil
}

// URL is the broker's base URL.
func (c *Client) URL() string { return c.base }

// call POSTs in as JSON to path and decodes the answer into out.
func (c *Client) call(ctx context.Context, path string, in, out any) error {
	return c.callWithID(ctx, path, "", in, out)
}

// callWithID is call sending requestID (when set) as X-Request-Id, so the
// local server's and the broker's log lines of one request meet.
func (c *Client) callWithID(ctx context.Context, path, requestID string, in, out any) error {
	proof, err := c.signer.Proof(ctx)
	if err != nil {
		return fmt.Errorf("brokerhttp: make the proof of identity for the broker: %w", err)
	}
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("brokerhttp: encode %s input: %w", path, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("brokerhttp: %s: %w", path, err)
	}
	req.Header["Content-Type"] = headerJSON
	req.Header["Accept"] = headerJSON
	req.Header["Authorization"] = []string{AuthScheme + " " + proof}
	if requestID != "" {
		req.Header["X-Request-Id"] = []string{requestID}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return fmt.Errorf("brokerhttp: %s: %w", path, ctxErr)
		}
		return fmt.Errorf("brokerhttp: broker %s unreachable: %w: %w", c.base, redactURL(err), ports.ErrUnavailable)
	}
	defer func() { _ = resp.Body.Close() }()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return fmt.Errorf("brokerhttp: read the broker's answer to %s: %w: %w", path, err, ports.ErrUnavailable)
	}
	if len(answer) > maxAnswerBytes {
		return fmt.Errorf("brokerhttp: the broker's answer to %s is over %d bytes", path, maxAnswerBytes)
	}
	if resp.StatusCode != http.StatusOK {
		return c.refusal(resp, answer)
	}
	if err := json.Unmarshal(answer, out); err != nil {
		return fmt.Errorf("brokerhttp: the broker's answer to %s is not valid JSON for it: %w", path, err)
	}
	return nil
}

// refusal rebuilds the broker's error, or describes an answer that is not
// the broker's (a proxy's page).
func (c *Client) refusal(resp *http.Response, answer []byte) error {
	var env errorEnvelope
	if err := json.Unmarshal(answer, &env); err == nil && env.Error.Code != "" {
		return rebuild(resp.StatusCode, env.Error)
	}
	msg := fmt.Sprintf("broker %s answered %s without a broker error (a proxy in between, or not a sentinel broker)", c.base, resp.Status)
	return rebuild(resp.StatusCode, wireError{Code: "HTTP" + strconv.Itoa(resp.StatusCode), Message: msg, RequestID: resp.Header.Get("X-Request-Id")})
}

// redactURL drops the request URL from a transport error (it is our own
// base URL, already in the message).
func redactURL(err error) error {
	if u, ok := errors.AsType[*url.Error](err); ok {
		return u.Err
	}
	return err
}

// WhoAmI returns the identity the broker verified for this caller.
func (c *Client) WhoAmI(ctx context.Context) (ports.Identity, error) {
	var out ports.Identity
	return out, c.call(ctx, PathWhoAmI, Empty{}, &out)
}

// OpenSession starts a server session at the broker.
func (c *Client) OpenSession(ctx context.Context, in ports.OpenSessionInput) (ports.OpenSessionOutput, error) {
	var out ports.OpenSessionOutput
	return out, c.call(ctx, PathOpenSession, in, &out)
}

// Heartbeat renews the lease of the caller's session.
func (c *Client) Heartbeat(ctx context.Context, sessionID string) (ports.Session, error) {
	var out ports.Session
	return out, c.call(ctx, PathHeartbeat, IDInput{ID: sessionID}, &out)
}

// CloseSession ends the caller's session.
func (c *Client) CloseSession(ctx context.Context, sessionID string) error {
	var out Empty
	return c.call(ctx, PathCloseSession, IDInput{ID: sessionID}, &out)
}

// SessionCredentials asks for credentials for one request of the session.
func (c *Client) SessionCredentials(ctx context.Context, in ports.SessionCredentialsInput) (ports.Credentials, error) {
	var out Credentials
	err := c.callWithID(ctx, PathSessionCredentials, in.RequestID, in, &out)
	return out.ports(), err
}

// OneShot asks for one set of credentials outside a server session.
func (c *Client) OneShot(ctx context.Context, in ports.OneShotInput) (ports.Credentials, error) {
	var out Credentials
	err := c.call(ctx, PathOneShot, in, &out)
	return out.ports(), err
}

// ListSessions lists sessions (the caller's own unless an admin).
func (c *Client) ListSessions(ctx context.Context, in ports.ListSessionsInput) (ports.SessionPage, error) {
	var out ports.SessionPage
	return out, c.call(ctx, PathListSessions, in, &out)
}

// ShowSession returns one session (full id or unique prefix).
func (c *Client) ShowSession(ctx context.Context, id string) (ports.Session, error) {
	var out ports.Session
	return out, c.call(ctx, PathShowSession, IDInput{ID: id}, &out)
}

// Revoke revokes sessions.
func (c *Client) Revoke(ctx context.Context, in ports.RevokeInput) (ports.RevokeOutput, error) {
	var out ports.RevokeOutput
	return out, c.call(ctx, PathRevoke, in, &out)
}

// CreateRequest asks for approval.
func (c *Client) CreateRequest(ctx context.Context, in ports.RequestInput) (ports.RequestOutput, error) {
	var out ports.RequestOutput
	return out, c.call(ctx, PathCreateRequest, in, &out)
}

// DecideRequest approves or denies a request.
func (c *Client) DecideRequest(ctx context.Context, in ports.DecideInput) (ports.RequestOutput, error) {
	var out ports.RequestOutput
	return out, c.call(ctx, PathDecideRequest, in, &out)
}

// CancelRequest cancels the caller's pending request.
func (c *Client) CancelRequest(ctx context.Context, id string) (ports.RequestOutput, error) {
	var out ports.RequestOutput
	return out, c.call(ctx, PathCancelRequest, IDInput{ID: id}, &out)
}

// ListRequests lists requests.
func (c *Client) ListRequests(ctx context.Context, in ports.ListRequestsInput) ([]ports.ApprovalRequest, error) {
	var out []ports.ApprovalRequest
	return out, c.call(ctx, PathListRequests, in, &out)
}

// ShowRequest returns one request.
func (c *Client) ShowRequest(ctx context.Context, id string) (ports.ApprovalRequest, error) {
	var out ports.ApprovalRequest
	return out, c.call(ctx, PathShowRequest, IDInput{ID: id}, &out)
}

// OpenBreakGlass invokes emergency access.
func (c *Client) OpenBreakGlass(ctx context.Context, in ports.BreakGlassInput) (ports.BreakGlassOutput, error) {
	var out ports.BreakGlassOutput
	return out, c.call(ctx, PathOpenBreakGlass, in, &out)
}

// CloseBreakGlass closes an event early.
func (c *Client) CloseBreakGlass(ctx context.Context, in ports.CloseBreakGlassInput) (ports.BreakGlassOutput, error) {
	var out ports.BreakGlassOutput
	return out, c.call(ctx, PathCloseBreakGlass, in, &out)
}

// ListBreakGlass lists break-glass events.
func (c *Client) ListBreakGlass(ctx context.Context, in ports.ListBreakGlassInput) ([]ports.BreakGlassEvent, error) {
	var out []ports.BreakGlassEvent
	return out, c.call(ctx, PathListBreakGlass, in, &out)
}

// ShowBreakGlass returns one break-glass event.
func (c *Client) ShowBreakGlass(ctx context.Context, id string) (ports.BreakGlassEvent, error) {
	var out ports.BreakGlassEvent
	return out, c.call(ctx, PathShowBreakGlass, IDInput{ID: id}, &out)
}

// SessionIssuer forwards the local credential server's requests for one
// broker session: each Issue is one SessionCredentials call.
type SessionIssuer struct {
	client    *Client
	sessionID string
	duration  time.Duration
}

var _ httpserver.Issuer = (*SessionIssuer)(nil)

// SessionIssuer returns the issuer for sessionID, for httpserver.Config.Issuer.
// Every request asks for duration (zero: the broker's default), so any
// replica serves what the session asked for.
func (c *Client) SessionIssuer(sessionID string, duration time.Duration) *SessionIssuer {
	return &SessionIssuer{client: c, sessionID: sessionID, duration: duration}
}

// Issue asks the broker for credentials for this request of the session.
func (s *SessionIssuer) Issue(ctx context.Context, requestID string) (ports.Credentials, error) {
	return s.client.SessionCredentials(ctx, ports.SessionCredentialsInput{SessionID: s.sessionID, RequestID: requestID, Duration: s.duration})
}
