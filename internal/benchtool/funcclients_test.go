package benchtool

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"
)

// funcDoer answers from a function and counts its calls and closes.
type funcDoer struct {
	get    func() (int, error)
	closed *atomic.Int64
}

func (d funcDoer) Get() (int, error) { return d.get() }
func (d funcDoer) Close() error      { d.closed.Add(1); return nil }

// The loops drive ClientsOf's Doers like any other: one per connection,
// each closed, and their answers counted as 200s, statuses and transport errors.
func TestClientsOfDrivesTheLoops(t *testing.T) {
	var calls, made, closed atomic.Int64
	clients := ClientsOf(func() Doer {
		made.Add(1)
		return funcDoer{closed: &closed, get: func() (int, error) {
			switch calls.Add(1) % 3 {
			case 0:
				return 0, errors.New("no answer")
			case 1:
				return http.StatusForbidden, nil
			}
			return http.StatusOK, nil
		}}
	})
	defer clients.Close()
	r, err := ClosedLoop(context.Background(), clients, "func", LoadConfig{Conns: 3, Duration: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if made.Load() != 3 || closed.Load() != 3 {
		t.Errorf("made %d Doers and closed %d, want 3 and 3", made.Load(), closed.Load())
	}
	if r.OK == 0 || r.Statuses[http.StatusForbidden] == 0 || r.TransportErrors == 0 {
		t.Errorf("OK %d, 403s %d, transport errors %d: want each counted", r.OK, r.Statuses[http.StatusForbidden], r.TransportErrors)
	}
	if r.OK+r.Errors != r.Requests {
		t.Errorf("OK %d + errors %d != requests %d", r.OK, r.Errors, r.Requests)
	}
}
