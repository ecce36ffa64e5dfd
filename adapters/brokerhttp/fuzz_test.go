package brokerhttp

import (
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// specAuth is the Authorization rule written independently of proofFrom.
var specAuth = regexp.MustCompile(`^(?i:sentinel-sts) (.+)$`)

// FuzzHandler: random method, path, headers and body never panic, always
// get a JSON answer, and never a 200 without a valid proof (but for the
// health endpoints); a well-formed call with a valid proof and an empty
// body is served.
func FuzzHandler(f *testing.F) {
	f.Add("POST", PathWhoAmI, "Sentinel-STS "+testProof, "", "application/json", []byte(`{}`))
	clock := ports.NewFakeClock(testInstant)
	svc := &fakeService{}
	h, err := NewHandler(Config{Service: svc, Verifier: &fakeVerifier{}, Clock: clock})
	if err != nil {
		f.Fatal(err)
	}

	f.Fuzz(func(t *testing.T, method, target, auth1, auth2, contentType string, body []byte) {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			return
		}
		// Past the failure throttle of the previous inputs.
		clock.Advance(time.Minute)
		req := &http.Request{
			Method: method, URL: u, Host: "broker.example.com", Header: http.Header{},
			Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1, RemoteAddr: "192.0.2.7:40000",
			Body: io.NopCloser(strings.NewReader(string(body))), ContentLength: int64(len(body)),
		}
		for _, a := range []string{auth1, auth2} {
			if a != "" {
				req.Header["Authorization"] = append(req.Header["Authorization"], a)
			}
		}
		if contentType != "" {
			req.Header["Content-Type"] = []string{contentType}
		}
		auth := req.Header["Authorization"]
		proofOK := false
		if len(auth) == 1 {
			if m := specAuth.FindStringSubmatch(auth[0]); m != nil {
				proofOK = m[1] == testProof || m[1] == adminProof
			}
		}
		media, _, mediaErr := mime.ParseMediaType(contentType)
		_, known := operations[u.Path]
		health := (u.Path == PathHealthz || u.Path == PathReadyz) && (method == http.MethodGet || method == http.MethodHead)
		mayServe := health || (method == http.MethodPost && known && proofOK)
		mustServe := health || (mayServe && mediaErr == nil && media == "application/json" && len(body) == 0)

		before, _ := svc.last()
		svc.mu.Lock()
		calls := len(svc.calls)
		svc.mu.Unlock()
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		if rec.Code == http.StatusOK && !mayServe {
			t.Fatalf("200 for method %q path %q auth %q", method, u.Path, auth)
		}
		if mustServe && rec.Code != http.StatusOK {
			t.Fatalf("status %d for a valid call: method %q path %q auth %q type %q: %s", rec.Code, method, u.Path, auth, contentType, rec.Body.Bytes())
		}
		svc.mu.Lock()
		called := len(svc.calls) != calls
		svc.mu.Unlock()
		authorized := method == http.MethodPost && known && proofOK
		if called && !authorized {
			t.Fatalf("service called (after %q) without a valid proof: method %q path %q auth %q", before, method, u.Path, auth)
		}
		var answer map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &answer); err != nil && rec.Code != http.StatusOK {
			t.Fatalf("refusal %d is not a JSON object: %q", rec.Code, rec.Body.Bytes())
		}
		if rec.Code != http.StatusOK {
			e, _ := answer["error"].(map[string]any)
			code, _ := e["code"].(string)
			msg, _ := e["message"].(string)
			if code == "" || msg == "" {
				t.Fatalf("refusal %d without code and message: %s", rec.Code, rec.Body.Bytes())
			}
		}
		if rec.Header().Get("X-Request-Id") == "" {
			t.Fatal("no X-Request-Id")
		}
	})
}
