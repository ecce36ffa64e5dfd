package storeurl

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"os"
)

// ErrTLSFile wraps every error reading a TLS file a store URL names
// (ca_file, cert_file, key_file, ca_bundle); the message names the option.
var ErrTLSFile = errors.New("store URL TLS file")

// parseRedisTLS reads ca_file, cert_file and key_file into spec: only with
// rediss://, and a client certificate only with its key.
func parseRedisTLS(q url.Values, spec *Spec) error {
	for _, f := range []struct {
		key  string
		into *string
	}{{"ca_file", &spec.CAFile}, {"cert_file", &spec.CertFile}, {"key_file", &spec.KeyFile}} {
		v, ok := q[f.key]
		if !ok {
			continue
		}
		if !spec.TLS {
			return fmt.Errorf("redis %s needs TLS: write rediss://, not redis://", f.key)
		}
		if v[0] == "" {
			return fmt.Errorf("redis %s is empty; give the path of a PEM file", f.key)
		}
		*f.into = v[0]
	}
	if (spec.CertFile == "") != (spec.KeyFile == "") {
		return errors.New("redis cert_file and key_file go together: give both (a client certificate and its key) or neither")
	}
	return nil
}

// RedisTLS is the TLS configuration of a rediss:// URL, nil for redis://:
// the system roots, or only the CAs of ca_file when it is given, and the
// client certificate of cert_file and key_file. A file that cannot be read,
// or holds no certificate or key, is an error wrapping ErrTLSFile that
// names the option.
func (s Spec) RedisTLS() (*tls.Config, error) {
	if s.Kind != Redis || !s.TLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.CAFile != "" {
		pool, _, err := readCAs("ca_file", s.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if s.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("%w: redis cert_file %s and key_file %s: %w; give a PEM certificate and its PEM private key",
				ErrTLSFile, s.CertFile, s.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg, nil
}

// DynamoCABundle is the PEM content of a dynamodb:// URL's ca_bundle, nil
// when it names none. A file that cannot be read or holds no certificate
// is an error wrapping ErrTLSFile that names the option.
func (s Spec) DynamoCABundle() ([]byte, error) {
	if s.Kind != DynamoDB || s.CABundle == "" {
		return nil, nil
	}
	_, data, err := readCAs("ca_bundle", s.CABundle)
	return data, err
}

// readCAs reads a PEM file of CA certificates for option; it must hold at
// least one, and nothing that is not one.
func readCAs(option, path string) (*x509.CertPool, []byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s %s cannot be read: %w", ErrTLSFile, option, path, err)
	}
	pool := x509.NewCertPool()
	rest, n := data, 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, nil, fmt.Errorf("%w: %s %s holds a PEM %q block; it should hold only CA certificates (BEGIN CERTIFICATE)",
				ErrTLSFile, option, path, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s %s: certificate %d does not parse: %w", ErrTLSFile, option, path, n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, nil, fmt.Errorf("%w: %s %s holds no PEM certificate (BEGIN CERTIFICATE); give the CA certificate that signed the server's",
			ErrTLSFile, option, path)
	}
	return pool, data, nil
}
