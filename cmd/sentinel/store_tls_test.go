package main

import (
	"strings"
	"testing"
)

// A TLS file a store URL names that cannot serve is a usage error naming
// the option, before any store is dialled; the password is never shown.
func TestCLIStoreTLSFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		store   func(dir string) string
		wantErr []string
	}{
		{"missing ca_file", func(dir string) string { return "rediss://u:hunter2@127.0.0.1:1?ca_file=" + dir + "/nope.pem" },
			[]string{"ca_file", "nope.pem", "cannot be read"}},
		{"ca_file without a certificate", func(dir string) string {
			return "rediss://u:hunter2@127.0.0.1:1?ca_file=" + writeTemp(t, dir, "empty.pem", "not a certificate\n")
		}, []string{"ca_file", "empty.pem", "holds no PEM certificate"}},
		{"ca_file on redis://", func(dir string) string { return "redis://u:hunter2@127.0.0.1:1?ca_file=" + dir + "/ca.pem" },
			[]string{"ca_file needs TLS", "rediss://"}},
		{"missing ca_bundle", func(dir string) string {
			return "dynamodb://sentinel-sessions?region=us-east-1&ca_bundle=" + dir + "/bundle.pem"
		}, []string{"ca_bundle", "bundle.pem", "cannot be read"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newCLIEnv(t)
			code, _, stderr := e.run("server-sessions", "--store", tt.store(e.dir))
			if code != exitUsage {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, exitUsage, stderr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			if strings.Contains(stderr, "hunter2") {
				t.Errorf("stderr shows the password:\n%s", stderr)
			}
		})
	}
}
