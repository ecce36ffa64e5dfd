package redisstore

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/sentinel-gw/sentinel/internal/tlscheck"
	"github.com/sentinel-gw/sentinel/ports"
)

// certificateRequired is how crypto/tls words a server's
// certificate_required alert (RFC 8446): it wants a client certificate and
// got none. A remote alert's type is not exported on a TCP connection, so
// its text is what shows it.
const certificateRequired = "tls: certificate required"

// tlsConfig is the client's TLS configuration: a copy of given (nil means
// the system roots), at least TLS 1.2. ServerName stays as given: empty,
// the TLS dial checks each node's certificate against the host it dials,
// so every node of a cluster is checked under its own name.
func tlsConfig(given *tls.Config) *tls.Config {
	cfg := &tls.Config{}
	if given != nil {
		cfg = given.Clone()
	}
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return cfg
}

// firstReachError explains a failed first PING: what TLS shows of a
// mismatch (a certificate no trusted CA signed, a server that does not
// speak TLS, or speaks only TLS, a client certificate it wants) gets the
// fix, and anything else is reachError's.
func firstReachError(addr string, useTLS bool, err error) error {
	var (
		record  tls.RecordHeaderError
		timeout net.Error
	)
	switch {
	case tlscheck.Untrusted(err):
		return fmt.Errorf("redis: %s: its TLS certificate is not trusted: %w: %w; give the CA certificate that signed it "+
			"with ?ca_file=/path/ca.pem in --store (and check the certificate names the host you dial)", addr, err, ports.ErrUnavailable)
	case errors.As(err, &record):
		return fmt.Errorf("redis: %s does not speak TLS on this port: %w: %w; write redis:// for a plain port, or give the server's TLS port",
			addr, err, ports.ErrUnavailable)
	case strings.Contains(err.Error(), certificateRequired):
		return fmt.Errorf("redis: %s wants a client certificate: %w: %w; add ?cert_file=/path/cert.pem&key_file=/path/key.pem to --store",
			addr, err, ports.ErrUnavailable)
	case useTLS && (errors.Is(err, context.DeadlineExceeded) || errors.As(err, &timeout) && timeout.Timeout()):
		return fmt.Errorf("redis: %s gave no answer over TLS in time: %w: %w; a port that speaks plain Redis never answers "+
			"a TLS handshake (write redis:// for it); else is redis-server running and reachable? check --store", addr, err, ports.ErrUnavailable)
	case !useTLS && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)):
		return fmt.Errorf("redis: %s closed the connection at the first command: %w: %w; if it serves TLS on this port, write rediss:// "+
			"(with ?ca_file= for a private CA)", addr, err, ports.ErrUnavailable)
	}
	return reachError(addr, err)
}
