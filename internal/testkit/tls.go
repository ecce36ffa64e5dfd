package testkit

import "testing"

// TLSFiles are a certificate authority and a server certificate it signed,
// as PEM files.
type TLSFiles struct {
	CA, Cert, Key string
}

// ServerCert makes a CA and a server certificate for hosts (IP addresses or
// DNS names, 127.0.0.1 when none), valid for a day, and writes them under
// dir. A client that trusts CA accepts the server; one that trusts only the
// system roots refuses it.
func ServerCert(t testing.TB, dir string, hosts ...string) TLSFiles {
	t.Helper()
	files, err := WriteServerCert(dir, hosts...)
	if err != nil {
		t.Fatal(err)
	}
	return files
}
