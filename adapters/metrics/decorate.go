package metrics

import (
	"context"
	"net/http"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// DecisionLog passes every record on to next and counts it by outcome and
// mode: every credential request writes exactly one record, so the counts
// are the requests decided.
func (m *Metrics) DecisionLog(next ports.DecisionLog) ports.DecisionLog {
	return &decisionLog{m: m, next: next}
}

type decisionLog struct {
	m    *Metrics
	next ports.DecisionLog
}

func (d *decisionLog) Record(ctx context.Context, r ports.DecisionRecord) error {
	d.m.ObserveDecision(r)
	return d.next.Record(ctx, r)
}

// InstrumentHandler times every request h serves into
// sentinel_credential_request_duration_seconds.
func (m *Metrics) InstrumentHandler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := m.clock.Now()
		h.ServeHTTP(w, r)
		m.ObserveRequest(m.clock.Now().Sub(start))
	})
}

// InstrumentPaths is InstrumentHandler for the requests to paths only (a
// broker's credential operations), passing every other request through.
func (m *Metrics) InstrumentPaths(h http.Handler, paths ...string) http.Handler {
	timed := m.InstrumentHandler(h)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range paths {
			if r.URL.Path == p {
				timed.ServeHTTP(w, r)
				return
			}
		}
		h.ServeHTTP(w, r)
	})
}

// SessionStore times every call to next into
// sentinel_store_operation_duration_seconds and counts its failures in
// sentinel_store_errors_total, labelled by method name. A method the port
// gains later passes through untimed until it is added here.
//
// A store that confirms reads (ports.ReadAcknowledger, DynamoDB) stays one:
// a server's session view finds that by a type assertion, and without it a
// revoker would wait for a confirmation that never comes.
func (m *Metrics) SessionStore(next ports.SessionStore) ports.SessionStore {
	s := &sessionStore{SessionStore: next, m: m}
	if a, ok := next.(ports.ReadAcknowledger); ok {
		return struct {
			*sessionStore
			ports.ReadAcknowledger
		}{s, a}
	}
	return s
}

type sessionStore struct {
	ports.SessionStore
	m *Metrics
}

// timed runs f as store operation op.
func timed[T any](m *Metrics, op string, f func() (T, error)) (T, error) {
	start := m.clock.Now()
	v, err := f()
	m.ObserveStore(op, m.clock.Now().Sub(start), err)
	return v, err
}

func (s *sessionStore) CreateSession(ctx context.Context, in ports.Session) (ports.Session, error) {
	return timed(s.m, "CreateSession", func() (ports.Session, error) { return s.SessionStore.CreateSession(ctx, in) })
}

func (s *sessionStore) GetSession(ctx context.Context, id string) (ports.Session, error) {
	return timed(s.m, "GetSession", func() (ports.Session, error) { return s.SessionStore.GetSession(ctx, id) })
}

func (s *sessionStore) UpdateSession(ctx context.Context, in ports.Session) (ports.Session, error) {
	return timed(s.m, "UpdateSession", func() (ports.Session, error) { return s.SessionStore.UpdateSession(ctx, in) })
}

func (s *sessionStore) TouchSession(ctx context.Context, id string, at time.Time, n int64) (ports.Session, error) {
	return timed(s.m, "TouchSession", func() (ports.Session, error) { return s.SessionStore.TouchSession(ctx, id, at, n) })
}

func (s *sessionStore) ListSessionsByUser(ctx context.Context, user string, p ports.Page) (ports.SessionPage, error) {
	return timed(s.m, "ListSessionsByUser", func() (ports.SessionPage, error) { return s.SessionStore.ListSessionsByUser(ctx, user, p) })
}

func (s *sessionStore) ListSessionsByProfile(ctx context.Context, profile string, p ports.Page) (ports.SessionPage, error) {
	return timed(s.m, "ListSessionsByProfile", func() (ports.SessionPage, error) {
		return s.SessionStore.ListSessionsByProfile(ctx, profile, p)
	})
}

func (s *sessionStore) ListSessionsByStatus(ctx context.Context, status ports.SessionStatus, p ports.Page) (ports.SessionPage, error) {
	return timed(s.m, "ListSessionsByStatus", func() (ports.SessionPage, error) {
		return s.SessionStore.ListSessionsByStatus(ctx, status, p)
	})
}

func (s *sessionStore) ListSessionsByServerInstance(ctx context.Context, instanceID string, p ports.Page) (ports.SessionPage, error) {
	return timed(s.m, "ListSessionsByServerInstance", func() (ports.SessionPage, error) {
		return s.SessionStore.ListSessionsByServerInstance(ctx, instanceID, p)
	})
}

func (s *sessionStore) ExpireLapsedSessions(ctx context.Context, now time.Time) (int, error) {
	return timed(s.m, "ExpireLapsedSessions", func() (int, error) { return s.SessionStore.ExpireLapsedSessions(ctx, now) })
}
