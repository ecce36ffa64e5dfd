package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/brokerhttp"
	"github.com/sentinel-gw/sentinel/ports"
)

// HealthCmd probes a health endpoint and exits 0 only on 200. It is the
// container image's HEALTHCHECK (and an ECS container health check): the image
// has no shell and no curl, only this binary.
type HealthCmd struct {
	URL      string        `arg:"" help:"Endpoint to probe: the broker's /healthz (alive) or /readyz (store and policy ready)." placeholder:"URL"`
	Insecure bool          `short:"k" help:"Skip verifying the server's certificate: for probing the broker's own loopback address, which its certificate does not name."`
	Timeout  time.Duration `help:"Give up after this long." default:"2s"`
}

// Help shows an example.
func (HealthCmd) Help() string {
	return `Exit 0 when the endpoint answers 200, 1 otherwise (with the status and the
start of the body on stderr). --broker-ca adds a CA to trust.

Example:
  sentinel health -k https://127.0.0.1:8443/healthz`
}

// Run probes c.URL once.
func (c *HealthCmd) Run(g *Globals, env *Env) error {
	u, err := url.Parse(c.URL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{fmt.Sprintf("health: %q is not an http(s) URL: give one like https://127.0.0.1:8443/healthz", c.URL)}
	}
	if c.Timeout <= 0 {
		return usageError{"health: --timeout must be positive"}
	}
	if c.Insecure && g.BrokerCA != "" {
		return usageError{"health: -k skips certificate checks, so --broker-ca would be ignored: give one of them"}
	}
	tlsConfig, err := healthTLS(g.BrokerCA, c.Insecure)
	if err != nil {
		return err
	}
	client := &http.Client{
		Transport: &http.Transport{TLSClientConfig: tlsConfig, Proxy: nil},
		// A redirect is not health: report it as the answer it is.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return usageError{fmt.Sprintf("health: %v", err)}
	}
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("health: %s did not answer within %s", u.Redacted(), c.Timeout)
		}
		return fmt.Errorf("health: %w (is the broker running and listening there?)", err)
	}
	defer func() { _ = resp.Body.Close() }()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 200))
	if resp.StatusCode != http.StatusOK {
		detail := strings.TrimSpace(strings.ToValidUTF8(string(body), "?"))
		if detail != "" {
			detail = ": " + strings.Join(strings.Fields(detail), " ")
		}
		return fmt.Errorf("health: %s answered %s%s", u.Redacted(), resp.Status, detail)
	}
	fmt.Fprintf(env.Stdout, "%s: %s\n", u.Redacted(), resp.Status)
	return nil
}

// healthTLS is the probe's TLS configuration: the system roots plus caFile,
// or no verification at all with insecure.
func healthTLS(caFile string, insecure bool) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if insecure {
		cfg.InsecureSkipVerify = true //nolint:gosec // asked for with -k, for a loopback probe
		return cfg, nil
	}
	pool, err := brokerhttp.RootsWith(caFile)
	switch {
	case errors.Is(err, ports.ErrInvalidArgument):
		return nil, badArgument{fmt.Errorf("health: %w", err)}
	case err != nil:
		return nil, fmt.Errorf("health: %w", err)
	}
	cfg.RootCAs = pool
	return cfg, nil
}
