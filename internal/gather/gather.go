// Package gather sends the reads that callers ask for while one batch is on
// the wire as the next batch: group commit, for reads.
//
// A broker reads the caller's session record on every credential request,
// so under load many reads of a store wait at once. Gathered, they cost one
// round trip (a Redis pipeline, a DynamoDB BatchGetItem) instead of one
// each, on this side and on the store's. A read alone goes out at once.
// Every read is still sent after its caller asked and answered after it was
// sent, so a write acknowledged before the ask is seen: gathering changes
// how reads travel, never what they can miss.
//
// There is no goroutine of its own. The caller that finds nothing on the
// wire sends (the leader); once its own read is answered, the first caller
// still waiting is named to send the next, so a caller sends batches only
// until its own read is back, and one whose wait ends while it is named
// still sends.
package gather

import (
	"context"
	"sync"
	"time"
)

// Result is the answer to one key.
type Result[V any] struct {
	Value V
	Err   error
}

// SendFunc reads distinct keys in one round trip and answers each, in order.
// Its ctx carries the latest deadline of the callers in the batch (or
// DefaultBound when one has none), never a caller's cancellation.
type SendFunc[K comparable, V any] func(ctx context.Context, keys []K) []Result[V]

// DefaultBound is a batch's deadline when one of its callers has none: a
// store that never answers must not hold every later read behind it.
const DefaultBound = 30 * time.Second

// Group gathers reads of one kind; the zero value is not usable (see New).
type Group[K comparable, V any] struct {
	send SendFunc[K, V]
	max  int

	mu      sync.Mutex
	queue   []*call[K, V]
	sending bool // a leader is sending, or has been named
}

type call[K comparable, V any] struct {
	ctx  context.Context
	key  K
	res  Result[V]
	done chan struct{} // closed once res is set
	lead chan struct{} // closed when this call is to send the next batch
	// leader and gone are guarded by Group.mu.
	leader, gone bool
}

// New returns a group that sends at most limit distinct keys per batch.
func New[K comparable, V any](limit int, send SendFunc[K, V]) *Group[K, V] {
	return &Group[K, V]{send: send, max: max(1, limit)}
}

// Do reads key, in a batch with whatever other reads gathered meanwhile.
// When ctx ends first, Do returns ctx.Err() and the read may still be sent.
func (g *Group[K, V]) Do(ctx context.Context, key K) (V, error) {
	c := &call[K, V]{ctx: ctx, key: key, done: make(chan struct{}), lead: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, c)
	if !g.sending {
		g.sending, c.leader = true, true
		close(c.lead)
	}
	g.mu.Unlock()

	var zero V
	select {
	case <-c.done:
	case <-c.lead:
		g.lead(c) // returns once its own read is answered
	case <-ctx.Done():
		g.mu.Lock()
		named := c.leader
		c.gone = !named
		g.mu.Unlock()
		if named { // the others wait for it to send
			g.lead(c)
		}
		return zero, ctx.Err()
	}
	return c.res.Value, c.res.Err
}

// Waiting reports how many reads are queued for the next batch (for tests).
func (g *Group[K, V]) Waiting() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

// lead sends batches until its own read (self's) is answered and then
// names the first caller still waiting to send the next; with no one
// waiting, it sends on, until the queue is empty.
func (g *Group[K, V]) lead(self *call[K, V]) {
	for {
		g.run(g.take())

		g.mu.Lock()
		if len(g.queue) == 0 {
			g.sending = false
			g.queue = nil
			g.mu.Unlock()
			return
		}
		if answered(self) {
			for _, next := range g.queue {
				if !next.gone {
					next.leader = true
					close(next.lead)
					g.mu.Unlock()
					return
				}
			}
		}
		g.mu.Unlock()
	}
}

func answered[K comparable, V any](c *call[K, V]) bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// take removes from the queue the calls of the next batch: the first max
// distinct keys, and every queued call for one of them.
func (g *Group[K, V]) take() []*call[K, V] {
	g.mu.Lock()
	defer g.mu.Unlock()
	keys := make(map[K]bool, min(len(g.queue), g.max))
	var batch, rest []*call[K, V]
	for _, c := range g.queue {
		if keys[c.key] || len(keys) < g.max {
			keys[c.key] = true
			batch = append(batch, c)
		} else {
			rest = append(rest, c)
		}
	}
	g.queue = rest
	return batch
}

// run sends one batch of distinct keys and answers every call in it.
func (g *Group[K, V]) run(batch []*call[K, V]) {
	var keys []K
	slot := make(map[K]int, len(batch))
	for _, c := range batch {
		if _, seen := slot[c.key]; !seen {
			slot[c.key] = len(keys)
			keys = append(keys, c.key)
		}
	}
	ctx, cancel := batchContext(batch)
	defer cancel()
	results := g.send(ctx, keys)
	for _, c := range batch {
		if i := slot[c.key]; i < len(results) {
			c.res = results[i]
		} else {
			c.res.Err = errShortAnswer
		}
		close(c.done)
	}
}

// batchContext carries the first caller's values and the latest of the
// callers' deadlines, bounded by DefaultBound.
func batchContext[K comparable, V any](batch []*call[K, V]) (context.Context, context.CancelFunc) {
	latest := time.Now().Add(DefaultBound)
	if d, ok := batch[0].ctx.Deadline(); ok {
		latest = d
		for _, c := range batch[1:] {
			cd, ok := c.ctx.Deadline()
			if !ok {
				latest = time.Now().Add(DefaultBound)
				break
			}
			if cd.After(latest) {
				latest = cd
			}
		}
	}
	return context.WithDeadline(context.WithoutCancel(batch[0].ctx), latest)
}

type shortAnswer struct{}

func (shortAnswer) Error() string { return "gather: the batch answered fewer keys than it was sent" }

var errShortAnswer error = shortAnswer{}
