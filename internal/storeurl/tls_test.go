package storeurl

import (
	"crypto/tls"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/internal/testca"
)

// The TLS files a URL names are read into what the adapters take: the CA
// alone as the trusted roots, the client pair, the bundle's bytes.
func TestTLSFiles(t *testing.T) {
	dir := t.TempDir()
	ca := testca.New(t, "store CA")
	leaf := ca.Client(t, "sentinel")
	caFile := testca.WriteFile(t, dir, "ca.pem", ca.PEM)
	certFile := testca.WriteFile(t, dir, "c.pem", leaf.CertPEM)
	keyFile := testca.WriteFile(t, dir, "k.pem", leaf.KeyPEM)

	spec := mustParse(t, "rediss://h:6380?ca_file="+caFile+"&cert_file="+certFile+"&key_file="+keyFile)
	cfg, err := spec.RedisTLS()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MinVersion < tls.VersionTLS12 || !cfg.RootCAs.Equal(ca.Pool()) || len(cfg.Certificates) != 1 {
		t.Errorf("RedisTLS = min %x, roots equal to the CA: %v, %d client certificates; want TLS 1.2+, the CA only, one",
			cfg.MinVersion, cfg.RootCAs.Equal(ca.Pool()), len(cfg.Certificates))
	}
	if cfg, err := mustParse(t, "rediss://h:6380").RedisTLS(); err != nil || cfg == nil || cfg.RootCAs != nil {
		t.Errorf("rediss:// without files: %+v, %v; want TLS with the system roots", cfg, err)
	}
	if cfg, err := mustParse(t, "redis://h:6379").RedisTLS(); err != nil || cfg != nil {
		t.Errorf("redis://: %+v, %v; want no TLS", cfg, err)
	}

	bundle, err := mustParse(t, "dynamodb://tbl?ca_bundle="+caFile).DynamoCABundle()
	if err != nil || string(bundle) != string(ca.PEM) {
		t.Errorf("DynamoCABundle = %q, %v; want the file's PEM", bundle, err)
	}
	if bundle, err := mustParse(t, "dynamodb://tbl").DynamoCABundle(); err != nil || bundle != nil {
		t.Errorf("no ca_bundle: %q, %v; want none", bundle, err)
	}
}

// A TLS file that cannot serve is an error naming the option and the file.
func TestTLSFilesRefused(t *testing.T) {
	dir := t.TempDir()
	ca := testca.New(t, "store CA")
	leaf := ca.Client(t, "sentinel")
	keyFile := testca.WriteFile(t, dir, "k.pem", leaf.KeyPEM)
	empty := testca.WriteFile(t, dir, "empty.pem", nil)
	garbled := testca.WriteFile(t, dir, "garbled.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	missing := filepath.Join(dir, "missing.pem")
	tests := []struct {
		url  string
		says []string
	}{
		{"rediss://h:1?ca_file=" + missing, []string{"ca_file", missing, "cannot be read"}},
		{"rediss://h:1?ca_file=" + empty, []string{"ca_file", empty, "holds no PEM certificate"}},
		{"rediss://h:1?ca_file=" + keyFile, []string{"ca_file", keyFile, `"PRIVATE KEY"`}},
		{"rediss://h:1?ca_file=" + garbled, []string{"ca_file", garbled, "does not parse"}},
		{"rediss://h:1?cert_file=" + keyFile + "&key_file=" + keyFile, []string{"cert_file", "key_file", keyFile}},
		{"dynamodb://tbl?ca_bundle=" + missing, []string{"ca_bundle", missing, "cannot be read"}},
		{"dynamodb://tbl?ca_bundle=" + empty, []string{"ca_bundle", "holds no PEM certificate"}},
	}
	for _, tc := range tests {
		spec := mustParse(t, tc.url)
		var err error
		if spec.Kind == Redis {
			_, err = spec.RedisTLS()
		} else {
			_, err = spec.DynamoCABundle()
		}
		if !errors.Is(err, ErrTLSFile) {
			t.Errorf("%s: %v, want ErrTLSFile", tc.url, err)
			continue
		}
		for _, s := range tc.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %v; want it to say %q", tc.url, err, s)
			}
		}
	}
}

// Redacted keeps the TLS files (paths, not secrets) and still hides the
// password, and parses back to the same spec.
func TestRedactedTLS(t *testing.T) {
	spec := mustParse(t, "rediss://u:hunter2@h:6380?ca_file=/etc/a%20b/ca.pem&cert_file=/c.pem&key_file=/k.pem")
	r := spec.Redacted()
	if strings.Contains(r, "hunter2") || !strings.Contains(r, "ca_file=") || !strings.Contains(r, "key_file=") {
		t.Errorf("Redacted = %s", r)
	}
	back := mustParse(t, r)
	back.Password = spec.Password
	if back != spec {
		t.Errorf("Redacted %s parses to %+v, want %+v", r, back, spec)
	}
	d := mustParse(t, "dynamodb://tbl?ca_bundle=/etc/corp/ca.pem")
	if back := mustParse(t, d.Redacted()); back.CABundle != d.CABundle {
		t.Errorf("Redacted %s lost the bundle", d.Redacted())
	}
}

func mustParse(t *testing.T, raw string) Spec {
	t.Helper()
	spec, err := Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}
