package awscreds

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/sentinel-gw/sentinel/internal/fakests"
	"github.com/sentinel-gw/sentinel/ports"
)

const (
	proofKeyID  = "AKIAPROOFALICE000001"
	proofSecret = "proof/alice/secret"
	proofARN    = "arn:aws:iam::111122223333:user/alice"
	brokerA     = "broker-a"
)

type proofRig struct {
	sts      *fakests.Server
	clock    *ports.FakeClock
	verifier *CallerVerifier
}

// newProofRig starts a strict local STS that knows alice and a verifier for
// broker-a forwarding to it. The clock starts at the wall clock, which the
// local STS checks signing dates against.
func newProofRig(t *testing.T, cacheSize int) *proofRig {
	t.Helper()
	fake := fakests.New(t, fakests.WithUser(proofKeyID, proofSecret, proofARN))
	clock := ports.NewFakeClock(time.Now())
	v, err := NewCallerVerifier(VerifierConfig{BrokerID: brokerA, STSEndpoint: fake.URL(), Clock: clock, CacheSize: cacheSize})
	if err != nil {
		t.Fatal(err)
	}
	return &proofRig{sts: fake, clock: clock, verifier: v}
}

func (r *proofRig) signer(brokerID string, c fakests.Credentials) *CallerSigner {
	return NewCallerSigner(credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken),
		"us-east-1", r.sts.URL(), brokerID, r.clock)
}

var alice = fakests.Credentials{AccessKeyID: proofKeyID, SecretAccessKey: proofSecret}

func TestCallerProofRoundTrip(t *testing.T) {
	r := newProofRig(t, 0)
	for name, creds := range map[string]fakests.Credentials{
		"long-term key": alice,
		// Issued by the local STS to the example key's user, so they name that user.
		"temporary credentials": r.sts.GetSessionToken(t),
	} {
		t.Run(name, func(t *testing.T) {
			proof, err := r.signer(brokerA, creds).Proof(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			id, err := r.verifier.Verify(context.Background(), proof)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			want := proofARN
			if creds.SessionToken != "" {
				want = "arn:aws:iam::" + fakests.DefaultAccount + ":user/" + fakests.ExampleKeyID
			}
			if id.ARN != want || id.Name != NameFromARN(want) || id.Source != IdentitySourceSTS {
				t.Fatalf("identity = %+v, want %s from sts", id, want)
			}
			calls := r.sts.Calls()
			last := calls[len(calls)-1]
			if last.Action != "GetCallerIdentity" || last.ErrorCode != "" || last.AccessKeyID != creds.AccessKeyID ||
				last.HasSessionToken != (creds.SessionToken != "") || len(last.Params) != 2 {
				t.Fatalf("STS saw %+v", last)
			}
		})
	}
}

// craft signs a GetCallerIdentity-like request by hand and encodes the
// headers as a proof; edit changes the request before signing, after
// changes the header map after signing.
// rewrite returns proof with its JSON document changed by edit.
func rewrite(t *testing.T, proof string, edit func(doc []byte) []byte) string {
	t.Helper()
	doc, err := base64.RawURLEncoding.DecodeString(proof)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(edit(doc))
}

func craft(t *testing.T, r *proofRig, c fakests.Credentials, at time.Time, edit func(req *http.Request, body *string), after func(h map[string]string)) string {
	t.Helper()
	body := CallerProofBody
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, r.sts.URL()+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", callerProofContentType)
	req.Header.Set(ports.BrokerHeader, brokerA)
	if edit != nil {
		edit(req, &body)
	}
	if err := fakests.Sign(req, []byte(body), c, "us-east-1", at); err != nil {
		t.Fatal(err)
	}
	h := map[string]string{"Host": req.URL.Host}
	if req.Host != "" {
		h["Host"] = req.Host
	}
	for name := range req.Header {
		h[name] = req.Header.Get(name)
	}
	if after != nil {
		after(h)
	}
	proof, err := encodeProof(h)
	if err != nil {
		t.Fatal(err)
	}
	return proof
}

func TestCallerProofRefusals(t *testing.T) {
	tests := []struct {
		name  string
		proof func(t *testing.T, r *proofRig) string
		// want is ErrUnauthenticated or ErrUnavailable; about is in the message.
		want  error
		about string
		// stsCode is the error STS answered, "" when the proof must be refused
		// before it is forwarded.
		stsCode string
	}{
		{name: "empty", want: ports.ErrUnauthenticated, about: "no proof",
			proof: func(*testing.T, *proofRig) string { return "" }},
		{name: "not base64url", want: ports.ErrUnauthenticated, about: "base64url",
			proof: func(*testing.T, *proofRig) string { return "a+b/c=" }},
		{name: "not a JSON object", want: ports.ErrUnauthenticated, about: "JSON object",
			proof: func(*testing.T, *proofRig) string { return "WzFd" }}, // [1]
		{name: "unsigned", want: ports.ErrUnauthenticated, about: "no Authorization header",
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), nil, func(h map[string]string) { delete(h, "Authorization") })
			}},
		{name: "wrong secret", want: ports.ErrUnauthenticated, about: "SignatureDoesNotMatch", stsCode: "SignatureDoesNotMatch",
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, fakests.Credentials{AccessKeyID: proofKeyID, SecretAccessKey: "guess"}, r.clock.Now(), nil, nil)
			}},
		{name: "unknown key", want: ports.ErrUnauthenticated, about: "InvalidClientTokenId", stsCode: "InvalidClientTokenId",
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, fakests.Credentials{AccessKeyID: "AKIANOBODY0000000000", SecretAccessKey: "x"}, r.clock.Now(), nil, nil)
			}},
		{name: "stale date", want: ports.ErrUnauthenticated, about: "Signature expired",
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now().Add(-ports.ProofMaxAge-time.Second), nil, nil)
			}},
		{name: "future date", want: ports.ErrUnauthenticated, about: "not yet current",
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now().Add(ports.ProofMaxAge+time.Second), nil, nil)
			}},
		{name: "missing broker header", want: ports.ErrUnauthenticated, about: "no X-Sentinel-Broker header",
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), func(req *http.Request, _ *string) { req.Header.Del(ports.BrokerHeader) }, nil)
			}},
		{name: "different broker id", want: ports.ErrUnauthenticated, about: `made for broker "broker-b"`,
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), func(req *http.Request, _ *string) { req.Header.Set(ports.BrokerHeader, "broker-b") }, nil)
			}},
		{name: "broker header unsigned", want: ports.ErrUnauthenticated, about: "X-Sentinel-Broker is not signed",
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), func(req *http.Request, _ *string) { req.Header.Del(ports.BrokerHeader) },
					func(h map[string]string) { h[ports.BrokerHeader] = brokerA })
			}},
		{name: "broker header changed after signing", want: ports.ErrUnauthenticated, about: "SignatureDoesNotMatch", stsCode: "SignatureDoesNotMatch",
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), func(req *http.Request, _ *string) { req.Header.Set(ports.BrokerHeader, "broker-b") },
					func(h map[string]string) { h[ports.BrokerHeader] = brokerA })
			}},
		{name: "other Host", want: ports.ErrUnauthenticated, about: `signed for STS host "sts.amazonaws.com"`,
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), func(req *http.Request, _ *string) { req.Host = "sts.amazonaws.com" }, nil)
			}},
		{name: "extra signed header", want: ports.ErrUnauthenticated, about: `"X-Forwarded-For" is not allowed`,
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), func(req *http.Request, _ *string) { req.Header.Set("X-Forwarded-For", "10.0.0.1") }, nil)
			}},
		{name: "extra unsigned header", want: ports.ErrUnauthenticated, about: `"User-Agent" is not allowed`,
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), nil, func(h map[string]string) { h["User-Agent"] = "x" })
			}},
		{name: "header given twice in different case", want: ports.ErrUnauthenticated, about: "twice",
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), nil, func(h map[string]string) { h["x-sentinel-broker"] = brokerA })
			}},
		{name: "signed for another service", want: ports.ErrUnauthenticated, about: `service "iam"`,
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), nil, func(h map[string]string) {
					h["Authorization"] = strings.Replace(h["Authorization"], "/sts/", "/iam/", 1)
				})
			}},
		{name: "not a form content type", want: ports.ErrUnauthenticated, about: "Content-Type",
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), func(req *http.Request, _ *string) { req.Header.Set("Content-Type", "application/json") }, nil)
			}},
		{name: "wrong method", want: ports.ErrUnauthenticated, about: "SignatureDoesNotMatch", stsCode: "SignatureDoesNotMatch",
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), func(req *http.Request, _ *string) { req.Method = http.MethodGet }, nil)
			}},
		{name: "other action", want: ports.ErrUnauthenticated, about: "SignatureDoesNotMatch", stsCode: "SignatureDoesNotMatch",
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), func(_ *http.Request, body *string) {
					*body = "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A111122223333%3Arole%2FAdmin&RoleSessionName=x&Version=2011-06-15"
				}, nil)
			}},
		{name: "extra parameter", want: ports.ErrUnauthenticated, about: "SignatureDoesNotMatch", stsCode: "SignatureDoesNotMatch",
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), func(_ *http.Request, body *string) { *body += "&DurationSeconds=900" }, nil)
			}},
		{name: "header given twice in the same spelling", want: ports.ErrUnauthenticated, about: "twice",
			proof: func(t *testing.T, r *proofRig) string {
				// The decoder keeps the last value, the valid one; the repeat alone must refuse it.
				return rewrite(t, craft(t, r, alice, r.clock.Now(), nil, nil), func(doc []byte) []byte {
					return append([]byte(`{"`+ports.BrokerHeader+`":"broker-z",`), doc[1:]...)
				})
			}},
		{name: "data after the object", want: ports.ErrUnauthenticated, about: "JSON object",
			proof: func(t *testing.T, r *proofRig) string {
				return rewrite(t, craft(t, r, alice, r.clock.Now(), nil, nil), func(doc []byte) []byte { return append(doc, []byte(`{}`)...) })
			}},
		{name: "over the size limit", want: ports.ErrUnauthenticated, about: "limit",
			proof: func(*testing.T, *proofRig) string { return strings.Repeat("A", maxProofLen+1) }},
		{name: "garbled Authorization", want: ports.ErrUnauthenticated, about: "caller proof",
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), nil, func(h map[string]string) { h["Authorization"] = "AWS4-HMAC-SHA256 garbage" })
			}},
		{name: "signed header missing", want: ports.ErrUnauthenticated, about: "signed but missing",
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), nil, func(h map[string]string) {
					h["Authorization"] = strings.Replace(h["Authorization"], "x-amz-date;", "x-amz-date;x-amz-security-token;", 1)
				})
			}},
		{name: "date not in the signing form", want: ports.ErrUnauthenticated, about: "X-Amz-Date",
			proof: func(t *testing.T, r *proofRig) string {
				return craft(t, r, alice, r.clock.Now(), nil, func(h map[string]string) { h["X-Amz-Date"] = "yesterday" })
			}},
		{name: "replay to another broker", want: ports.ErrUnauthenticated, about: `made for broker "broker-z"`,
			proof: func(t *testing.T, r *proofRig) string {
				p, err := r.signer("broker-z", alice).Proof(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				return p
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newProofRig(t, 0)
			_, err := r.verifier.Verify(context.Background(), tt.proof(t, r))
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.about) {
				t.Fatalf("Verify error = %v, want %v about %q", err, tt.want, tt.about)
			}
			calls := r.sts.Calls()
			if tt.stsCode == "" {
				if len(calls) != 0 {
					t.Fatalf("a refused proof was forwarded: %+v", calls)
				}
				return
			}
			if len(calls) != 1 || calls[0].ErrorCode != tt.stsCode {
				t.Fatalf("STS calls %+v, want one answered %s", calls, tt.stsCode)
			}
		})
	}
}

func TestCallerProofSTSUnavailable(t *testing.T) {
	r := newProofRig(t, 0)
	proof, err := r.signer(brokerA, alice).Proof(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	r.sts.SetFailure("", &fakests.Failure{Status: 503, Code: "ServiceUnavailable", Message: "down"})
	if _, err := r.verifier.Verify(context.Background(), proof); !errors.Is(err, ports.ErrUnavailable) || errors.Is(err, ports.ErrUnauthenticated) {
		t.Fatalf("STS 503: %v, want ErrUnavailable only", err)
	}
	r.sts.SetFailure("", &fakests.Failure{Status: 400, Code: "Throttling", Message: "Rate exceeded"})
	if _, err := r.verifier.Verify(context.Background(), proof); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("STS throttling: %v, want ErrUnavailable", err)
	}
	r.sts.SetFailure("", nil)
	if _, err := r.verifier.Verify(context.Background(), proof); err != nil {
		t.Fatalf("after STS recovered: %v", err)
	}

	// Nothing listening at the configured endpoint.
	v, err := NewCallerVerifier(VerifierConfig{BrokerID: brokerA, STSEndpoint: "http://127.0.0.1:1", Clock: r.clock})
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewCallerSigner(credentials.NewStaticCredentialsProvider(proofKeyID, proofSecret, ""), "us-east-1", "http://127.0.0.1:1", brokerA, r.clock).Proof(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(context.Background(), p); !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("no STS: %v, want ErrUnavailable", err)
	}
}

func TestIdentityFromSTSAnswers(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		want   error
		arn    string
	}{
		{"identity", 200, `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:sts::1:assumed-role/R/bob</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>`, nil, "arn:aws:sts::1:assumed-role/R/bob"},
		{"no Arn", 200, `<GetCallerIdentityResponse></GetCallerIdentityResponse>`, ports.ErrUnavailable, ""},
		{"other document", 200, `<AssumeRoleResponse/>`, ports.ErrUnavailable, ""},
		{"not XML", 200, `{}`, ports.ErrUnavailable, ""},
		{"refused", 403, `<ErrorResponse><Error><Code>ExpiredToken</Code><Message>The security token included in the request is expired</Message></Error></ErrorResponse>`, ports.ErrUnauthenticated, ""},
		{"refused without a body", 403, ``, ports.ErrUnauthenticated, ""},
		{"server error", 500, ``, ports.ErrUnavailable, ""},
		{"too many requests", 429, ``, ports.ErrUnavailable, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := identityFromSTS(tt.status, []byte(tt.body))
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) || id.ARN != tt.arn {
				t.Fatalf("identityFromSTS = %+v, %v; want %q, %v", id, err, tt.arn, tt.want)
			}
			if errors.Is(tt.want, ports.ErrUnavailable) && errors.Is(err, ports.ErrUnauthenticated) {
				t.Fatalf("%v is both unavailable and unauthenticated", err)
			}
		})
	}
}

func TestCallerProofCache(t *testing.T) {
	r := newProofRig(t, 2)
	signer := r.signer(brokerA, alice)
	proof, err := signer.Proof(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if id, ok := r.verifier.Recall(proof); ok {
		t.Fatalf("a proof never verified was recalled as %v", id)
	}
	for range 3 {
		if _, err := r.verifier.Verify(context.Background(), proof); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(r.sts.Calls()); n != 1 {
		t.Fatalf("three verifications of one proof made %d STS calls, want 1", n)
	}
	if id, ok := r.verifier.Recall(proof); !ok || id.ARN != proofARN {
		t.Fatalf("a verified proof recalled as %v, %v; want %s", id, ok, proofARN)
	}

	// The signer reuses its proof while it is young, so the cache serves it.
	r.clock.Advance(ProofReuse - time.Second)
	again, err := signer.Proof(context.Background())
	if err != nil || again != proof {
		t.Fatalf("a proof younger than %s was not reused: %v", ProofReuse, err)
	}
	r.clock.Advance(time.Second)
	fresh, err := signer.Proof(context.Background())
	if err != nil || fresh == proof {
		t.Fatalf("a proof %s old was reused: %v", ProofReuse, err)
	}

	// A proof with the cached signature but other headers is not a hit.
	headers, err := DecodeProof(proof)
	if err != nil {
		t.Fatal(err)
	}
	h := map[string]string{}
	for name := range headers {
		h[name] = headers.Get(name)
	}
	h["Content-Type"] = "application/x-www-form-urlencoded"
	tampered, err := encodeProof(h)
	if err != nil {
		t.Fatal(err)
	}
	before := len(r.sts.Calls())
	if _, err := r.verifier.Verify(context.Background(), tampered); !errors.Is(err, ports.ErrUnauthenticated) {
		t.Fatalf("a tampered proof with a cached signature: %v, want refused by STS", err)
	}
	if len(r.sts.Calls()) != before+1 {
		t.Fatal("a tampered proof with a cached signature was served from the cache")
	}
	if _, ok := r.verifier.Recall(tampered); ok {
		t.Fatal("a tampered proof with a cached signature was recalled")
	}

	// The cache is bounded: two more proofs evict the first.
	for _, at := range []time.Duration{-time.Minute, -2 * time.Minute} {
		p := craft(t, r, alice, r.clock.Now().Add(at), nil, nil)
		if _, err := r.verifier.Verify(context.Background(), p); err != nil {
			t.Fatal(err)
		}
	}
	before = len(r.sts.Calls())
	if _, err := r.verifier.Verify(context.Background(), proof); err != nil {
		t.Fatal(err)
	}
	if len(r.sts.Calls()) != before+1 {
		t.Fatal("the cache kept more than its size")
	}

	// A cached identity ends with its proof.
	r.clock.Advance(ports.ProofMaxAge)
	if _, ok := r.verifier.Recall(proof); ok {
		t.Fatalf("a proof older than %s was recalled", ports.ProofMaxAge)
	}
	if _, err := r.verifier.Verify(context.Background(), proof); !errors.Is(err, ports.ErrUnauthenticated) {
		t.Fatalf("a proof older than %s: %v, want refused", ports.ProofMaxAge, err)
	}
}

// heldTransport holds every request until gate closes (or the request's
// context ends), counting arrivals.
type heldTransport struct {
	gate    chan struct{}
	arrived atomic.Int64
}

func (h *heldTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	h.arrived.Add(1)
	select {
	case <-h.gate:
	case <-req.Context().Done():
		return nil, req.Context().Err()
	}
	return http.DefaultTransport.RoundTrip(req)
}

// TestCallerProofCheckedOnceAtOnce: one proof verified by many callers at
// once (a client's parallel first calls, or a flood of one forged proof)
// reaches STS once; a caller that gives up meanwhile is answered at once,
// and the others still get the identity.
func TestCallerProofCheckedOnceAtOnce(t *testing.T) {
	r := newProofRig(t, 0)
	held := &heldTransport{gate: make(chan struct{})}
	v, err := NewCallerVerifier(VerifierConfig{BrokerID: brokerA, STSEndpoint: r.sts.URL(), Clock: r.clock,
		HTTPClient: &http.Client{Transport: held, Timeout: 10 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	proof, err := r.signer(brokerA, alice).Proof(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	const callers = 16
	var started, done sync.WaitGroup
	release := sync.OnceFunc(func() { close(held.gate) })
	t.Cleanup(func() { release(); done.Wait() }) // a failure below must not leave callers held
	ids := make(chan ports.Identity, callers)
	errs := make(chan error, callers)
	for range callers {
		started.Add(1)
		done.Go(func() {
			started.Done()
			id, err := v.Verify(context.Background(), proof)
			ids <- id
			errs <- err
		})
	}
	started.Wait()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := v.Verify(ctx, proof); !errors.Is(err, ports.ErrUnavailable) || !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller that gave up: %v, want its context's end as ErrUnavailable", err)
	}
	time.Sleep(50 * time.Millisecond) // let every caller reach STS, if it would
	if n := held.arrived.Load(); n != 1 {
		t.Fatalf("%d forwards to STS for one proof verified %d times at once, want 1", n, callers)
	}
	release()
	done.Wait()
	close(ids)
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for id := range ids {
		if id.ARN != proofARN {
			t.Fatalf("identity %+v, want %s", id, proofARN)
		}
	}
	if n := len(r.sts.Calls()); n != 1 {
		t.Fatalf("STS saw %d calls, want 1", n)
	}
}

// TestCallerProofRedirectNotFollowed: an STS endpoint that answers with a
// redirect is refused as an answer; the proof is never sent on to where it
// points, which would then answer for it.
func TestCallerProofRedirectNotFollowed(t *testing.T) {
	var elsewhere atomic.Int64
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		elsewhere.Add(1)
		_, _ = io.WriteString(w, `<GetCallerIdentityResponse><GetCallerIdentityResult><Arn>arn:aws:iam::111122223333:user/mallory</Arn></GetCallerIdentityResult></GetCallerIdentityResponse>`)
	}))
	t.Cleanup(target.Close)
	for _, status := range []int{http.StatusMovedPermanently, http.StatusTemporaryRedirect, http.StatusPermanentRedirect} {
		redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, target.URL+"/", status)
		}))
		clock := ports.NewFakeClock(time.Now())
		v, err := NewCallerVerifier(VerifierConfig{BrokerID: brokerA, STSEndpoint: redirect.URL, Clock: clock})
		if err != nil {
			t.Fatal(err)
		}
		proof, err := NewCallerSigner(credentials.NewStaticCredentialsProvider(alice.AccessKeyID, alice.SecretAccessKey, ""),
			"us-east-1", redirect.URL, brokerA, clock).Proof(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		id, err := v.Verify(context.Background(), proof)
		redirect.Close()
		if err == nil || id.ARN != "" {
			t.Fatalf("HTTP %d from STS: identity %+v, %v; want a refusal", status, id, err)
		}
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the proof was sent on to a redirect's target %d times", n)
	}
}

func TestCallerSignerAndVerifierConfig(t *testing.T) {
	isolate(t)
	clock := ports.NewFakeClock(time.Now())
	creds := credentials.NewStaticCredentialsProvider(proofKeyID, proofSecret, "")
	if _, err := NewCallerSigner(creds, "", "https://sts.eu-west-1.amazonaws.com", brokerA, clock).Proof(context.Background()); !errors.Is(err, ports.ErrInvalidArgument) {
		t.Errorf("an endpoint and no region: %v, want ErrInvalidArgument", err)
	}
	if _, err := NewCallerSigner(creds, "eu-west-1", "", "", clock).Proof(context.Background()); !errors.Is(err, ports.ErrInvalidArgument) {
		t.Errorf("no broker id: %v, want ErrInvalidArgument", err)
	}
	for _, bad := range []VerifierConfig{
		{STSEndpoint: "https://sts.eu-west-1.amazonaws.com", Clock: clock},
		{BrokerID: brokerA, STSEndpoint: "https://sts.eu-west-1.amazonaws.com"},
		{BrokerID: brokerA, STSEndpoint: "ftp://sts.eu-west-1.amazonaws.com", Clock: clock},
		{BrokerID: brokerA, STSEndpoint: "https://sts.eu-west-1.amazonaws.com/path", Clock: clock},
		{BrokerID: brokerA, STSEndpoint: "", Clock: clock},
	} {
		if _, err := NewCallerVerifier(bad); !errors.Is(err, ports.ErrInvalidArgument) {
			t.Errorf("NewCallerVerifier(%+v) = %v, want ErrInvalidArgument", bad, err)
		}
	}

	// A default port is not part of the signed host.
	v, err := NewCallerVerifier(VerifierConfig{BrokerID: brokerA, STSEndpoint: "https://sts.eu-west-1.amazonaws.com:443/", Clock: clock})
	if err != nil || v.endpoint.Host != "sts.eu-west-1.amazonaws.com" {
		t.Errorf("endpoint with :443 = %v, %v; want host sts.eu-west-1.amazonaws.com", v, err)
	}
	t.Setenv("AWS_ENDPOINT_URL_STS", "")
	if got, region := STSEndpoint(nil, "eu-west-1"); got != GlobalSTSEndpoint || region != "us-east-1" {
		t.Errorf("STSEndpoint(eu-west-1) = %q, %q; want the global endpoint, signed for us-east-1, on both ends", got, region)
	}
	t.Setenv("AWS_ENDPOINT_URL_STS", "http://127.0.0.1:9/")
	if got, region := STSEndpoint(nil, ""); got != "http://127.0.0.1:9" || region != "us-east-1" {
		t.Errorf("STSEndpoint with AWS_ENDPOINT_URL_STS = %q, %q", got, region)
	}
	if got, region := STSEndpoint(nil, "eu-west-1"); got != "http://127.0.0.1:9" || region != "eu-west-1" {
		t.Errorf("STSEndpoint with AWS_ENDPOINT_URL_STS in eu-west-1 = %q, %q", got, region)
	}
	// The signer signs for the global endpoint, in us-east-1, when none is given.
	t.Setenv("AWS_ENDPOINT_URL_STS", "")
	proof, err := NewCallerSigner(creds, "eu-west-1", "", brokerA, clock).Proof(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	h, err := DecodeProof(proof)
	if err != nil || h.Get("Host") != "sts.amazonaws.com" || h.Get(ports.BrokerHeader) != brokerA ||
		!strings.Contains(h.Get("Authorization"), "/us-east-1/sts/aws4_request") {
		t.Fatalf("proof headers %v, %v", h, err)
	}
}

func FuzzDecodeProof(f *testing.F) {
	// Seeds live in testdata/fuzz/FuzzDecodeProof too; these add a valid proof's shape.
	good, _ := encodeProof(map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=A/20260101/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=00",
		"Host": "sts.us-east-1.amazonaws.com", "X-Amz-Date": "20260101T000000Z", ports.BrokerHeader: "b", "Content-Type": callerProofContentType})
	f.Add(good)
	f.Fuzz(func(t *testing.T, proof string) {
		h, err := DecodeProof(proof)
		if err != nil {
			if !errors.Is(err, ports.ErrUnauthenticated) {
				t.Fatalf("error %v does not wrap ErrUnauthenticated", err)
			}
			return
		}
		for name, values := range h {
			if !proofHeaders[name] || len(values) != 1 || values[0] == "" || strings.ContainsAny(values[0], "\r\n\x00") {
				t.Fatalf("accepted header %q = %q", name, values)
			}
		}
	})
}

// BenchmarkCallerVerify compares a cached proof with one forwarded to the
// local STS (which recomputes its signature): the cost the cache saves per
// broker call.
func BenchmarkCallerVerify(b *testing.B) {
	fake := fakests.New(b, fakests.WithUser(proofKeyID, proofSecret, proofARN))
	clock := ports.NewFakeClock(time.Now())
	signer := NewCallerSigner(credentials.NewStaticCredentialsProvider(proofKeyID, proofSecret, ""), "us-east-1", fake.URL(), brokerA, clock)
	proof, err := signer.Proof(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		cache int
	}{{"cached", 0}, {"forwarded", 1}} {
		b.Run(tc.name, func(b *testing.B) {
			v, err := NewCallerVerifier(VerifierConfig{BrokerID: brokerA, STSEndpoint: fake.URL(), Clock: clock, CacheSize: tc.cache})
			if err != nil {
				b.Fatal(err)
			}
			other := proof
			if tc.cache == 1 {
				// Two proofs alternating in a one-entry cache: every call misses.
				other, err = NewCallerSigner(credentials.NewStaticCredentialsProvider(proofKeyID, proofSecret, ""), "us-east-1", fake.URL(), brokerA,
					ports.NewFakeClock(clock.Now().Add(-time.Minute))).Proof(context.Background())
				if err != nil {
					b.Fatal(err)
				}
			}
			start := len(fake.Calls())
			defer func() { b.ReportMetric(float64(len(fake.Calls())-start)/float64(b.N), "sts-calls/op") }()
			for i := 0; b.Loop(); i++ {
				p := proof
				if i%2 == 1 {
					p = other
				}
				if _, err := v.Verify(context.Background(), p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
