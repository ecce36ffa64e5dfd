package gateway

import (
	"sync"
	"time"

	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// DefaultRememberedLimit bounds a Remembered: at a few hundred bytes an
// entry, a broker's memory of ended sessions stays within tens of megabytes.
const DefaultRememberedLimit = 100_000

// Remembered is a process's memory of the sessions it has seen end
// (revoked, expired or lapsed), shared by every gateway that serves
// sessions without a Tracker of its own (a broker's). An end, once seen, is
// refused from memory for good, even if the store later loses the record or
// goes away. It holds at most its limit of sessions, forgetting the
// longest-remembered first; a forgotten session is still refused by the
// store read every request makes. The zero value is not usable: use
// NewRemembered. A nil *Remembered remembers nothing.
type Remembered struct {
	mu    sync.Mutex
	limit int
	ends  map[string]End
	// ring holds the remembered ids in the order they were first seen;
	// next is where the next one goes, evicting the id there.
	ring []string
	next int
}

// End is how a remembered session ended.
type End struct {
	Status ports.SessionStatus // revoked or expired
	// By, Reason and At are set for a revoke.
	By, Reason string
	At         time.Time
}

// NewRemembered returns an empty memory of at most limit sessions (0 or
// less: DefaultRememberedLimit).
func NewRemembered(limit int) *Remembered {
	if limit <= 0 {
		limit = DefaultRememberedLimit
	}
	return &Remembered{limit: limit, ends: map[string]End{}}
}

// Observe remembers s if it has ended at now (a lapsed lease counts: no
// heartbeat can revive it). An active session is not remembered, and a
// session already remembered keeps its first end. It reports whether s has
// ended.
func (r *Remembered) Observe(s ports.Session, now time.Time) bool {
	status := session.EffectiveStatus(s, now)
	if status == ports.SessionActive || r == nil || s.ID == "" {
		return status != ports.SessionActive
	}
	end := End{Status: status}
	if status == ports.SessionRevoked {
		end.By, end.Reason, end.At = s.RevokedBy, s.RevokedReason, s.RevokedAt
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, seen := r.ends[s.ID]; seen {
		return true
	}
	if len(r.ring) < r.limit {
		r.ring = append(r.ring, s.ID)
	} else {
		delete(r.ends, r.ring[r.next])
		r.ring[r.next] = s.ID
		r.next = (r.next + 1) % r.limit
	}
	r.ends[s.ID] = end
	return true
}

// Ended returns how session id ended, if it is remembered.
func (r *Remembered) Ended(id string) (End, bool) {
	if r == nil {
		return End{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.ends[id]
	return e, ok
}

// Len is how many sessions are remembered.
func (r *Remembered) Len() int {
	if r == nil {
		return 0
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.ends)
}

// Err is the refusal of a request for session id that ended as e.
func (e End) Err(id string) error {
	if e.Status == ports.SessionRevoked {
		return &RevokedError{SessionID: id, By: e.By, Reason: e.Reason, At: e.At}
	}
	return &SessionEndedError{SessionID: id}
}
