package brokerhttp

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/sentinel-gw/sentinel/ports"
)

// Limits of the handler.
const (
	// MaxBodyBytes bounds a request body; every input is a few hundred bytes.
	MaxBodyBytes = 64 << 10
	// MaxProofLength bounds the proof in the Authorization header: a signed
	// GetCallerIdentity request with a session token is a few kilobytes.
	MaxProofLength = 16 << 10
	// AuthScheme starts the Authorization header: "Sentinel-STS <proof>".
	AuthScheme = "Sentinel-STS"

	// Failed proofs are throttled per remote address: past the burst, 429
	// (and the verifier is not asked, so STS is not either) until the rate
	// allows again. Generous, because behind a load balancer many callers
	// may share one address. A proof being verified counts as a failure
	// until it is answered (once, however many calls carry it: the verifier
	// checks one proof once), so concurrent bad proofs from an address
	// cannot all reach STS before the first failure is counted; a proof the
	// verifier recalls (ports.CallerRecaller) is not throttled at all.
	badProofRate  = 5
	badProofBurst = 20
	// maxThrottled bounds the per-address table; when full it starts over.
	maxThrottled = 10000
	// readyCache is how long a /readyz answer is reused, so an
	// unauthenticated poller cannot make the broker hammer its store.
	readyCache   = time.Second
	readyTimeout = 5 * time.Second
	maxRequestID = 64
)

// Config configures NewHandler.
type Config struct {
	// Service runs every operation for the caller the Verifier returns.
	Service ports.BrokerService
	// Verifier checks the proof every call carries.
	Verifier ports.CallerVerifier
	// Logger receives one line per refused or failed call (with its request
	// id); never a proof, a token or a credential. Nil discards.
	Logger *slog.Logger
	// Clock paces the failure throttle and the readiness cache. Nil is the system clock.
	Clock ports.Clock
}

// handler serves the broker's API.
type handler struct {
	svc      ports.BrokerService
	verifier ports.CallerVerifier
	log      *slog.Logger
	clock    ports.Clock

	mu        sync.Mutex
	throttled map[string]*addressState

	readyMu    sync.Mutex
	readyAt    time.Time
	readyErr   error
	readyKnown bool
}

// NewHandler returns the broker's HTTP handler: the routes of the package
// doc, each authenticated but /healthz and /readyz.
func NewHandler(cfg Config) (http.Handler, error) {
	if cfg.Service == nil {
		return nil, errors.New("brokerhttp: Service is required")
	}
	if cfg.Verifier == nil {
		return nil, errors.New("brokerhttp: Verifier is required")
	}
	h := &handler{svc: cfg.Service, verifier: cfg.Verifier, log: cfg.Logger, clock: cfg.Clock, throttled: map[string]*addressState{}}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.clock == nil {
		h.clock = ports.SystemClock{}
	}
	return h, nil
}

var (
	headerJSON       = []string{"application/json"}
	headerNoStore    = []string{"no-store"}
	headerAllowPOST  = []string{http.MethodPost}
	headerAllowGET   = []string{"GET, HEAD"}
	headerRetryAfter = []string{"1"}
)

// ServeHTTP checks, in order: path, method, content type, proof; then reads
// and decodes the body and calls the service.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	requestID := requestIDFor(r.Header)
	w.Header()["X-Request-Id"] = []string{requestID}

	switch r.URL.Path {
	case PathHealthz, PathReadyz:
		h.serveHealth(w, r, requestID)
		return
	}
	run, ok := operations[r.URL.Path]
	if !ok {
		h.refuse(w, requestID, http.StatusNotFound, CodeNotFound, "no such broker operation; see the API table in the brokerhttp package documentation")
		return
	}
	if r.Method != http.MethodPost {
		w.Header()["Allow"] = headerAllowPOST
		h.refuse(w, requestID, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "only POST is served on "+r.URL.Path)
		return
	}
	if !isJSON(r.Header) {
		h.refuse(w, requestID, http.StatusUnsupportedMediaType, CodeUnsupportedMedia, "send the body as Content-Type: application/json")
		return
	}
	caller, ok := h.authenticate(w, r, requestID)
	if !ok {
		return
	}
	if r.ContentLength > MaxBodyBytes {
		h.refuse(w, requestID, http.StatusRequestEntityTooLarge, CodeTooLarge, tooLargeMessage)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		if _, tooLarge := errors.AsType[*http.MaxBytesError](err); tooLarge {
			h.refuse(w, requestID, http.StatusRequestEntityTooLarge, CodeTooLarge, tooLargeMessage)
			return
		}
		h.refuse(w, requestID, http.StatusBadRequest, CodeBadRequest, "could not read the request body")
		return
	}
	out, err := run(ports.WithRequestID(r.Context(), requestID), h.svc, caller, body)
	if err != nil {
		if bad, isBad := errors.AsType[badBodyError](err); isBad {
			h.refuse(w, requestID, http.StatusBadRequest, CodeBadRequest, bad.Error())
			return
		}
		h.serviceError(w, r, requestID, caller, err)
		return
	}
	encoded, err := marshal(out)
	if err != nil {
		h.serviceError(w, r, requestID, caller, fmt.Errorf("brokerhttp: encode answer: %w", err))
		return
	}
	h.write(w, http.StatusOK, encoded)
	if h.log.Enabled(r.Context(), slog.LevelDebug) {
		h.log.LogAttrs(r.Context(), slog.LevelDebug, "broker call served",
			slog.String("request_id", requestID), slog.String("op", r.URL.Path), slog.String("caller", caller.ARN))
	}
}

const tooLargeMessage = "request body over 64 KiB; every broker input is far smaller"

// authenticate checks the Authorization header and asks the Verifier. On a
// refusal it has answered (401, 429 or 503) and returns false.
func (h *handler) authenticate(w http.ResponseWriter, r *http.Request, requestID string) (ports.Identity, bool) {
	remote := remoteHost(r.RemoteAddr)
	proof, reason := proofFrom(r.Header)
	if recaller, ok := h.verifier.(ports.CallerRecaller); ok && reason == "" {
		if caller, known := recaller.Recall(proof); known {
			return caller, true
		}
	}
	state := h.admit(remote, proof)
	if state == nil {
		w.Header()["Retry-After"] = headerRetryAfter
		h.refuse(w, requestID, http.StatusTooManyRequests, CodeTooManyRequests,
			"too many calls with a missing or refused proof from this address; slow down, and check the caller's AWS credentials and clock")
		return ports.Identity{}, false
	}
	defer h.release(remote, state, proof)
	if reason != "" {
		h.failed(state)
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "broker call refused: no valid proof",
			slog.String("request_id", requestID), slog.String("remote", remote), slog.String("reason", reason))
		h.refuse(w, requestID, http.StatusUnauthorized, CodeUnauthenticated, reason)
		return ports.Identity{}, false
	}
	caller, err := h.verifier.Verify(r.Context(), proof)
	if err == nil {
		return caller, true
	}
	if errors.Is(err, ports.ErrUnauthenticated) {
		h.failed(state)
		// The verifier's message says what is wrong with the proof (stale,
		// wrong broker, refused by STS); it holds no part of the proof.
		h.log.LogAttrs(r.Context(), slog.LevelInfo, "broker call refused: proof refused",
			slog.String("request_id", requestID), slog.String("remote", remote), slog.String("error", err.Error()))
		h.refuse(w, requestID, http.StatusUnauthorized, CodeUnauthenticated, err.Error())
		return ports.Identity{}, false
	}
	if r.Context().Err() != nil {
		// The caller left while its proof was being checked; the check goes
		// on (for the others carrying the proof) and may reach STS, so the
		// leaving is charged as a failure: hanging up is no way around the
		// budget.
		h.failed(state)
	}
	h.serviceError(w, r, requestID, ports.Identity{}, fmt.Errorf("verify caller: %w", err))
	return ports.Identity{}, false
}

// proofFrom returns the proof, or why the header holds none (served to the
// caller, so it says how to fix it).
func proofFrom(header http.Header) (proof, reason string) {
	const fix = ": send Authorization: " + AuthScheme + " <proof> (sentinel does this when given --broker and AWS credentials)"
	values := header["Authorization"]
	switch {
	case len(values) == 0:
		return "", "missing Authorization header" + fix
	case len(values) > 1:
		return "", "more than one Authorization header" + fix
	}
	scheme, proof, _ := strings.Cut(values[0], " ")
	switch {
	case !strings.EqualFold(scheme, AuthScheme):
		return "", "the Authorization header is not of scheme " + AuthScheme + fix
	case proof == "":
		return "", "empty proof" + fix
	case len(proof) > MaxProofLength:
		return "", fmt.Sprintf("proof longer than %d bytes", MaxProofLength) + fix
	}
	return proof, ""
}

// addressState is one remote address's failure budget and the proofs from
// it being checked now. Guarded by handler.mu.
type addressState struct {
	failures *rate.Limiter
	// checking counts the calls under way per proof: a proof counts once
	// against the budget however many calls carry it.
	checking map[string]int
	// held counts the calls admitted and not yet released, with or without
	// a proof: while any is, the state stays in the table.
	held int
}

// admit returns remote's state with proof counted as being checked, or nil
// when its failures so far and the other proofs being checked leave no
// failure to spend: each of those may still fail. A proof already being
// checked from this address needs no place of its own (it adds no STS
// call), only a budget that still covers the proofs being checked. An
// empty proof (none, or malformed) is admitted by the budget alone.
func (h *handler) admit(remote, proof string) *addressState {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := h.throttled[remote]
	if st == nil {
		if len(h.throttled) >= maxThrottled {
			clear(h.throttled) // states in use stay valid: callers hold them
		}
		st = &addressState{failures: rate.NewLimiter(badProofRate, badProofBurst), checking: map[string]int{}}
		h.throttled[remote] = st
	}
	need := 1 + len(st.checking)
	if proof != "" && st.checking[proof] > 0 {
		need--
	}
	if st.failures.TokensAt(h.clock.Now()) < float64(need) {
		return nil
	}
	if proof != "" {
		st.checking[proof]++
	}
	st.held++
	return st
}

// release ends a check admit began, and forgets an address with nothing
// under way and no failure to remember, so the table holds the addresses
// that failed lately, not every caller's.
func (h *handler) release(remote string, st *addressState, proof string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if proof != "" {
		if st.checking[proof]--; st.checking[proof] <= 0 {
			delete(st.checking, proof)
		}
	}
	if st.held--; st.held == 0 && st.failures.TokensAt(h.clock.Now()) >= badProofBurst && h.throttled[remote] == st {
		delete(h.throttled, remote)
	}
}

// failed spends one of the address's failures.
func (h *handler) failed(st *addressState) {
	h.mu.Lock()
	defer h.mu.Unlock()
	st.failures.AllowN(h.clock.Now(), 1)
}

// serveHealth answers /healthz (the process is up) and /readyz (the
// service can serve), unauthenticated and with no detail: the reason for
// unreadiness is logged.
func (h *handler) serveHealth(w http.ResponseWriter, r *http.Request, requestID string) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header()["Allow"] = headerAllowGET
		h.refuse(w, requestID, http.StatusMethodNotAllowed, CodeMethodNotAllowed, "only GET and HEAD are served on "+r.URL.Path)
		return
	}
	if r.URL.Path == PathHealthz {
		h.write(w, http.StatusOK, []byte(`{"status":"ok"}`))
		return
	}
	if err := h.ready(r.Context()); err != nil {
		h.write(w, http.StatusServiceUnavailable, []byte(`{"status":"not ready"}`))
		return
	}
	h.write(w, http.StatusOK, []byte(`{"status":"ready"}`))
}

// ready asks the service at most once per readyCache, and logs changes.
func (h *handler) ready(ctx context.Context) error {
	h.readyMu.Lock()
	defer h.readyMu.Unlock()
	now := h.clock.Now()
	if h.readyKnown && now.Sub(h.readyAt) < readyCache && now.Sub(h.readyAt) >= 0 {
		return h.readyErr
	}
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	err := h.svc.Ready(ctx)
	switch {
	case err != nil && (!h.readyKnown || h.readyErr == nil):
		h.log.LogAttrs(ctx, slog.LevelWarn, "broker not ready", slog.String("error", err.Error()))
	case err == nil && h.readyKnown && h.readyErr != nil:
		h.log.LogAttrs(ctx, slog.LevelInfo, "broker ready again")
	}
	h.readyAt, h.readyErr, h.readyKnown = now, err, true
	return err
}

// serviceError serves err through errorResponse and logs it in full.
func (h *handler) serviceError(w http.ResponseWriter, r *http.Request, requestID string, caller ports.Identity, err error) {
	status, body := errorResponse(err)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	h.log.LogAttrs(r.Context(), level, "broker call failed",
		slog.String("request_id", requestID), slog.String("op", r.URL.Path), slog.String("caller", caller.ARN),
		slog.Int("status", status), slog.String("error", err.Error()))
	body.RequestID = requestID
	h.writeError(w, status, body)
}

func (h *handler) refuse(w http.ResponseWriter, requestID string, status int, code, message string) {
	h.writeError(w, status, wireError{Code: code, Message: message, RequestID: requestID})
}

func (h *handler) writeError(w http.ResponseWriter, status int, body wireError) {
	encoded, err := marshal(errorEnvelope{Error: body})
	if err != nil {
		encoded = []byte(`{"error":{"code":"` + CodeInternal + `","message":"` + internalMessage + `"}}`)
	}
	h.write(w, status, encoded)
}

func (h *handler) write(w http.ResponseWriter, status int, body []byte) {
	hdr := w.Header()
	hdr["Content-Type"] = headerJSON
	hdr["Cache-Control"] = headerNoStore
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// marshal encodes v without HTML escaping, so messages read plainly.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// badBodyError is a body that is not the operation's input: served as 400.
type badBodyError struct{ msg string }

func (e badBodyError) Error() string { return e.msg }

// decodeInto decodes exactly one JSON object into v, refusing unknown
// fields and trailing data. An empty body is the empty input.
func decodeInto(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badBodyError{"the request body is not this operation's JSON input: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return badBodyError{"the request body holds more than one JSON value"}
	}
	return nil
}

// isJSON accepts application/json with optional parameters (charset).
func isJSON(header http.Header) bool {
	values := header["Content-Type"]
	if len(values) != 1 {
		return false
	}
	media, _, err := mime.ParseMediaType(values[0])
	return err == nil && media == "application/json"
}

// requestIDFor keeps a caller's X-Request-Id when it is short and plain
// (so the client's and the broker's logs meet), else makes one.
func requestIDFor(header http.Header) string {
	if v := header["X-Request-Id"]; len(v) == 1 && len(v[0]) > 0 && len(v[0]) <= maxRequestID {
		ok := true
		for i := 0; i < len(v[0]) && ok; i++ {
			c := v[0][i]
			ok = c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '-' || c == '_' || c == '.'
		}
		if ok {
			return v[0]
		}
	}
	return newRequestID()
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails on supported platforms.
	return hex.EncodeToString(b[:])
}

// remoteHost is the address failures are counted against.
func remoteHost(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}
