package httpserver

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/ports"
)

// get sends one request to the server with the given Host and headers.
func get(t *testing.T, c *http.Client, method, rawURL, host string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, rawURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

func TestServesCredentials(t *testing.T) {
	issuer := &fakeIssuer{creds: testCreds}
	token, _ := NewToken()
	s := startServer(t, Config{Token: token, Issuer: issuer})
	resp, body := get(t, newClient(t), http.MethodGet, s.URL(), "", http.Header{"Authorization": {token}})

	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q", ct)
	}
	if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control = %q", cc)
	}
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	want := map[string]string{
		"AccessKeyId": testCreds.AccessKeyID, "SecretAccessKey": testCreds.SecretAccessKey,
		"Token": testCreds.SessionToken, "Expiration": "2030-01-02T03:04:05Z",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q; want %q", k, got[k], v)
		}
	}
	ids := issuer.requestIDs()
	if len(ids) != 1 || !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(ids[0]) {
		t.Fatalf("issuer saw request ids %q; want one of 16 hex", ids)
	}
	if h := resp.Header.Get("X-Sentinel-Request-Id"); h != ids[0] {
		t.Errorf("X-Sentinel-Request-Id = %q; issuer saw %q", h, ids[0])
	}
}

// TestRepliesCarryContentLength: a short reply gets its length from net/http,
// a long one (a session token of a few KiB) from the handler; neither is
// chunked, and an error reply has its length too.
func TestRepliesCarryContentLength(t *testing.T) {
	long := testCreds
	long.SessionToken = strings.Repeat("IQoJb3JpZ2luX2VjEXAMPLE", 150) // 3,450 bytes
	for _, tt := range []struct {
		name  string
		creds ports.Credentials
		token string
		want  int
	}{
		{"short credentials", testCreds, "", http.StatusOK},
		{"long credentials", long, "", http.StatusOK},
		{"refusal", testCreds, "wrong", http.StatusUnauthorized},
	} {
		t.Run(tt.name, func(t *testing.T) {
			token, _ := NewToken()
			s := startServer(t, Config{Token: token, Issuer: &fakeIssuer{creds: tt.creds}})
			sent := token
			if tt.token != "" {
				sent = tt.token
			}
			resp, body := get(t, newClient(t), http.MethodGet, s.URL(), "", http.Header{"Authorization": {sent}})
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d; want %d: %s", resp.StatusCode, tt.want, body)
			}
			if len(resp.TransferEncoding) != 0 {
				t.Errorf("Transfer-Encoding %q; want none", resp.TransferEncoding)
			}
			if got := resp.Header.Get("Content-Length"); got != strconv.Itoa(len(body)) {
				t.Errorf("Content-Length %q; body is %d bytes", got, len(body))
			}
			if tt.creds.SessionToken == long.SessionToken && !bytes.Contains(body, []byte(long.SessionToken)) {
				t.Errorf("the long token is not in the body")
			}
		})
	}
}

func TestRequestIDsAreFresh(t *testing.T) {
	issuer := &fakeIssuer{creds: testCreds}
	token, _ := NewToken()
	s := startServer(t, Config{Token: token, Issuer: issuer})
	c := newClient(t)
	for range 20 {
		get(t, c, http.MethodGet, s.URL(), "", http.Header{"Authorization": {token}})
	}
	seen := map[string]bool{}
	for _, id := range issuer.requestIDs() {
		if seen[id] {
			t.Fatalf("request id %s repeated", id)
		}
		seen[id] = true
	}
	if len(seen) != 20 {
		t.Errorf("issuer called %d times; want 20", len(seen))
	}
}

func TestStaticCredentialsGetAnExpiration(t *testing.T) {
	clock := ports.NewFakeClock(time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC))
	static := testCreds
	static.Expires = time.Time{}
	tests := []struct {
		name   string
		expiry time.Duration
		want   string
	}{
		{"default", 0, "2026-07-01T12:20:00Z"}, // the default served duration, 20m
		{"configured", 5 * time.Minute, "2026-07-01T12:05:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			token, _ := NewToken()
			s := startServer(t, Config{Token: token, Issuer: &fakeIssuer{creds: static}, Clock: clock, StaticExpiry: tt.expiry})
			_, body := get(t, newClient(t), http.MethodGet, s.URL(), "", http.Header{"Authorization": {token}})
			var got struct{ Expiration string }
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatal(err)
			}
			if got.Expiration != tt.want {
				t.Errorf("Expiration = %q; want %q", got.Expiration, tt.want)
			}
		})
	}
}

func TestRefusals(t *testing.T) {
	issuer := &fakeIssuer{creds: testCreds}
	token, _ := NewToken()
	s := startServer(t, Config{Token: token, Issuer: issuer, Path: "/creds/fixed"})
	u, _ := url.Parse(s.URL())
	base := "http://" + u.Host
	auth := http.Header{"Authorization": {token}}
	// One character off, whatever the token ends with.
	lastFlipped := token[:63] + map[bool]string{true: "1", false: "0"}[token[63] == '0']
	tests := []struct {
		name       string
		method     string
		path       string
		host       string
		header     http.Header
		wantStatus int
	}{
		{"missing token", http.MethodGet, "/creds/fixed", "", nil, http.StatusUnauthorized},
		{"wrong token", http.MethodGet, "/creds/fixed", "", http.Header{"Authorization": {lastFlipped}}, http.StatusUnauthorized},
		{"token prefix", http.MethodGet, "/creds/fixed", "", http.Header{"Authorization": {token[:32]}}, http.StatusUnauthorized},
		{"bearer prefix", http.MethodGet, "/creds/fixed", "", http.Header{"Authorization": {"Bearer " + token}}, http.StatusUnauthorized},
		{"token twice", http.MethodGet, "/creds/fixed", "", http.Header{"Authorization": {token, token}}, http.StatusUnauthorized},
		{"wrong path", http.MethodGet, "/creds/other", "", auth, http.StatusNotFound},
		{"root path", http.MethodGet, "/", "", auth, http.StatusNotFound},
		{"path with suffix", http.MethodGet, "/creds/fixed/", "", auth, http.StatusNotFound},
		{"POST", http.MethodPost, "/creds/fixed", "", auth, http.StatusMethodNotAllowed},
		{"HEAD", http.MethodHead, "/creds/fixed", "", auth, http.StatusMethodNotAllowed},
		{"PUT", http.MethodPut, "/creds/fixed", "", auth, http.StatusMethodNotAllowed},
		{"rebinding host", http.MethodGet, "/creds/fixed", "attacker.example", auth, http.StatusMisdirectedRequest},
		{"rebinding host with port", http.MethodGet, "/creds/fixed", "attacker.example:" + u.Port(), auth, http.StatusMisdirectedRequest},
		{"loopback-looking suffix", http.MethodGet, "/creds/fixed", "127.0.0.1.attacker.example", auth, http.StatusMisdirectedRequest},
		{"localhost subdomain", http.MethodGet, "/creds/fixed", "localhost.attacker.example", auth, http.StatusMisdirectedRequest},
		{"other loopback ip", http.MethodGet, "/creds/fixed", "127.0.0.2", auth, http.StatusMisdirectedRequest},
	}
	c := newClient(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, c, tt.method, base+tt.path, tt.host, tt.header)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d; want %d (%s)", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.method != http.MethodHead {
				var e struct{ Code, Message string }
				if err := json.Unmarshal(body, &e); err != nil || e.Code == "" || e.Message == "" {
					t.Errorf("body %q is not {Code, Message}: %v", body, err)
				}
			}
			if tt.wantStatus == http.StatusMethodNotAllowed && resp.Header.Get("Allow") != "GET" {
				t.Errorf("Allow = %q; want GET", resp.Header.Get("Allow"))
			}
		})
	}
	if n := issuer.called.Load(); n != 0 {
		t.Errorf("issuer called %d times for refused requests", n)
	}

	// The loopback names themselves are served.
	for _, host := range []string{"127.0.0.1", "127.0.0.1:" + u.Port(), "localhost", "LocalHost:" + u.Port(), "[::1]:" + u.Port()} {
		resp, body := get(t, c, http.MethodGet, base+"/creds/fixed", host, auth)
		if resp.StatusCode != http.StatusOK {
			t.Errorf("Host %q: status %d (%s); want 200", host, resp.StatusCode, body)
		}
	}
}

func TestIssuerErrorsOverHTTP(t *testing.T) {
	issuer := &fakeIssuer{}
	token, _ := NewToken()
	s := startServer(t, Config{Token: token, Issuer: issuer})
	c := newClient(t)
	tests := []struct {
		err        error
		wantStatus int
		wantInMsg  string
	}{
		{&gateway.DeniedError{Rule: "r1", Reason: "weekend"}, 403, "policy denied: rule r1: weekend"},
		{&gateway.StoreError{Err: errors.New("timeout")}, 503, "session store unavailable"},
		{&gateway.SourceError{Profile: "prod", Err: errors.New("InvalidClientTokenId")}, 502, `profile "prod" failed`},
		{errors.New("boom"), 500, internalErrorMessage},
	}
	for _, tt := range tests {
		issuer.set(ports.Credentials{}, tt.err)
		resp, body := get(t, c, http.MethodGet, s.URL(), "", http.Header{"Authorization": {token}})
		var e struct{ Code, Message string }
		if err := json.Unmarshal(body, &e); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		if resp.StatusCode != tt.wantStatus || !strings.Contains(e.Message, tt.wantInMsg) {
			t.Errorf("%v: %d %q; want %d containing %q", tt.err, resp.StatusCode, e.Message, tt.wantStatus, tt.wantInMsg)
		}
		if strings.Contains(e.Message, "InvalidClientTokenId") || strings.Contains(e.Message, "boom") {
			t.Errorf("message leaks the inner error: %q", e.Message)
		}
		if tt.wantStatus >= 500 && !strings.Contains(e.Message, resp.Header.Get("X-Sentinel-Request-Id")) {
			t.Errorf("5xx message %q should carry the request id", e.Message)
		}
	}
}

// logLines parses JSON log lines.
func logLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var lines []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if l == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		lines = append(lines, m)
	}
	return lines
}

func countMsg(lines []map[string]any, prefix string) (n int, last map[string]any) {
	for _, l := range lines {
		if msg, _ := l["msg"].(string); strings.HasPrefix(msg, prefix) {
			n++
			last = l
		}
	}
	return n, last
}

func TestBadTokenLoggingIsRateLimited(t *testing.T) {
	var logs syncBuffer
	clock := ports.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	token, _ := NewToken()
	s := startServer(t, Config{Token: token, Clock: clock,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	c := newClient(t)
	for range 10 {
		resp, _ := get(t, c, http.MethodGet, s.URL(), "", http.Header{"Authorization": {"guess"}})
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	if n, _ := countMsg(logLines(t, logs.String()), "refused credential request: missing or wrong"); n != 1 {
		t.Fatalf("10 bad tokens within one second logged %d times; want 1\n%s", n, logs.String())
	}
	clock.Advance(time.Second)
	get(t, c, http.MethodGet, s.URL(), "", nil)
	n, last := countMsg(logLines(t, logs.String()), "refused credential request: missing or wrong")
	if n != 2 {
		t.Fatalf("after a second: %d log lines; want 2", n)
	}
	if last["suppressed_since_last"] != float64(9) || last["reason"] != "missing" {
		t.Errorf("second line = %v; want suppressed_since_last 9, reason missing", last)
	}
}

func TestLogsNeverHoldSecrets(t *testing.T) {
	var logs syncBuffer
	issuer := &fakeIssuer{creds: testCreds}
	token, _ := NewToken()
	guess, _ := NewToken() // a wrong token may be another server's real one
	s := startServer(t, Config{Token: token, Issuer: issuer,
		Logger: slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	c := newClient(t)
	get(t, c, http.MethodGet, s.URL(), "", http.Header{"Authorization": {token}})
	get(t, c, http.MethodGet, s.URL(), "", http.Header{"Authorization": {guess}})
	get(t, c, http.MethodGet, s.URL(), "", nil)
	get(t, c, http.MethodGet, s.URL(), "evil.example", http.Header{"Authorization": {token}})
	for _, err := range []error{&gateway.DeniedError{Reason: "r"}, &gateway.StoreError{Err: errors.New("x")},
		&gateway.SourceError{Profile: "p", Err: errors.New("y")}, errors.New("z")} {
		issuer.set(ports.Credentials{}, err)
		get(t, c, http.MethodGet, s.URL(), "", http.Header{"Authorization": {token}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	out := logs.String()
	if !strings.Contains(out, "credentials served") || !strings.Contains(out, "refused credential request") {
		t.Fatalf("the log did not record the requests, so this test proves nothing:\n%s", out)
	}
	for name, secret := range map[string]string{
		"token": token, "guessed token": guess, "secret key": testCreds.SecretAccessKey,
		"session token": testCreds.SessionToken, "access key id": testCreds.AccessKeyID,
	} {
		if strings.Contains(out, secret) {
			t.Errorf("log contains the %s", name)
		}
	}
}

func TestOversizedHeaderIs431(t *testing.T) {
	issuer := &fakeIssuer{creds: testCreds}
	token, _ := NewToken()
	s := startServer(t, Config{Token: token, Issuer: issuer})
	resp, _ := get(t, newClient(t), http.MethodGet, s.URL(), "",
		http.Header{"Authorization": {token}, "X-Padding": {strings.Repeat("a", 64<<10)}})
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status = %d; want 431", resp.StatusCode)
	}
	if issuer.called.Load() != 0 {
		t.Error("issuer called for an oversized request")
	}
}

func TestSlowlorisIsCutOff(t *testing.T) {
	const timeout = 300 * time.Millisecond
	s := startServer(t, Config{ReadHeaderTimeout: timeout})
	u, _ := url.Parse(s.URL())
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	start := time.Now()
	if _, err := fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", u.Path); err != nil {
		t.Fatal(err)
	}
	// Stall. The server must close the connection; we wait far longer than the timeout.
	_ = conn.SetReadDeadline(time.Now().Add(timeout + 5*time.Second))
	_, err = io.ReadAll(conn)
	elapsed := time.Since(start)
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		t.Fatalf("server kept a stalled connection open for %v", elapsed)
	}
	// The upper bound leaves room for a loaded CI machine's scheduling.
	if elapsed < timeout-50*time.Millisecond || elapsed > timeout+2*time.Second {
		t.Errorf("connection closed after %v; want about %v", elapsed, timeout)
	}
}

func TestRequestBodyIsNotRead(t *testing.T) {
	token, _ := NewToken()
	s := startServer(t, Config{Token: token})
	u, _ := url.Parse(s.URL())
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// Announce a 100 MB body and send none of it: a server that read bodies would hang here.
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: %s\r\nContent-Length: 100000000\r\n\r\n", u.Path, token)
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no response while the body is pending: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d; want 200", resp.StatusCode)
	}
}

func TestBindsLoopbackOnly(t *testing.T) {
	s := startServer(t, Config{})
	u, err := url.Parse(s.URL())
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() == "" || u.Port() == "0" {
		t.Fatalf("URL = %q; want http://127.0.0.1:PORT/...", s.URL())
	}
	if !regexp.MustCompile(`^/creds/[0-9a-f]{32}$`).MatchString(u.Path) {
		t.Errorf("default path %q; want /creds/<32 hex>", u.Path)
	}
	// Another address of this machine must not reach the server.
	addrs, _ := net.InterfaceAddrs()
	tried := 0
	for _, a := range addrs {
		ipnet, ok := a.(*net.IPNet)
		if !ok || ipnet.IP.IsLoopback() || ipnet.IP.To4() == nil {
			continue
		}
		tried++
		conn, err := net.DialTimeout("tcp", net.JoinHostPort(ipnet.IP.String(), u.Port()), time.Second)
		if err == nil {
			conn.Close()
			t.Errorf("server reachable on %s", ipnet.IP)
		}
	}
	t.Logf("checked %d non-loopback addresses", tried)
}

func TestDefaultPathsDiffer(t *testing.T) {
	a, b := startServer(t, Config{}), startServer(t, Config{})
	pa, _ := url.Parse(a.URL())
	pb, _ := url.Parse(b.URL())
	if pa.Path == pb.Path {
		t.Errorf("two servers got the same path %q", pa.Path)
	}
}

func TestShutdownStopsServing(t *testing.T) {
	token, _ := NewToken()
	s, err := Start(Config{Token: token, Issuer: &fakeIssuer{creds: testCreds}})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(s.URL())
	c := newClient(t)
	get(t, c, http.MethodGet, s.URL(), "", http.Header{"Authorization": {token}})
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if conn, err := net.DialTimeout("tcp", u.Host, time.Second); err == nil {
		conn.Close()
		t.Error("still accepting after Shutdown")
	}
}

func TestStartValidates(t *testing.T) {
	good, _ := NewToken()
	issuer := &fakeIssuer{}
	tests := []struct {
		name string
		cfg  Config
	}{
		{"no issuer", Config{Token: good}},
		{"no token", Config{Issuer: issuer}},
		{"short token", Config{Issuer: issuer, Token: "0123456789abcdef"}},
		{"token with space", Config{Issuer: issuer, Token: good[:40] + " " + good[:10]}},
		{"token with newline", Config{Issuer: issuer, Token: good + "\n"}},
		{"relative path", Config{Issuer: issuer, Token: good, Path: "creds"}},
		{"path with query", Config{Issuer: issuer, Token: good, Path: "/creds?x=1"}},
		{"negative port", Config{Issuer: issuer, Token: good, Port: -1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := Start(tt.cfg)
			if err == nil {
				_ = s.Shutdown(context.Background())
				t.Fatal("Start accepted an invalid config")
			}
		})
	}
}

func TestNewToken(t *testing.T) {
	a, err := NewToken()
	if err != nil {
		t.Fatal(err)
	}
	b, _ := NewToken()
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(a) || a == b {
		t.Errorf("tokens %q, %q; want two different 64-hex strings", a, b)
	}
}

func TestIsLoopbackHost(t *testing.T) {
	tests := []struct {
		host string
		want bool
	}{
		{"127.0.0.1", true}, {"127.0.0.1:8080", true}, {"localhost", true}, {"LOCALHOST:1", true},
		{"[::1]", true}, {"[::1]:65535", true},
		{"", false}, {"127.0.0.1:", false}, {"127.0.0.1:123456", false}, {"127.0.0.1:80a", false},
		{"127.0.0.10", false}, {"localhost.", false}, {"localhostx", false}, {"::1", false},
		{"[::1]x", false}, {"example.com", false}, {"127.0.0.1@evil", false},
	}
	for _, tt := range tests {
		if got := isLoopbackHost(tt.host); got != tt.want {
			t.Errorf("isLoopbackHost(%q) = %v; want %v", tt.host, got, tt.want)
		}
	}
}

// Repeated bad tokens are throttled with 429; the right token never is.
func TestBadTokensAreRateLimited(t *testing.T) {
	token, _ := NewToken()
	s := startServer(t, Config{Token: token, Issuer: &fakeIssuer{creds: testCreds}})
	c := newClient(t)
	statuses := map[int]int{}
	for range badTokenBurst + 15 {
		resp, _ := get(t, c, http.MethodGet, s.URL(), "", http.Header{"Authorization": {"wrong-token-wrong-token-wrong-token"}})
		statuses[resp.StatusCode]++
	}
	if statuses[http.StatusUnauthorized] < badTokenBurst || statuses[http.StatusTooManyRequests] == 0 {
		t.Fatalf("statuses for %d bad tokens = %v; want %d+ 401s then 429s", badTokenBurst+15, statuses, badTokenBurst)
	}
	resp, body := get(t, c, http.MethodGet, s.URL(), "", http.Header{"Authorization": {token}})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("the right token while throttled: status %d: %s", resp.StatusCode, body)
	}
}
