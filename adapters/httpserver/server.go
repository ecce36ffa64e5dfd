// Package httpserver is the loopback credential server. It speaks the ECS
// container-credentials protocol (AWS_CONTAINER_CREDENTIALS_FULL_URI plus
// AWS_CONTAINER_AUTHORIZATION_TOKEN), which every AWS SDK and the AWS CLI
// understand, and asks an Issuer (the core) on every request.
package httpserver

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/ports"
)

// Issuer runs the per-request pipeline and returns credentials to serve
// (Expires already capped). Its errors are the typed errors of core/gateway.
type Issuer interface {
	Issue(ctx context.Context, requestID string) (ports.Credentials, error)
}

// Defaults for Config's zero values.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	// DefaultStaticExpiry is the Expiration served with long-lived credentials
	// (zero Expires). botocore and the Node SDK refuse a response without one.
	// It is the default served duration (20 minutes): botocore (15-minute
	// advisory window) comes back after 5 minutes, the Go and JS SDKs
	// (5-minute windows) after 15, so policy is re-checked regularly, and no
	// botocore call is a fetch of its own.
	DefaultStaticExpiry = gateway.DefaultServerDuration

	// MinTokenLength is 32 characters: a 256-bit token in hex is 64.
	MinTokenLength = 32

	maxHeaderBytes = 16 << 10
	readTimeout    = 30 * time.Second
	// writeTimeout leaves room for an STS AssumeRole inside the Issuer.
	writeTimeout = 60 * time.Second
	idleTimeout  = 90 * time.Second
	// authLogInterval bounds how often refused requests are logged.
	authLogInterval = time.Second
	// badTokenRate and badTokenBurst throttle failed authorization attempts
	// (per server): past them, 429 until the rate allows again.
	badTokenRate  = 10
	badTokenBurst = 20
)

// Config configures Start.
type Config struct {
	// Port to bind on 127.0.0.1; 0 picks a free port.
	Port int
	// Path is the only path served. Empty picks /creds/<32 random hex>: the
	// path travels with the token in the environment, costs nothing, and a
	// local port scan then learns nothing (every other path is 404).
	Path string
	// Token is the exact Authorization header value callers must send; at
	// least MinTokenLength visible ASCII characters. NewToken provides one.
	Token string
	// Logger receives operational events; never a token or a credential. Nil discards.
	Logger *slog.Logger
	// Issuer decides every request.
	Issuer Issuer
	// Clock stamps the Expiration of long-lived credentials and paces logging. Nil is the system clock.
	Clock ports.Clock
	// ReadHeaderTimeout cuts off slow clients; zero is DefaultReadHeaderTimeout.
	ReadHeaderTimeout time.Duration
	// StaticExpiry is served as the lifetime of credentials with zero Expires; zero is DefaultStaticExpiry.
	StaticExpiry time.Duration
	// Wrap, when set, wraps the request handler (a latency observer for
	// metrics, say); it sees every request, refused ones too.
	Wrap func(http.Handler) http.Handler
}

// Server is a running credential server.
type Server struct {
	srv     *http.Server
	url     string
	handler *handler
	done    chan struct{}
}

// NewToken returns 32 random bytes as 64 lowercase hex characters.
func NewToken() (string, error) {
	return randomHex(32)
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("httpserver: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Start binds 127.0.0.1 and serves until Shutdown.
func Start(cfg Config) (*Server, error) {
	h, err := newHandler(cfg)
	if err != nil {
		return nil, err
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("httpserver: port %d out of range", cfg.Port)
	}
	readHeaderTimeout := cfg.ReadHeaderTimeout
	if readHeaderTimeout <= 0 {
		readHeaderTimeout = DefaultReadHeaderTimeout
	}
	ln, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, fmt.Errorf("httpserver: listen: %w", err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	var served http.Handler = h
	if cfg.Wrap != nil {
		served = cfg.Wrap(h)
	}
	s := &Server{
		srv: &http.Server{
			Handler:           served,
			ReadHeaderTimeout: readHeaderTimeout,
			ReadTimeout:       max(readTimeout, readHeaderTimeout),
			WriteTimeout:      writeTimeout,
			IdleTimeout:       idleTimeout,
			MaxHeaderBytes:    maxHeaderBytes,
			ErrorLog:          slog.NewLogLogger(h.log.Handler(), slog.LevelDebug),
		},
		// The AWS CLI, boto3 and the Node SDK accept only 127.0.0.1 or localhost.
		url:     "http://127.0.0.1:" + strconv.Itoa(port) + h.path,
		handler: h,
		done:    make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			h.log.Error("credential server stopped", slog.String("error", err.Error()))
		}
	}()
	h.log.Info("credential server listening", slog.String("addr", ln.Addr().String()))
	return s, nil
}

// URL is the value for AWS_CONTAINER_CREDENTIALS_FULL_URI.
func (s *Server) URL() string { return s.url }

// Handler is the request handler, for in-process use.
func (s *Server) Handler() http.Handler { return s.handler }

// Shutdown stops accepting, waits for in-flight requests until ctx ends (then
// closes them), and returns once the serving goroutine has exited.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.done
	s.handler.flushLogs()
	return err
}

// handler serves the one credential path.
type handler struct {
	path         string
	tokenDigest  [sha256.Size]byte
	issuer       Issuer
	log          *slog.Logger
	clock        ports.Clock
	staticExpiry time.Duration
	authFailures burstLog
	badHosts     burstLog
	// badTokens throttles failed attempts only: a right token is never slowed.
	badTokens *rate.Limiter
}

func newHandler(cfg Config) (*handler, error) {
	if cfg.Issuer == nil {
		return nil, errors.New("httpserver: Issuer is required")
	}
	if err := validateToken(cfg.Token); err != nil {
		return nil, err
	}
	path := cfg.Path
	if path == "" {
		suffix, err := randomHex(16)
		if err != nil {
			return nil, err
		}
		path = "/creds/" + suffix
	}
	if !strings.HasPrefix(path, "/") || strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("httpserver: path %q must start with / and hold no query or fragment", path)
	}
	h := &handler{
		path:         path,
		tokenDigest:  sha256.Sum256([]byte(cfg.Token)),
		issuer:       cfg.Issuer,
		log:          cfg.Logger,
		clock:        cfg.Clock,
		staticExpiry: cfg.StaticExpiry,
	}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.clock == nil {
		h.clock = ports.SystemClock{}
	}
	if h.staticExpiry <= 0 {
		h.staticExpiry = DefaultStaticExpiry
	}
	h.badTokens = rate.NewLimiter(badTokenRate, badTokenBurst)
	h.authFailures = burstLog{log: h.log, msg: "refused credential request: missing or wrong authorization token"}
	h.badHosts = burstLog{log: h.log, msg: "refused credential request: Host is not a loopback name (possible DNS rebinding)"}
	return h, nil
}

func validateToken(token string) error {
	if len(token) < MinTokenLength {
		return fmt.Errorf("httpserver: token must be at least %d characters (use NewToken)", MinTokenLength)
	}
	for i := 0; i < len(token); i++ {
		if token[i] < 0x21 || token[i] > 0x7e {
			return errors.New("httpserver: token must be visible ASCII (use NewToken)")
		}
	}
	return nil
}

// Header values shared by every response; net/http only reads them.
var (
	headerJSON       = []string{"application/json"}
	headerNoStore    = []string{"no-store"}
	headerAllow      = []string{http.MethodGet}
	headerRetryAfter = []string{"1"}
)

// autoLengthMax: net/http sets Content-Length itself for a body written in
// one call before the handler returns, when the body fits its chunking
// buffer (2 KiB); a longer one (credentials with a long session token) gets
// the header here rather than a chunked reply.
const autoLengthMax = 2048

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

// ServeHTTP checks, in order: Host, path, method, token; then asks the Issuer.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Request bodies are ignored: nothing here reads r.Body.
	if !isLoopbackHost(r.Host) {
		h.badHosts.note(h.clock.Now(), r.RemoteAddr, "host")
		h.writeError(w, http.StatusMisdirectedRequest, "MisdirectedRequest",
			"the Host header must be 127.0.0.1, localhost or [::1]")
		return
	}
	if !constantTimeEqual(r.URL.Path, h.path) {
		h.writeError(w, http.StatusNotFound, "NotFound", "not found")
		return
	}
	// HEAD is refused too: it would run the whole pipeline (policy, touch,
	// decision log) for a reply without credentials. No SDK sends it.
	if r.Method != http.MethodGet {
		w.Header()["Allow"] = headerAllow
		h.writeError(w, http.StatusMethodNotAllowed, "MethodNotAllowed", "only GET is served")
		return
	}
	if reason, ok := h.authorized(r.Header); !ok {
		h.authFailures.note(h.clock.Now(), r.RemoteAddr, reason)
		if !h.badTokens.Allow() {
			w.Header()["Retry-After"] = headerRetryAfter
			h.writeError(w, http.StatusTooManyRequests, "TooManyRequests",
				"too many requests with a missing or wrong Authorization header; slow down")
			return
		}
		h.writeError(w, http.StatusUnauthorized, "Unauthorized",
			"missing or wrong Authorization header; send the value of AWS_CONTAINER_AUTHORIZATION_TOKEN")
		return
	}

	requestID := newRequestID()
	w.Header()["X-Sentinel-Request-Id"] = []string{requestID}
	creds, err := h.issuer.Issue(r.Context(), requestID)
	if err != nil {
		status, code, message := errorResponse(err)
		h.logIssueError(r.Context(), requestID, status, err)
		if status >= 500 {
			message += " (request " + requestID + ")"
		}
		h.writeError(w, status, code, message)
		return
	}
	expires := creds.Expires
	if expires.IsZero() {
		expires = h.clock.Now().Add(h.staticExpiry)
	}
	bp := bufPool.Get().(*[]byte)
	body := appendCredentials((*bp)[:0], creds, expires)
	h.write(w, http.StatusOK, body)
	*bp = body
	bufPool.Put(bp)
	if h.log.Enabled(r.Context(), slog.LevelDebug) {
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "credentials served",
			slog.String("request_id", requestID), slog.Time("expiration", expires.UTC()))
	}
}

// authorized compares SHA-256 digests in constant time, so neither the
// content nor the length of the token leaks through timing.
func (h *handler) authorized(header http.Header) (reason string, ok bool) {
	values := header["Authorization"]
	switch len(values) {
	case 0:
		return "missing", false
	case 1:
	default:
		return "repeated", false
	}
	// Copied into a stack buffer: a conversion of a token this long would
	// allocate on every request.
	var buf [128]byte
	got := sha256.Sum256(append(buf[:0], values[0]...))
	if subtle.ConstantTimeCompare(got[:], h.tokenDigest[:]) != 1 {
		return "mismatch", false
	}
	return "", true
}

func (h *handler) logIssueError(ctx context.Context, requestID string, status int, err error) {
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	// Issuer errors carry no secrets (the ports contract); their text is what
	// "see the sentinel log" points at.
	h.log.LogAttrs(ctx, level, "credential request refused",
		slog.String("request_id", requestID), slog.Int("status", status), slog.String("error", err.Error()))
}

func (h *handler) writeError(w http.ResponseWriter, status int, code, message string) {
	bp := bufPool.Get().(*[]byte)
	body := appendError((*bp)[:0], code, message)
	h.write(w, status, body)
	*bp = body
	bufPool.Put(bp)
}

func (h *handler) write(w http.ResponseWriter, status int, body []byte) {
	hdr := w.Header()
	// Exactly application/json: the Go SDK parses error bodies only then.
	hdr["Content-Type"] = headerJSON
	hdr["Cache-Control"] = headerNoStore
	if len(body) > autoLengthMax {
		hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (h *handler) flushLogs() {
	h.authFailures.flush()
	h.badHosts.flush()
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	var out [16]byte
	hex.Encode(out[:], b[:])
	return string(out[:])
}

// isLoopbackHost accepts 127.0.0.1, localhost (any case) or [::1], each with
// an optional numeric port. Anything else may be a DNS-rebinding page.
func isLoopbackHost(host string) bool {
	var rest string
	switch {
	case strings.HasPrefix(host, "127.0.0.1"):
		rest = host[len("127.0.0.1"):]
	case len(host) >= len("localhost") && strings.EqualFold(host[:len("localhost")], "localhost"):
		rest = host[len("localhost"):]
	case strings.HasPrefix(host, "[::1]"):
		rest = host[len("[::1]"):]
	default:
		return false
	}
	if rest == "" {
		return true
	}
	if rest[0] != ':' || len(rest) < 2 || len(rest) > 6 {
		return false
	}
	for i := 1; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}

// constantTimeEqual compares without an early exit, so the path (which
// travels with the token) does not leak byte by byte; only its length can.
func constantTimeEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var diff byte
	for i := 0; i < len(a); i++ {
		diff |= a[i] ^ b[i]
	}
	return diff == 0
}

// burstLog logs a refused request at most once per authLogInterval and
// counts the ones it held back, so a flood cannot fill the log.
type burstLog struct {
	log        *slog.Logger
	msg        string
	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (b *burstLog) note(now time.Time, remote, reason string) {
	b.mu.Lock()
	if !b.last.IsZero() && now.Sub(b.last) < authLogInterval {
		b.suppressed++
		b.mu.Unlock()
		return
	}
	suppressed := b.suppressed
	b.last, b.suppressed = now, 0
	b.mu.Unlock()
	b.log.LogAttrs(context.Background(), slog.LevelWarn, b.msg,
		slog.String("remote", remote), slog.String("reason", reason),
		slog.Int("suppressed_since_last", suppressed))
}

// flush logs the count still held back, so the last burst is not lost.
func (b *burstLog) flush() {
	b.mu.Lock()
	suppressed := b.suppressed
	b.suppressed = 0
	b.mu.Unlock()
	if suppressed > 0 {
		b.log.LogAttrs(context.Background(), slog.LevelWarn, b.msg, slog.Int("suppressed_since_last", suppressed))
	}
}
