// Package webhook implements ports.Notifier as signed HTTP webhooks: each
// event is POSTed as JSON to every configured receiver that wants it,
// signed with HMAC-SHA256 over the timestamp and the body, retried with
// backoff on network errors, 5xx and 429, and bounded in time per receiver.
// Failures are logged and never returned: a notification never blocks the
// action that caused it.
package webhook

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

var _ ports.Notifier = (*Notifier)(nil)

// The request headers of a delivery.
const (
	HeaderEvent     = "X-Sentinel-Event"
	HeaderDelivery  = "X-Sentinel-Delivery"
	HeaderTimestamp = "X-Sentinel-Timestamp"
	HeaderSignature = "X-Sentinel-Signature"
)

// Defaults for Config's zero values.
const (
	DefaultMaxAttempts = 4
	DefaultBaseBackoff = 200 * time.Millisecond
)

const (
	// maxBackoff caps one wait, whatever the attempt count.
	maxBackoff = time.Minute
	// maxResponseRead is how much of a response body is read (then dropped).
	maxResponseRead = 4 << 10
	userAgent       = "sentinel-webhook/1"
)

// Config configures a Notifier.
type Config struct {
	// Webhooks are the receivers, usually the policy's notifications.webhooks.
	Webhooks []policy.Webhook
	// Getenv reads each webhook's SecretEnv; nil means os.Getenv.
	Getenv func(string) string
	// Client sends the requests; nil means a client with dial and TLS
	// timeouts and no keep-alive. Its redirect policy is replaced: a
	// redirect is never followed, so a signed body is never re-sent elsewhere.
	Client *http.Client
	// Logger receives delivery failures (warn) and successes (debug); nil discards.
	Logger *slog.Logger
	// Clock stamps events and signatures; nil means ports.SystemClock.
	Clock ports.Clock
	// MaxAttempts per webhook and event, first try included; 0 means DefaultMaxAttempts.
	MaxAttempts int
	// BaseBackoff is the wait after the first failed attempt, doubled after
	// each further one, with jitter; 0 means DefaultBaseBackoff.
	BaseBackoff time.Duration
}

// Notifier delivers notifications to webhooks. It is safe for concurrent use.
type Notifier struct {
	hooks       []hook
	client      *http.Client
	logger      *slog.Logger
	clock       ports.Clock
	maxAttempts int
	baseBackoff time.Duration
}

type hook struct {
	policy.Webhook
	secret []byte
}

// New checks the configuration and reads every webhook's secret. A webhook
// whose secret variable is unset or empty is an error naming the variable;
// secret values never appear in errors.
func New(cfg Config) (*Notifier, error) {
	getenv := cfg.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	n := &Notifier{
		client:      noRedirects(cfg.Client),
		logger:      cfg.Logger,
		clock:       cfg.Clock,
		maxAttempts: cfg.MaxAttempts,
		baseBackoff: cfg.BaseBackoff,
	}
	if n.logger == nil {
		n.logger = slog.New(slog.DiscardHandler)
	}
	if n.clock == nil {
		n.clock = ports.SystemClock{}
	}
	if n.maxAttempts <= 0 {
		n.maxAttempts = DefaultMaxAttempts
	}
	if n.baseBackoff <= 0 {
		n.baseBackoff = DefaultBaseBackoff
	}
	var errs []error
	for _, w := range cfg.Webhooks {
		if err := checkURL(w.URL); err != nil {
			errs = append(errs, fmt.Errorf("webhook: %q: %w", w.Name, err))
			continue
		}
		if w.SecretEnv == "" {
			errs = append(errs, fmt.Errorf("webhook: %q has no secret_env: name the environment variable that holds its signing secret", w.Name))
			continue
		}
		secret := getenv(w.SecretEnv)
		if secret == "" {
			errs = append(errs, fmt.Errorf("webhook: %q: environment variable %s is unset or empty: set it to the webhook's signing secret", w.Name, w.SecretEnv))
			continue
		}
		if w.Timeout <= 0 {
			w.Timeout = policy.DefaultWebhookTimeout
		}
		w.Events = append([]string(nil), w.Events...)
		n.hooks = append(n.hooks, hook{Webhook: w, secret: []byte(secret)})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return n, nil
}

// checkURL accepts an absolute http(s) URL; the policy parser has already
// applied its stricter rules to URLs from a file.
func checkURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return errors.New("url is not an absolute http(s) URL")
	}
	return nil
}

// noRedirects returns a copy of c (or a default client) that hands a 3xx
// back instead of following it.
func noRedirects(c *http.Client) *http.Client {
	var out http.Client
	if c != nil {
		out = *c
	} else {
		out.Transport = defaultTransport()
	}
	out.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &out
}

// defaultTransport dials with timeouts and keeps no idle connection: events
// are rare, and nothing (no connection, no goroutine) outlives a Notify.
func defaultTransport() *http.Transport {
	dialer := &net.Dialer{Timeout: 5 * time.Second}
	return &http.Transport{
		Proxy:                  http.ProxyFromEnvironment,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    5 * time.Second,
		DisableKeepAlives:      true,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// payload is the JSON body: the notification plus a delivery id.
type payload struct {
	ID string `json:"id"`
	ports.Notification
}

// Notify delivers note to every webhook that wants its type, concurrently,
// and returns when each delivery has succeeded, failed for good, or spent
// its webhook's Timeout (the bound for all attempts together). Failures are
// logged. Cancelling ctx ends all deliveries early.
// A nil *Notifier sends nothing, so callers need no "webhooks configured?" check.
func (n *Notifier) Notify(ctx context.Context, note ports.Notification) {
	if n == nil {
		return
	}
	var targets []*hook
	for i := range n.hooks {
		if n.hooks[i].Wants(note.Type) {
			targets = append(targets, &n.hooks[i])
		}
	}
	if len(targets) == 0 {
		return
	}
	if note.Time.IsZero() {
		note.Time = n.clock.Now()
	}
	id := newDeliveryID()
	body, err := json.Marshal(payload{ID: id, Notification: note})
	if err != nil {
		n.logger.LogAttrs(ctx, slog.LevelWarn, "webhook delivery not attempted", slog.String("event", note.Type), slog.String("error", err.Error()))
		return
	}
	d := delivery{id: id, event: note.Type, subject: subjectID(note), body: body}
	var wg sync.WaitGroup
	for _, h := range targets {
		wg.Go(func() { n.deliver(ctx, h, d) })
	}
	wg.Wait()
}

// delivery is one event on its way; the same id and body go to every
// webhook and every retry.
type delivery struct {
	id, event, subject string
	body               []byte
}

func subjectID(note ports.Notification) string {
	switch {
	case note.Request != nil:
		return note.Request.ID
	case note.BreakGlass != nil:
		return note.BreakGlass.ID
	}
	return ""
}

// newDeliveryID returns 32 random lowercase hex digits.
func newDeliveryID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand aborts the program instead
	return hex.EncodeToString(b[:])
}

// outcome is what one attempt ended with.
type outcome struct {
	status     int           // 0 when no response came back
	err        error         // the network error, if any
	retry      bool          // worth another attempt
	retryAfter time.Duration // the receiver's Retry-After, when given
}

// deliver makes up to maxAttempts attempts within h.Timeout. The context
// deadline is the hard bound; the Clock only lets it give up early when the
// next wait would not fit.
func (n *Notifier) deliver(ctx context.Context, h *hook, d delivery) {
	ctx, cancel := context.WithTimeout(ctx, h.Timeout)
	defer cancel()
	start := n.clock.Now()

	var last outcome
	attempts := 0
	for {
		attempts++
		last = n.attempt(ctx, h, d)
		if last.status >= 200 && last.status < 300 {
			n.logger.LogAttrs(ctx, slog.LevelDebug, "webhook delivered", n.attrs(h, d, attempts, last)...)
			return
		}
		if !last.retry || attempts == n.maxAttempts {
			break
		}
		wait := max(n.backoff(attempts), last.retryAfter)
		if spent := n.clock.Now().Sub(start); spent+wait >= h.Timeout {
			n.fail(h, d, attempts, last, reasonWouldNotFit)
			return
		}
		if !sleep(ctx, wait) {
			why := reasonTimeSpent
			if errors.Is(ctx.Err(), context.Canceled) {
				why = reasonCancelled
			}
			n.fail(h, d, attempts, last, why)
			return
		}
	}
	n.fail(h, d, attempts, last, reason(last, attempts == n.maxAttempts))
}

// Why a delivery failed, as logged in "reason".
const (
	reasonExhausted   = "attempts exhausted"
	reasonTimeSpent   = "time bound spent"
	reasonWouldNotFit = "the next retry would not fit in the time bound"
	reasonRefused     = "refused by the receiver, not retried"
	reasonRedirect    = "redirect not followed"
	reasonCancelled   = "cancelled"
	reasonOther       = "failed"
)

func reason(o outcome, exhausted bool) string {
	switch {
	case errors.Is(o.err, context.DeadlineExceeded):
		return reasonTimeSpent
	case errors.Is(o.err, context.Canceled):
		return reasonCancelled
	case o.status >= 300 && o.status < 400:
		return reasonRedirect
	case o.status != 0 && !o.retry:
		return reasonRefused
	case exhausted:
		return reasonExhausted
	}
	return reasonOther
}

// attempt sends one signed POST and classifies the result.
func (n *Notifier) attempt(ctx context.Context, h *hook, d delivery) outcome {
	ts := strconv.FormatInt(n.clock.Now().Unix(), 10)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(d.body))
	if err != nil {
		return outcome{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", userAgent)
	req.Header.Set(HeaderEvent, d.event)
	req.Header.Set(HeaderDelivery, d.id)
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, Sign(h.secret, ts, d.body))

	resp, err := n.client.Do(req)
	if err != nil {
		// Retry network errors, but not once our own bound has passed.
		return outcome{err: err, retry: ctx.Err() == nil}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxResponseRead))
	_ = resp.Body.Close()

	o := outcome{status: resp.StatusCode}
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		o.retry = true
		o.retryAfter, _ = parseRetryAfter(resp.Header.Get("Retry-After"), n.clock.Now())
	}
	return o
}

// parseRetryAfter reads delay-seconds or an HTTP date (relative to now).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 {
			return 0, false
		}
		// Capped before converting, so a huge value cannot overflow.
		return time.Duration(min(secs, int64(maxBackoff/time.Second))) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}

// backoff is the wait after the given failed attempt: BaseBackoff doubled
// per earlier failure, drawn from [d/2, d) so retries of many senders spread.
func (n *Notifier) backoff(attempt int) time.Duration {
	d := n.baseBackoff
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	half := d / 2
	return half + mathrand.N(d-half+1) //nolint:gosec // jitter needs no secrecy
}

// sleep waits d or until ctx ends; it reports whether the full wait passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (n *Notifier) fail(h *hook, d delivery, attempts int, o outcome, why string) {
	attrs := append(n.attrs(h, d, attempts, o), slog.String("reason", why))
	// A fresh context: the delivery's own may be the one that ran out.
	n.logger.LogAttrs(context.Background(), slog.LevelWarn, "webhook delivery failed", attrs...)
}

// attrs describes a delivery for the log: names, ids, status and error,
// never the secret, the body or the URL (whose path may be a credential).
func (n *Notifier) attrs(h *hook, d delivery, attempts int, o outcome) []slog.Attr {
	attrs := []slog.Attr{
		slog.String("webhook", h.Name),
		slog.String("event", d.event),
		slog.String("delivery", d.id),
		slog.Int("attempts", attempts),
	}
	if d.subject != "" {
		attrs = append(attrs, slog.String("subject", d.subject))
	}
	if o.status != 0 {
		attrs = append(attrs, slog.Int("status", o.status))
	}
	if o.err != nil {
		attrs = append(attrs, slog.String("error", safeError(o.err)))
	}
	return attrs
}

// safeError drops the URL that *url.Error puts in its message.
func safeError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err.Error()
	}
	return err.Error()
}
