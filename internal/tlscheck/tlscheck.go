// Package tlscheck tells what a failed TLS connection shows, so the store
// adapters can say which fix applies.
package tlscheck

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
)

// Untrusted reports whether err carries a server certificate the client
// could not verify: no trusted CA signed it, or it names another host.
func Untrusted(err error) bool {
	var (
		verify  *tls.CertificateVerificationError
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
	)
	return errors.As(err, &verify) || errors.As(err, &unknown) || errors.As(err, &host)
}
