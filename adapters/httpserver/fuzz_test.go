package httpserver

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"
)

// Fixed for the fuzz target, so the seed corpus can hold the one valid request.
const (
	fuzzToken = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff000102030405060708090a0b0c0d0e0f"
	fuzzPath  = "/creds/00112233445566778899aabbccddeeff"
)

// specLoopbackHost is the rule written independently of isLoopbackHost.
var specLoopbackHost = regexp.MustCompile(`^(?:(?i:localhost)|127\.0\.0\.1|\[::1\])(?::[0-9]{1,5})?$`)

// FuzzHandler: the handler never panics, and answers 200 exactly when the
// request is GET, on the credential path, with a loopback Host and the one
// exact token.
func FuzzHandler(f *testing.F) {
	f.Add("GET", fuzzPath, "127.0.0.1:8080", fuzzToken, "", "", "")
	issuer := &fakeIssuer{creds: testCreds}
	s, err := Start(Config{Token: fuzzToken, Path: fuzzPath, Issuer: issuer})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	h := s.Handler()

	f.Fuzz(func(t *testing.T, method, target, host, auth1, auth2, extraName, extraValue string) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		req := &http.Request{
			Method: method, URL: u, Host: host, Header: http.Header{},
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, Body: http.NoBody, RemoteAddr: "127.0.0.1:40000",
		}
		for _, a := range []string{auth1, auth2} {
			if a != "" {
				req.Header["Authorization"] = append(req.Header["Authorization"], a)
			}
		}
		if extraName != "" {
			req.Header[extraName] = []string{extraValue}
		}
		auth := req.Header["Authorization"]
		valid := method == http.MethodGet && u.Path == fuzzPath && specLoopbackHost.MatchString(host) &&
			len(auth) == 1 && auth[0] == fuzzToken

		before := issuer.called.Load()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if (rec.Code == http.StatusOK) != valid {
			t.Fatalf("status %d for method %q path %q host %q auth %q (valid=%v)", rec.Code, method, u.Path, host, auth, valid)
		}
		if called := issuer.called.Load() != before; called != valid {
			t.Fatalf("issuer called=%v for a request with valid=%v", called, valid)
		}
		var body map[string]string
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("body %q is not JSON: %v", rec.Body.Bytes(), err)
		}
		if !valid && (body["Code"] == "" || body["SecretAccessKey"] != "") {
			t.Fatalf("refusal body %v", body)
		}
	})
}
