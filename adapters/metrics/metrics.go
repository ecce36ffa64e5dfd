// Package metrics exposes Sentinel's Prometheus metrics, on a registry of
// its own (never the global one), served at /metrics on a listener of its
// own. The core knows nothing of it: the metrics are fed by decorators and
// observers around the ports (a DecisionLog that counts outcomes from the
// records it passes on, an HTTP handler wrapper that times requests, a
// SessionStore that times store calls, a policy-reload observer) and by the
// timers that set the active-session gauge.
package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sentinel-gw/sentinel/core/broker"
	"github.com/sentinel-gw/sentinel/ports"
)

// Path is where Serve answers.
const Path = "/metrics"

// Outcome label values of sentinel_credential_requests_total.
const (
	OutcomeAllow   = "allow"
	OutcomeDeny    = "deny"
	OutcomeRevoked = "revoked"
	OutcomeError   = "error"
)

// Metrics is one process's metrics. Its methods are safe for concurrent use.
type Metrics struct {
	reg   *prometheus.Registry
	clock ports.Clock

	requests         *prometheus.CounterVec
	requestDuration  prometheus.Histogram
	storeErrors      *prometheus.CounterVec
	storeDuration    *prometheus.HistogramVec
	revocations      prometheus.Counter
	approvals        prometheus.Counter
	breakGlass       prometheus.Counter
	activeSessions   prometheus.Gauge
	policyInfo       *prometheus.GaugeVec
	policyLoadErrors prometheus.Counter

	policyMu      sync.Mutex
	policyVersion string // the version policyInfo shows, "" for none
}

// Options configures New.
type Options struct {
	// Clock times requests and store calls; nil is the system clock.
	Clock ports.Clock
}

// latencyBuckets span 50 µs (a request served from memory) to 10 s (an STS
// call or a store timing out), in seconds.
var latencyBuckets = []float64{0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// New registers every metric, and the Go runtime and process collectors,
// on a new registry.
func New(opts ...Options) *Metrics {
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Clock == nil {
		o.Clock = ports.SystemClock{}
	}
	m := &Metrics{
		reg:   prometheus.NewRegistry(),
		clock: o.Clock,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sentinel_credential_requests_total",
			Help: "Credential requests decided, by outcome (allow, deny, revoked, error) and request mode.",
		}, []string{"outcome", "mode"}),
		requestDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "sentinel_credential_request_duration_seconds",
			Help:    "Time to answer a credential request, from the request read to the response written.",
			Buckets: latencyBuckets,
		}),
		storeErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "sentinel_store_errors_total",
			Help: "Store operations that failed (not found and conflicts are answers, not errors), by operation.",
		}, []string{"operation"}),
		storeDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "sentinel_store_operation_duration_seconds",
			Help:    "Time a store operation took, by operation.",
			Buckets: latencyBuckets,
		}, []string{"operation"}),
		revocations:    counter("sentinel_revocations_total", "Sessions revoked."),
		approvals:      counter("sentinel_approvals_total", "Access requests approved."),
		breakGlass:     counter("sentinel_breakglass_total", "Break-glass events opened."),
		activeSessions: prometheus.NewGauge(prometheus.GaugeOpts{Name: "sentinel_active_sessions", Help: "Server sessions active now."}),
		policyInfo: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "sentinel_policy_info",
			Help: "1 for the version (sha256 of the file) of the policy in force; no series while none is (every request refused).",
		}, []string{"version"}),
		policyLoadErrors: counter("sentinel_policy_load_errors_total", "Policy loads refused (invalid, missing, unreadable or unsafe file)."),
	}
	m.reg.MustRegister(
		m.requests, m.requestDuration, m.storeErrors, m.storeDuration,
		m.revocations, m.approvals, m.breakGlass, m.activeSessions,
		m.policyInfo, m.policyLoadErrors,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

func counter(name, help string) prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
}

// Registry is the registry every metric is on, for tests and for a caller
// that adds its own.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in the Prometheus text format (or what the
// scraper negotiates).
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// Serve listens on addr and serves Handler at /metrics (everything else is
// 404) until ctx ends. It returns once listening, with the address bound
// (useful with port 0) and a channel closed when the server has stopped.
func (m *Metrics) Serve(ctx context.Context, addr string) (string, <-chan struct{}, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET "+Path, m.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second, IdleTimeout: 90 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln) // ends with ErrServerClosed once ctx ends, or when the listener fails
	}()
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
	}()
	return ln.Addr().String(), done, nil
}

// ObserveDecision counts one decided credential request. The outcome is
// the record's Outcome; for a record without one, allow when the effect is
// allow, error when it carries an error, deny otherwise.
//
// A broker's audit record (Action set) is no credential request: an
// allowed revoke of one session, approval or break-glass opening counts in
// its own counter instead.
func (m *Metrics) ObserveDecision(r ports.DecisionRecord) {
	if r.Action != "" {
		m.observeAction(r)
		return
	}
	m.requests.WithLabelValues(outcomeOf(r), r.Mode).Inc()
}

// observeAction counts what an allowed broker action did.
func (m *Metrics) observeAction(r ports.DecisionRecord) {
	if r.Effect != "allow" {
		return
	}
	switch r.Action {
	case broker.ActionRevoke:
		if r.SessionID != "" { // one line per session revoked
			m.revocations.Inc()
		}
	case broker.ActionRequestApprove:
		m.approvals.Inc()
	case broker.ActionBreakGlassOpen:
		m.breakGlass.Inc()
	}
}

func outcomeOf(r ports.DecisionRecord) string {
	switch {
	case r.Outcome != "":
		return r.Outcome
	case r.Effect == "allow":
		return OutcomeAllow
	case r.Error != "":
		return OutcomeError
	default:
		return OutcomeDeny
	}
}

// ObserveRequest records how long one credential request took.
func (m *Metrics) ObserveRequest(d time.Duration) { m.requestDuration.Observe(d.Seconds()) }

// ObserveStore records one store operation: its duration, and an error
// unless err is nil or an answer (not found, conflict, already exists).
func (m *Metrics) ObserveStore(op string, d time.Duration, err error) {
	m.storeDuration.WithLabelValues(op).Observe(d.Seconds())
	if isFault(err) {
		m.storeErrors.WithLabelValues(op).Inc()
	}
}

func isFault(err error) bool {
	return err != nil && !errors.Is(err, ports.ErrNotFound) && !errors.Is(err, ports.ErrConflict) &&
		!errors.Is(err, ports.ErrAlreadyExists) && !errors.Is(err, context.Canceled)
}

// SetActiveSessions sets the number of active server sessions.
func (m *Metrics) SetActiveSessions(n int) { m.activeSessions.Set(float64(n)) }

// ObservePolicy records one policy load attempt: inForce is the version
// deciding requests afterwards ("" when none is), err why the attempt
// failed. It fits policyfile.Source's reload hook.
func (m *Metrics) ObservePolicy(inForce string, err error) {
	if err != nil {
		m.policyLoadErrors.Inc()
	}
	m.policyMu.Lock()
	defer m.policyMu.Unlock()
	if inForce == m.policyVersion {
		return
	}
	if inForce != "" {
		m.policyInfo.WithLabelValues(inForce).Set(1) // before the old one goes: a scrape never sees none
	}
	if m.policyVersion != "" {
		m.policyInfo.DeleteLabelValues(m.policyVersion)
	}
	m.policyVersion = inForce
}
