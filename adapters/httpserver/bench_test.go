package httpserver

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// cachedIssuer returns the same credentials without locking, so the
// benchmark measures the server, not the fake.
type cachedIssuer struct{ creds ports.Credentials }

func (c cachedIssuer) Issue(context.Context, string) (ports.Credentials, error) { return c.creds, nil }

func benchServer(b *testing.B) (*Server, string) {
	b.Helper()
	token, err := NewToken()
	if err != nil {
		b.Fatal(err)
	}
	s, err := Start(Config{Token: token, Issuer: cachedIssuer{creds: testCreds}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s, token
}

func BenchmarkHandler(b *testing.B) {
	s, token := benchServer(b)
	h := s.Handler()
	req := httptest.NewRequest(http.MethodGet, s.URL(), nil)
	req.Header.Set("Authorization", token)
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkHandlerWrongToken(b *testing.B) {
	s, _ := benchServer(b)
	h := s.Handler()
	req := httptest.NewRequest(http.MethodGet, s.URL(), nil)
	req.Header.Set("Authorization", "wrong")
	b.ReportAllocs()
	for b.Loop() {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			b.Fatalf("status %d", rec.Code)
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf = appendCredentials(buf[:0], testCreds, exp)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkLoopback compares a full request over loopback TCP with a trivial
// handler returning a body of the same size, measured in the same run.
func BenchmarkLoopback(b *testing.B) {
	s, token := benchServer(b)
	body := appendCredentials(nil, testCreds, testCreds.Expires)
	baseline := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	b.Cleanup(baseline.Close)

	for _, tc := range []struct{ name, url string }{{"baseline", baseline.URL}, {"sentinel", s.URL()}} {
		b.Run(tc.name, func(b *testing.B) {
			tr := &http.Transport{MaxIdleConnsPerHost: 64}
			defer tr.CloseIdleConnections()
			c := &http.Client{Transport: tr}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				req, _ := http.NewRequest(http.MethodGet, tc.url, nil)
				req.Header.Set("Authorization", token)
				for pb.Next() {
					resp, err := c.Do(req)
					if err != nil {
						b.Error(err)
						return
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Errorf("status %d", resp.StatusCode)
						return
					}
				}
			})
		})
	}
}
