package main

import (
	"bytes"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runHealth runs `sentinel health args...` in-process.
func runHealth(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	env := &Env{Stdout: &out, Stderr: &errb, Getenv: func(k string) string {
		return map[string]string{"HOME": t.TempDir()}[k]
	}}
	code = run(append([]string{"health"}, args...), env)
	return code, out.String(), errb.String()
}

func TestHealth(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "store not reachable: dial tcp 127.0.0.1:1: connection refused", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/moved", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/healthz", http.StatusFound) })
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	})
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	plain := httptest.NewServer(mux)
	t.Cleanup(plain.Close)

	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	notPEM := filepath.Join(t.TempDir(), "not.pem")
	if err := os.WriteFile(notPEM, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string
		wantErr  string
	}{
		{"200 with -k", []string{"-k", srv.URL + "/healthz"}, 0, "200 OK", ""},
		{"200 with the CA", []string{"--broker-ca", ca, srv.URL + "/healthz"}, 0, "200 OK", ""},
		{"200 over plain HTTP", []string{plain.URL + "/healthz"}, 0, "200 OK", ""},
		{"unknown certificate", []string{srv.URL + "/healthz"}, 1, "", "certificate"},
		{"503 shows the status and the body", []string{"-k", srv.URL + "/readyz"}, 1, "", "503 Service Unavailable: store not reachable"},
		{"a redirect is not health", []string{"-k", srv.URL + "/moved"}, 1, "", "302 Found"},
		{"timeout", []string{"-k", "--timeout", "200ms", srv.URL + "/slow"}, 1, "", "did not answer within 200ms"},
		{"nothing listening", []string{"http://127.0.0.1:1/healthz"}, 1, "", "is the broker running"},
		{"not a URL", []string{"127.0.0.1:8443/healthz"}, 2, "", "not an http(s) URL"},
		{"both -k and a CA", []string{"-k", "--broker-ca", ca, srv.URL + "/healthz"}, 2, "", "give one of them"},
		{"CA file without a certificate", []string{"--broker-ca", notPEM, srv.URL + "/healthz"}, 2, "", "holds no PEM certificate"},
		{"no URL", nil, 2, "", "expected \"<url>\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runHealth(t, tt.args...)
			if code != tt.wantCode || !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Errorf("sentinel health %v: exit %d, stdout %q, stderr %q; want exit %d, stdout with %q, stderr with %q",
					tt.args, code, out, errOut, tt.wantCode, tt.wantOut, tt.wantErr)
			}
		})
	}
}
