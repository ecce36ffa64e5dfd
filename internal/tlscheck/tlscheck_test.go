package tlscheck

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"testing"
)

func TestUntrusted(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"verification error, wrapped", fmt.Errorf("dial: %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), true},
		{"unknown authority", x509.UnknownAuthorityError{}, true},
		{"another host", fmt.Errorf("x: %w", x509.HostnameError{Host: "h"}), true},
		{"not TLS", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, false},
		{"closed", io.EOF, false},
		{"nil", nil, false},
		{"plain", errors.New("x509: certificate signed by unknown authority"), false},
	}
	for _, tc := range tests {
		if got := Untrusted(tc.err); got != tc.want {
			t.Errorf("%s: Untrusted = %v, want %v", tc.name, got, tc.want)
		}
	}
}
