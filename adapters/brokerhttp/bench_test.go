package brokerhttp

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// cachedService answers SessionCredentials from memory, so the benchmark
// measures the transport, not the fake.
type cachedService struct{ fakeService }

func (*cachedService) SessionCredentials(context.Context, ports.Identity, ports.SessionCredentialsInput) (ports.Credentials, error) {
	return testCreds, nil
}

// BenchmarkCredentials: one credential round trip through the Client and
// the broker's handler over TLS on loopback (proof header, strict decode,
// verifier, service, JSON answer), against a trivial HTTPS handler serving
// the same answer body to a plain POST, measured in the same run with the
// same number of calls. Reports both and their ratio.
func BenchmarkCredentials(b *testing.B) {
	certFile, keyFile := testCert(b)
	h, err := NewHandler(Config{Service: &cachedService{}, Verifier: &fakeVerifier{}})
	if err != nil {
		b.Fatal(err)
	}
	broker, err := Start(ServerConfig{Listen: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile, Handler: h})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = broker.Shutdown(context.Background()) })
	answer, err := marshal(wireCredentials(testCreds))
	if err != nil {
		b.Fatal(err)
	}
	baseline, err := Start(ServerConfig{Listen: "127.0.0.1:0", TLSCert: certFile, TLSKey: keyFile,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(answer)
		})})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = baseline.Shutdown(context.Background()) })

	client, err := NewClient(ClientConfig{URL: broker.URL(), Signer: staticSigner(testProof), CAFile: certFile})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(client.http.CloseIdleConnections)
	// The baseline client is the same HTTP client, so both sides pay the
	// same TLS and connection reuse.
	plain := client.http
	in := ports.SessionCredentialsInput{SessionID: "0123456789abcdef0123456789abcdef", RequestID: "0123456789abcdef"}
	body, err := marshal(in)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	baselineCall := func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, baseline.URL()+PathSessionCredentials, bytes.NewReader(body))
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := plain.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
			b.Fatalf("baseline: status %d", resp.StatusCode)
		}
	}
	// Warm both connections outside the measurement.
	baselineCall()
	if _, err := client.SessionCredentials(ctx, in); err != nil {
		b.Fatal(err)
	}

	// The calls alternate, so both sides see the same machine load; only
	// the broker's are timed by the benchmark.
	b.ReportAllocs()
	calls := 0
	var baselineTime time.Duration
	for b.Loop() {
		creds, err := client.SessionCredentials(ctx, in)
		if err != nil || creds.AccessKeyID != testCreds.AccessKeyID {
			b.Fatalf("%v %v", creds.AccessKeyID, err)
		}
		calls++
		b.StopTimer()
		start := time.Now()
		baselineCall()
		baselineTime += time.Since(start)
		b.StartTimer()
	}
	brokerTime := b.Elapsed()
	b.ReportMetric(float64(baselineTime.Nanoseconds())/float64(calls), "baseline-ns/op")
	b.ReportMetric(float64(brokerTime)/float64(baselineTime), "x-baseline")
}
