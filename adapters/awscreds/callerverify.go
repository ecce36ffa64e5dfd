package awscreds

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/sentinel-gw/sentinel/internal/sigv4verify"
	"github.com/sentinel-gw/sentinel/ports"
)

// Limits of the verifier.
const (
	// maxProofLen bounds an encoded proof (a session token is up to a few KB).
	maxProofLen = 16 << 10
	// maxSTSAnswer bounds what is read of STS's answer.
	maxSTSAnswer = 64 << 10
	// defaultProofCache is the cache size when VerifierConfig.CacheSize is 0.
	defaultProofCache = 4096
	// defaultSTSTimeout bounds one forwarded call when the config gives no client.
	defaultSTSTimeout = 10 * time.Second
)

// proofHeaders are the only headers a proof may carry (canonical names);
// all but X-Amz-Security-Token are required, in this order.
var (
	requiredProofHeaders = []string{"Authorization", "Host", "X-Amz-Date", ports.BrokerHeader, "Content-Type"}
	proofHeaders         = map[string]bool{"Authorization": true, "Content-Type": true, "Host": true, "X-Amz-Date": true,
		"X-Amz-Security-Token": true, ports.BrokerHeader: true}
)

// VerifierConfig configures a CallerVerifier.
type VerifierConfig struct {
	// BrokerID is this broker's id: a proof's X-Sentinel-Broker must equal it.
	BrokerID string
	// STSEndpoint is where proofs are forwarded (from the broker's own
	// configuration, never from a caller); a proof's signed Host must be its host.
	STSEndpoint string
	// HTTPClient forwards proofs; nil means a client with a 10-second timeout.
	// Redirects are never followed.
	HTTPClient *http.Client
	Clock      ports.Clock
	// CacheSize bounds the verified identities kept (0: 4096).
	CacheSize int
}

// CallerVerifier checks proofs and asks STS who signed them.
type CallerVerifier struct {
	brokerID string
	endpoint *url.URL
	client   *http.Client
	clock    ports.Clock
	max      int

	mu     sync.Mutex
	cache  map[[sha256.Size]byte]cachedCaller // by the whole proof's digest
	flight singleflight.Group                 // checks under way, by digest
}

type cachedCaller struct {
	id      ports.Identity
	expires time.Time
}

var _ ports.CallerRecaller = (*CallerVerifier)(nil)

// NewCallerVerifier checks cfg and returns a verifier.
func NewCallerVerifier(cfg VerifierConfig) (*CallerVerifier, error) {
	if cfg.BrokerID == "" {
		return nil, fmt.Errorf("caller verifier: no broker id: %w", ports.ErrInvalidArgument)
	}
	if cfg.Clock == nil {
		return nil, fmt.Errorf("caller verifier: no clock: %w", ports.ErrInvalidArgument)
	}
	u, err := parseEndpoint(cfg.STSEndpoint)
	if err != nil {
		return nil, fmt.Errorf("caller verifier: %w", err)
	}
	base := cfg.HTTPClient
	if base == nil {
		base = &http.Client{Timeout: defaultSTSTimeout}
	}
	client := *base
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	size := cfg.CacheSize
	if size <= 0 {
		size = defaultProofCache
	}
	return &CallerVerifier{brokerID: cfg.BrokerID, endpoint: u, client: &client, clock: cfg.Clock, max: size,
		cache: map[[sha256.Size]byte]cachedCaller{}}, nil
}

// Verify checks proof and returns the identity STS answers for it. Errors
// wrap ports.ErrUnauthenticated when the proof is refused (by these checks or
// by STS), ports.ErrUnavailable when STS could not be asked.
func (v *CallerVerifier) Verify(ctx context.Context, proof string) (ports.Identity, error) {
	now := v.clock.Now()
	// The same proof, byte for byte, passed every check before, and each
	// still holds until the proof's age runs out (its date only gets older),
	// so a hit skips them.
	var digest [sha256.Size]byte
	if len(proof) <= maxProofLen {
		digest = sha256.Sum256([]byte(proof))
		if id, ok := v.cached(digest, now); ok {
			return id, nil
		}
	}
	headers, date, err := v.check(proof, now) // refuses a proof over maxProofLen
	if err != nil {
		return ports.Identity{}, err
	}
	// One proof sent many times at once (a client's parallel first calls,
	// or a flood of one forged proof) is sent to STS once. The question
	// runs on even if this caller gives up, bounded by the client's
	// timeout, and answers the others. Only the question runs in the
	// flight: a panic there would end the process, not one request.
	ch := v.flight.DoChan(string(digest[:]), func() (any, error) {
		id, err := v.ask(context.WithoutCancel(ctx), headers)
		if err != nil {
			return ports.Identity{}, err
		}
		v.remember(digest, cachedCaller{id: id, expires: date.Add(ports.ProofMaxAge)}, now)
		return id, nil
	})
	select {
	case r := <-ch:
		id, _ := r.Val.(ports.Identity)
		return id, r.Err
	case <-ctx.Done():
		return ports.Identity{}, fmt.Errorf("caller proof: %w: %w", ctx.Err(), ports.ErrUnavailable)
	}
}

// Recall returns the identity verified before for this very proof, while
// the proof is young, without asking STS or checking it again.
func (v *CallerVerifier) Recall(proof string) (ports.Identity, bool) {
	if len(proof) > maxProofLen {
		return ports.Identity{}, false
	}
	return v.cached(sha256.Sum256([]byte(proof)), v.clock.Now())
}

// refuse is a refused proof: what is wrong and what to do.
func refuse(format string, args ...any) error {
	return fmt.Errorf("caller proof: %s: %w", fmt.Sprintf(format, args...), ports.ErrUnauthenticated)
}

// check makes every test a proof must pass before it is forwarded.
func (v *CallerVerifier) check(proof string, now time.Time) (http.Header, time.Time, error) {
	headers, err := DecodeProof(proof)
	if err != nil {
		return nil, time.Time{}, err
	}
	for _, name := range requiredProofHeaders {
		if headers.Get(name) == "" {
			return nil, time.Time{}, refuse("no %s header; sign with the sentinel client", name)
		}
	}
	auth, err := sigv4verify.ParseAuthorization(headers.Values("Authorization"), nil)
	if err != nil {
		return nil, time.Time{}, refuse("%v", err)
	}
	if auth.Service != "sts" {
		return nil, time.Time{}, refuse("signed for service %q; want sts", auth.Service)
	}
	signed := map[string]bool{}
	for _, h := range auth.SignedHeaders {
		signed[h] = true
	}
	for name := range headers {
		lower := strings.ToLower(name)
		if lower != "authorization" && !signed[lower] {
			return nil, time.Time{}, refuse("header %s is not signed; sign every header the proof carries", name)
		}
	}
	for _, h := range auth.SignedHeaders {
		if headers.Get(h) == "" {
			return nil, time.Time{}, refuse("header %s is signed but missing", h)
		}
	}
	if mediaType, _, err := mime.ParseMediaType(headers.Get("Content-Type")); err != nil || mediaType != "application/x-www-form-urlencoded" {
		return nil, time.Time{}, refuse("Content-Type %q; want application/x-www-form-urlencoded", headers.Get("Content-Type"))
	}
	if got := headers.Get(ports.BrokerHeader); subtle.ConstantTimeCompare([]byte(got), []byte(v.brokerID)) != 1 {
		return nil, time.Time{}, refuse("made for broker %q, this is broker %q; sign for this broker's id", got, v.brokerID)
	}
	if host := headers.Get("Host"); !strings.EqualFold(host, v.endpoint.Host) {
		return nil, time.Time{}, refuse("signed for STS host %q, this broker asks %q; set AWS_ENDPOINT_URL_STS or the region to match the broker", host, v.endpoint.Host)
	}
	date, err := time.Parse(sigv4verify.AmzDateFormat, headers.Get("X-Amz-Date"))
	if err != nil {
		return nil, time.Time{}, refuse("X-Amz-Date %q is not in the form %s", headers.Get("X-Amz-Date"), sigv4verify.AmzDateFormat)
	}
	if err := sigv4verify.CheckDate(date, now, ports.ProofMaxAge); err != nil {
		return nil, time.Time{}, refuse("%v; check this machine's clock and sign again", err)
	}
	return headers, date, nil
}

// DecodeProof reads a proof into the headers it carries; every header must be
// one a proof may carry, given once.
func DecodeProof(proof string) (http.Header, error) {
	if proof == "" {
		return nil, refuse("no proof; sign a GetCallerIdentity request for this broker")
	}
	if len(proof) > maxProofLen {
		return nil, refuse("proof of %d bytes is over the %d-byte limit", len(proof), maxProofLen)
	}
	raw, err := base64.RawURLEncoding.DecodeString(proof)
	if err != nil {
		return nil, refuse("not base64url (unpadded)")
	}
	var fields map[string]string
	dec := json.NewDecoder(bytes.NewReader(raw))
	if err := dec.Decode(&fields); err != nil || dec.More() || fields == nil {
		return nil, refuse("not a JSON object of header names to strings")
	}
	// A JSON object may repeat a key; the decoder keeps the last. Count names
	// case-insensitively over the raw object so a repeat is refused.
	if n, err := countKeys(raw); err != nil || n != len(fields) {
		return nil, refuse("a header is given twice")
	}
	headers := http.Header{}
	for name, value := range fields {
		canonical := http.CanonicalHeaderKey(name)
		if !proofHeaders[canonical] {
			return nil, refuse("header %q is not allowed in a proof (allowed: Authorization, Content-Type, Host, X-Amz-Date, X-Amz-Security-Token, %s)", truncateHeader(name), ports.BrokerHeader)
		}
		if headers.Get(canonical) != "" || value == "" {
			return nil, refuse("header %s is given twice or empty", canonical)
		}
		if strings.ContainsAny(value, "\r\n\x00") {
			return nil, refuse("header %s has a control character", canonical)
		}
		headers.Set(canonical, value)
	}
	return headers, nil
}

// countKeys counts the keys of the top-level JSON object in raw.
func countKeys(raw []byte) (int, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // {
		return 0, err
	}
	n := 0
	for dec.More() {
		if _, err := dec.Token(); err != nil { // key
			return 0, err
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return 0, err
		}
		n++
	}
	return n, nil
}

func truncateHeader(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// ask forwards the fixed GetCallerIdentity request with the proof's headers
// to the configured endpoint and reads who STS says signed it.
func (v *CallerVerifier) ask(ctx context.Context, headers http.Header) (ports.Identity, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.endpoint.String(), strings.NewReader(CallerProofBody))
	if err != nil {
		return ports.Identity{}, fmt.Errorf("caller proof: %w: %w", err, ports.ErrUnavailable)
	}
	for name, values := range headers {
		if name == "Host" {
			req.Host = values[0]
			continue
		}
		req.Header[name] = values
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return ports.Identity{}, fmt.Errorf("caller proof: ask STS at %s: %w: %w", v.endpoint.Host, err, ports.ErrUnavailable)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxSTSAnswer+1))
	_ = resp.Body.Close() // everything needed is read
	if err != nil {
		return ports.Identity{}, fmt.Errorf("caller proof: read STS's answer: %w: %w", err, ports.ErrUnavailable)
	}
	if len(body) > maxSTSAnswer {
		return ports.Identity{}, fmt.Errorf("caller proof: STS's answer is over %d bytes: %w", maxSTSAnswer, ports.ErrUnavailable)
	}
	return identityFromSTS(resp.StatusCode, body)
}

// identityFromSTS reads STS's answer to a forwarded proof.
func identityFromSTS(status int, body []byte) (ports.Identity, error) {
	if status != http.StatusOK {
		var e struct {
			Code    string `xml:"Error>Code"`
			Message string `xml:"Error>Message"`
		}
		_ = xml.Unmarshal(body, &e) // a non-XML answer keeps the status alone
		what := fmt.Sprintf("HTTP %d", status)
		if e.Code != "" {
			what = fmt.Sprintf("%s: %s", e.Code, e.Message)
		}
		if status >= 500 || status == http.StatusTooManyRequests || isThrottle(e.Code) {
			return ports.Identity{}, fmt.Errorf("caller proof: STS could not answer (%s): %w", what, ports.ErrUnavailable)
		}
		return ports.Identity{}, fmt.Errorf("caller proof: STS refused it (%s); check the AWS credentials the client signs with: %w", what, ports.ErrUnauthenticated)
	}
	var ok struct {
		XMLName xml.Name `xml:"GetCallerIdentityResponse"`
		Arn     string   `xml:"GetCallerIdentityResult>Arn"`
	}
	if err := xml.Unmarshal(body, &ok); err != nil {
		return ports.Identity{}, fmt.Errorf("caller proof: STS's answer is not a GetCallerIdentityResponse: %w", errors.Join(err, ports.ErrUnavailable))
	}
	name := NameFromARN(ok.Arn)
	if name == "" {
		return ports.Identity{}, fmt.Errorf("caller proof: STS's answer has no usable Arn %q: %w", ok.Arn, ports.ErrUnavailable)
	}
	return ports.Identity{ARN: ok.Arn, Name: name, Source: IdentitySourceSTS}, nil
}

func isThrottle(code string) bool {
	switch code {
	case "Throttling", "ThrottlingException", "RequestLimitExceeded":
		return true
	}
	return false
}

// cached returns the identity verified for this very proof (by its
// digest), while the proof is young.
func (v *CallerVerifier) cached(digest [sha256.Size]byte, now time.Time) (ports.Identity, bool) {
	v.mu.Lock()
	defer v.mu.Unlock()
	c, ok := v.cache[digest]
	if !ok || !now.Before(c.expires) {
		return ports.Identity{}, false
	}
	return c.id, true
}

// remember caches a verified identity; when full it drops expired entries,
// then the one closest to expiry.
func (v *CallerVerifier) remember(digest [sha256.Size]byte, c cachedCaller, now time.Time) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, ok := v.cache[digest]; !ok && len(v.cache) >= v.max {
		var oldest [sha256.Size]byte
		found := false
		for d, e := range v.cache {
			if !now.Before(e.expires) {
				delete(v.cache, d)
				continue
			}
			if !found || e.expires.Before(v.cache[oldest].expires) {
				oldest, found = d, true
			}
		}
		if len(v.cache) >= v.max {
			delete(v.cache, oldest)
		}
	}
	v.cache[digest] = c
}
