package benchtool

import (
	"bufio"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name       string
		raw        string
		wantStatus int
		wantKeep   bool
		wantErr    error
	}{
		{"content length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: application/json\r\n\r\nhello", 200, true, nil},
		{"lower-case headers", "HTTP/1.1 403 Forbidden\r\ncontent-length: 2\r\n\r\n{}", 403, true, nil},
		{"connection close", "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\nx", 200, false, nil},
		{"HTTP/1.0 closes", "HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx", 200, false, nil},
		{"chunked with trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;x=y\r\nde\r\n0\r\nX-T: 1\r\n\r\n", 200, true, nil},
		{"no framing reads to the end", "HTTP/1.1 200 OK\r\n\r\nbody until close", 200, false, nil},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\n", 204, true, nil},
		{"not HTTP", "SSH-2.0-OpenSSH\r\n\r\n", 0, false, errMalformed},
		{"bad status", "HTTP/1.1 2x0 OK\r\n\r\n", 0, false, errMalformed},
		{"bad content length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 0, false, errMalformed},
		{"header without colon", "HTTP/1.1 200 OK\r\nnonsense\r\n\r\n", 0, false, errMalformed},
		{"bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 0, false, errMalformed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// A second response after the first proves the body was consumed exactly.
			next := "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"
			br := bufio.NewReader(strings.NewReader(tc.raw + next))
			status, keep, err := readResponse(br)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil || status != tc.wantStatus || keep != tc.wantKeep {
				t.Fatalf("readResponse = %d, keep %v, %v; want %d, keep %v", status, keep, err, tc.wantStatus, tc.wantKeep)
			}
			if keep {
				if status, _, err := readResponse(br); err != nil || status != 201 {
					t.Errorf("the next response read as %d, %v: the body was not consumed exactly", status, err)
				}
			}
		})
	}
}

// Both clients send the token, get the status, and keep one connection alive.
func TestClientsKeepAliveAgainstNetHTTP(t *testing.T) {
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "secret-token" || r.URL.Path != "/creds/x" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		_, _ = w.Write([]byte(`{"AccessKeyId":"a"}`))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	for _, kind := range []ClientKind{ClientRaw, ClientNetHTTP} {
		t.Run(string(kind), func(t *testing.T) {
			conns.Store(0)
			for token, want := range map[string]int{"secret-token": 200, "wrong": 403} {
				clients, err := NewClients(kind, Target{URL: srv.URL + "/creds/x", Token: token}, 1)
				if err != nil {
					t.Fatal(err)
				}
				d := clients.New()
				for range 5 {
					if status, err := d.Get(); err != nil || status != want {
						t.Fatalf("token %q: Get = %d, %v; want %d", token, status, err, want)
					}
				}
				_ = d.Close()
				clients.Close()
			}
			if n := conns.Load(); n != 2 {
				t.Errorf("%d connections for two clients of 5 requests each, want 2 (keep-alive)", n)
			}
		})
	}
}

func TestNewClientsRejects(t *testing.T) {
	for _, tc := range []struct {
		kind ClientKind
		url  string
	}{{ClientRaw, "https://127.0.0.1:1/x"}, {ClientRaw, "/relative"}, {"curl", "http://127.0.0.1:1/x"}} {
		if _, err := NewClients(tc.kind, Target{URL: tc.url}, 1); err == nil {
			t.Errorf("NewClients(%s, %s) accepted", tc.kind, tc.url)
		}
	}
}
