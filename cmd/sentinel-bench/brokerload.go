package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/sentinel-gw/sentinel/adapters/awscreds"
	"github.com/sentinel-gw/sentinel/adapters/brokerhttp"
	"github.com/sentinel-gw/sentinel/internal/benchtool"
	"github.com/sentinel-gw/sentinel/ports"
)

// brokerCallTimeout bounds one call of the bench's broker clients.
const brokerCallTimeout = 10 * time.Second

// brokerOutcome is what the broker mode measured.
type brokerOutcome struct {
	baseline, broker *benchtool.Result
	sessions         int
	ratios           []float64 // broker/baseline throughput, one per pair
	brokerRSS        uint64
	reads            *storeCount
}

// brokerClients makes the bench's clients of one HTTPS service, as the
// user: each is a brokerhttp.Client with a connection of its own (as each
// user's exec --server has), built like NewClient builds its own.
type brokerClients struct {
	signer ports.CallerSigner
	roots  *x509.CertPool
	mu     sync.Mutex
	opened []*http.Transport
}

func newBrokerClients(t *team) (*brokerClients, error) {
	pem, err := os.ReadFile(t.tls.CA)
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, errors.New("the bench's CA file holds no certificate")
	}
	creds := aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(benchUser.keyID, benchUser.secret, ""))
	signer := awscreds.NewCallerSigner(creds, "us-east-1", t.sts.URL(), "127.0.0.1", ports.SystemClock{})
	return &brokerClients{signer: signer, roots: roots}, nil
}

func (b *brokerClients) client(url string) (*brokerhttp.Client, *http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{RootCAs: b.roots, MinVersion: tls.VersionTLS12}
	tr.MaxIdleConnsPerHost = 16
	tr.ForceAttemptHTTP2 = true
	b.mu.Lock()
	b.opened = append(b.opened, tr)
	b.mu.Unlock()
	hc := &http.Client{Transport: tr, Timeout: brokerCallTimeout}
	c, err := brokerhttp.NewClient(brokerhttp.ClientConfig{URL: url, Signer: b.signer, HTTPClient: hc})
	return c, hc, err
}

func (b *brokerClients) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, tr := range b.opened {
		tr.CloseIdleConnections()
	}
	b.opened = nil
}

// credentialDoer asks for one session's credentials per Get, going round
// the sessions.
type credentialDoer struct {
	c        *brokerhttp.Client
	err      error // building c failed: every Get returns it
	sessions []string
	next     *atomic.Uint64
}

func (d *credentialDoer) Get() (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	id := d.sessions[d.next.Add(1)%uint64(len(d.sessions))]
	ctx, cancel := context.WithTimeout(context.Background(), brokerCallTimeout)
	defer cancel()
	_, err := d.c.SessionCredentials(ctx, ports.SessionCredentialsInput{SessionID: id})
	return statusOf(err)
}

func (d *credentialDoer) Close() error { return nil }

// statusOf maps a client call's error to the status the broker answered:
// 200, the status of a broker error, 403 for a typed refusal (denied,
// revoked), or no status when nothing came back.
func statusOf(err error) (int, error) {
	var remote *brokerhttp.Error
	switch {
	case err == nil:
		return http.StatusOK, nil
	case errors.As(err, &remote):
		return remote.Status, nil
	case errors.Is(err, ports.ErrUnavailable), errors.Is(err, context.DeadlineExceeded):
		return 0, err
	}
	return http.StatusForbidden, nil
}

// runBroker measures credential requests straight at the broker
// (POST /v1/sessions/credentials through adapters/brokerhttp's client, one
// connection per worker, spread over -sessions sessions) and the same
// client against a trivial HTTPS handler answering the same bytes with the
// same certificate, then the broker's peak RSS and, where the store can be
// counted from outside, the store commands each request costs.
func runBroker(ctx context.Context, sb *sandbox, self string, o options, w io.Writer) (*brokerOutcome, error) {
	t := sb.team
	bc, err := newBrokerClients(t)
	if err != nil {
		return nil, err
	}
	defer bc.close()
	admin, _, err := bc.client(t.url)
	if err != nil {
		return nil, err
	}
	began := time.Now()
	sessions, err := openSessions(ctx, admin, o.sessions)
	if err != nil {
		return nil, fmt.Errorf("open sessions at the broker: %w\nbroker:\n%s", err, t.out.String())
	}
	defer closeSessions(admin, sessions)
	fmt.Fprintf(w, "broker %s (pid %d): opened %d sessions in %s\n", t.url, t.pid(), len(sessions), benchtool.Ms(time.Since(began)))
	stopBeats := heartbeat(ctx, admin, sessions, w)
	defer stopBeats()

	body, proto, err := rawCredentials(ctx, bc, t.url, sessions[0])
	if err != nil {
		return nil, err
	}
	base, err := startBaseline(ctx, self, sb.dir, body, "-tls-cert", t.tls.Cert, "-tls-key", t.tls.Key)
	if err != nil {
		return nil, err
	}
	defer base.stop()
	_, baseProto, err := rawCredentials(ctx, bc, base.url, sessions[0])
	if err != nil {
		return nil, fmt.Errorf("the HTTPS baseline: %w", err)
	}
	fmt.Fprintf(w, "credential answer %d bytes over %s (baseline: same bytes, same certificate, %s); %d workers, each its own client and connection\n",
		len(body), proto, baseProto, o.conns)

	measure := func(label, url string) (*benchtool.Result, error) {
		var next atomic.Uint64
		clients := benchtool.ClientsOf(func() benchtool.Doer {
			c, _, err := bc.client(url) // the URL was checked by rawCredentials
			return &credentialDoer{c: c, err: err, sessions: sessions, next: &next}
		})
		return measureLoop(ctx, clients, label, o, o.rate > 0, w)
	}
	// Alternating pairs: on a shared machine the load of others drifts;
	// each pair's ratio is measured over the same few seconds.
	out := &brokerOutcome{sessions: len(sessions)}
	var ratios []float64
	for range o.pairs {
		var baseline, broker *benchtool.Result
		if baseline, err = measure("https-baseline", base.url); err != nil {
			return nil, err
		}
		if broker, err = measure("broker", t.url); err != nil {
			return nil, err
		}
		if err := benchtool.WriteRatio(w, broker, baseline); err != nil {
			return nil, err
		}
		if baseline.Throughput() > 0 {
			ratios = append(ratios, broker.Throughput()/baseline.Throughput())
		}
		out.baseline, out.broker = baseline, broker
		out.ratios = ratios
	}
	writeMedianRatio(w, "broker/https-baseline", ratios)
	if out.brokerRSS, err = readPeakRSS(t.pid()); err != nil {
		return nil, fmt.Errorf("broker peak RSS: %w", err)
	}
	now, err := benchtool.ReadProcStatus(t.pid())
	if err != nil {
		return nil, fmt.Errorf("broker RSS: %w", err)
	}
	fmt.Fprintf(w, "== memory of the broker (sentinel serve, %d sessions)\n  peak (VmHWM) %s   now (VmRSS) %s   threads %d\n",
		len(sessions), benchtool.MB(out.brokerRSS), benchtool.MB(now.RSS), now.Threads)
	// The heartbeats stop for the count (a few seconds, well inside the
	// lease), so that what is counted is the credential requests' own.
	stopBeats()
	out.reads, err = countStoreReads(ctx, sb.store, t.proxy, admin, sessions, w)
	return out, err
}

// openSessions opens n sessions on the bench profile as the bench user.
func openSessions(ctx context.Context, c *brokerhttp.Client, n int) ([]string, error) {
	ids := make([]string, 0, n)
	for range n {
		out, err := c.OpenSession(ctx, ports.OpenSessionInput{Profile: benchProfile})
		if err != nil {
			return ids, err
		}
		ids = append(ids, out.Session.ID)
	}
	return ids, nil
}

// closeSessions ends the bench's sessions (best effort: the run is over).
func closeSessions(c *brokerhttp.Client, ids []string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, id := range ids {
		if c.CloseSession(ctx, id) != nil {
			return
		}
	}
}

// heartbeatEvery is how often the bench renews each session's lease: under
// the broker's default heartbeat (20s), as exec --server does.
const heartbeatEvery = 15 * time.Second

// heartbeat renews every session each heartbeatEvery until stopped, as
// live exec --server clients would; the calls run beside the measurement.
func heartbeat(ctx context.Context, c *brokerhttp.Client, ids []string, w io.Writer) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(heartbeatEvery)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			for _, id := range ids {
				if _, err := c.Heartbeat(ctx, id); err != nil && ctx.Err() == nil {
					fmt.Fprintf(w, "  heartbeat of session %s failed: %v\n", id, err)
					break
				}
			}
		}
	}()
	return func() { cancel(); <-done }
}

// rawCredentials makes one credential request by hand and returns the
// answer's bytes and protocol, so the baseline serves exactly them.
func rawCredentials(ctx context.Context, bc *brokerClients, url, session string) ([]byte, string, error) {
	_, hc, err := bc.client(url)
	if err != nil {
		return nil, "", err
	}
	proof, err := bc.signer.Proof(ctx)
	if err != nil {
		return nil, "", err
	}
	in, err := json.Marshal(ports.SessionCredentialsInput{SessionID: session})
	if err != nil {
		return nil, "", err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+brokerhttp.PathSessionCredentials, bytes.NewReader(in))
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", brokerhttp.AuthScheme+" "+proof)
	resp, err := hc.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return nil, "", err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, "", fmt.Errorf("%s%s: %s: %s", url, brokerhttp.PathSessionCredentials, resp.Status, body)
	}
	return body, resp.Proto, nil
}
