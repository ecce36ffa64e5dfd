package gather

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sentinel-gw/sentinel/internal/testkit"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// wire is a store that answers "v:<key>" (an error for a key "bad"),
// records every batch, and can hold each batch until let is closed.
type wire struct {
	mu      sync.Mutex
	batches [][]string
	sent    chan []string // each batch as it goes out, when set
	let     chan struct{} // each batch waits for it, when set
	ctxs    []context.Context
}

func (w *wire) send(ctx context.Context, keys []string) []Result[string] {
	w.mu.Lock()
	w.batches = append(w.batches, slices.Clone(keys))
	w.ctxs = append(w.ctxs, ctx)
	w.mu.Unlock()
	if w.sent != nil {
		w.sent <- keys
	}
	if w.let != nil {
		<-w.let
	}
	out := make([]Result[string], len(keys))
	for i, k := range keys {
		if k == "bad" {
			out[i].Err = errors.New("no such key")
			continue
		}
		out[i].Value = "v:" + k
	}
	return out
}

func (w *wire) seen() [][]string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.batches)
}

func TestAloneGoesAtOnce(t *testing.T) {
	w := &wire{}
	g := New(8, w.send)
	for i := range 3 {
		got, err := g.Do(t.Context(), fmt.Sprint(i))
		if err != nil || got != fmt.Sprintf("v:%d", i) {
			t.Fatalf("Do(%d) = %q, %v", i, got, err)
		}
	}
	if got := w.seen(); !slices.EqualFunc(got, [][]string{{"0"}, {"1"}, {"2"}}, slices.Equal) {
		t.Fatalf("batches %v, want three of one key each", got)
	}
	if _, err := g.Do(t.Context(), "bad"); err == nil || err.Error() != "no such key" {
		t.Fatalf("a key the store refuses: %v", err)
	}
}

// Reads asked for while a batch is out go as the next batch, at most limit
// distinct keys at a time, one read per distinct key however many ask for
// it, and each caller gets its own key's answer.
func TestReadsGatherBehindTheOneOnTheWire(t *testing.T) {
	w := &wire{sent: make(chan []string, 64), let: make(chan struct{})}
	g := New(4, w.send)
	type answer struct {
		key, got string
		err      error
	}
	answers := make(chan answer, 64)
	ask := func(key string) {
		got, err := g.Do(t.Context(), key)
		answers <- answer{key, got, err}
	}
	go ask("first")
	<-w.sent // held on the wire
	keys := []string{"a", "b", "a", "c", "d", "e", "a", "f"}
	for _, k := range keys {
		go ask(k)
	}
	testkit.Eventually(t, 10*time.Second, "the reads to gather", func() bool { return g.Waiting() == len(keys) })
	close(w.let)
	for range len(keys) + 1 {
		a := <-answers
		if a.err != nil || a.got != "v:"+a.key {
			t.Errorf("Do(%s) = %q, %v", a.key, a.got, a.err)
		}
	}
	batches := w.seen()
	if len(batches) != 3 || !slices.Equal(batches[0], []string{"first"}) {
		t.Fatalf("batches %v; want the first alone, then two", batches)
	}
	var sent []string
	for _, b := range batches[1:] {
		if len(b) > 4 {
			t.Errorf("a batch of %d keys, over the limit of 4: %v", len(b), b)
		}
		sent = append(sent, b...)
	}
	slices.Sort(sent)
	if want := []string{"a", "b", "c", "d", "e", "f"}; !slices.Equal(sent, want) {
		t.Errorf("keys sent %v, want each distinct key once: %v", sent, want)
	}
}

// The promise every revocation check rests on: a read of a key asked while
// a read of that very key is on the wire is not answered by it (that read
// may have left before a write the asker saw acknowledged); it goes out
// again, in the next batch.
func TestAReadOfTheKeyOnTheWireGoesAgain(t *testing.T) {
	h := holdFirst(t, 8)
	again := h.ask(t, t.Context(), "first")
	h.release(t)
	if r := <-again; r.Value != "v:first" || r.Err != nil {
		t.Fatalf("the second read got %q, %v", r.Value, r.Err)
	}
	if got := h.w.seen(); !slices.EqualFunc(got, [][]string{{"first"}, {"first"}}, slices.Equal) {
		t.Fatalf("batches %v, want the key sent twice: once for each ask", got)
	}
}

// held is a group whose wire holds each batch until let is closed, with a
// read of "first" on the wire.
type held struct {
	w     *wire
	g     *Group[string, string]
	first chan error
}

func holdFirst(t *testing.T, limit int) held {
	t.Helper()
	h := held{w: &wire{sent: make(chan []string, 64), let: make(chan struct{})}, first: make(chan error, 1)}
	h.g = New(limit, h.w.send)
	go func() { _, err := h.g.Do(t.Context(), "first"); h.first <- err }()
	<-h.w.sent
	return h
}

// ask starts a read of key under ctx and returns once it is queued; its
// answer comes on the channel.
func (h held) ask(t *testing.T, ctx context.Context, key string) chan Result[string] {
	t.Helper()
	before := h.g.Waiting()
	out := make(chan Result[string], 1)
	go func() {
		v, err := h.g.Do(ctx, key)
		out <- Result[string]{v, err}
	}()
	testkit.Eventually(t, 10*time.Second, key+"'s read to queue", func() bool { return h.g.Waiting() == before+1 })
	return out
}

// release lets the wire go and waits for the first read's answer.
func (h held) release(t *testing.T) {
	t.Helper()
	close(h.w.let)
	if err := <-h.first; err != nil {
		t.Fatal(err)
	}
}

func (h held) idle() bool {
	h.g.mu.Lock()
	defer h.g.mu.Unlock()
	return !h.g.sending && len(h.g.queue) == 0
}

// A caller that stops waiting leaves with its context's error, and the
// callers behind it are still answered.
func TestAWaitThatEndsStrandsNoOne(t *testing.T) {
	h := holdFirst(t, 8)
	quitCtx, quit := context.WithCancel(t.Context())
	quitter := h.ask(t, quitCtx, "q")
	waiter := h.ask(t, t.Context(), "w")
	quit()
	if r := <-quitter; !errors.Is(r.Err, context.Canceled) {
		t.Fatalf("the caller that gave up: %v, want context.Canceled", r.Err)
	}
	h.release(t)
	if r := <-waiter; r.Value != "v:w" || r.Err != nil {
		t.Fatalf("the caller behind one that gave up got %q, %v", r.Value, r.Err)
	}
	testkit.Eventually(t, 10*time.Second, "the group to be idle", h.idle)
}

// When only callers that gave up are queued, the leader sends theirs and
// returns, and the group is idle after.
func TestOnlyGoneCallersQueued(t *testing.T) {
	h := holdFirst(t, 8)
	quitCtx, quit := context.WithCancel(t.Context())
	quitter := h.ask(t, quitCtx, "q")
	quit()
	<-quitter
	h.release(t)
	if !h.idle() {
		t.Fatal("the group is not idle after the first read's leader returned")
	}
	if got := h.w.seen(); len(got) != 2 || !slices.Equal(got[1], []string{"q"}) {
		t.Fatalf("batches %v: the gone caller's read should still go, by the leader", got)
	}
}

// A caller named to send whose next batch holds only others' reads (gone
// callers ahead of it, one key per batch) sends on until its own is back,
// and the group ends idle.
func TestALeaderSendsOnUntilItsOwnReadIsBack(t *testing.T) {
	h := holdFirst(t, 1)
	quitCtx, quit := context.WithCancel(t.Context())
	gone := h.ask(t, quitCtx, "gone")
	named := h.ask(t, t.Context(), "named")
	quit()
	<-gone
	h.release(t)
	if r := <-named; r.Value != "v:named" || r.Err != nil {
		t.Fatalf("the named leader got %q, %v", r.Value, r.Err)
	}
	testkit.Eventually(t, 10*time.Second, "the group to be idle", h.idle)
	if got := h.w.seen(); len(got) != 3 || !slices.Equal(got[1], []string{"gone"}) || !slices.Equal(got[2], []string{"named"}) {
		t.Fatalf("batches %v, want first, gone, named", got)
	}
}

// The batch carries the latest of its callers' deadlines and none of their
// cancellations.
func TestBatchContext(t *testing.T) {
	w := &wire{sent: make(chan []string, 64), let: make(chan struct{})}
	g := New(8, w.send)
	soon, cancelSoon := context.WithTimeout(t.Context(), time.Minute)
	defer cancelSoon()
	later, cancelLater := context.WithTimeout(t.Context(), time.Hour)
	defer cancelLater()
	done := make(chan struct{}, 3)
	go func() { _, _ = g.Do(soon, "first"); done <- struct{}{} }()
	<-w.sent
	go func() { _, _ = g.Do(soon, "x"); done <- struct{}{} }()
	go func() { _, _ = g.Do(later, "y"); done <- struct{}{} }()
	testkit.Eventually(t, 10*time.Second, "the reads to gather", func() bool { return g.Waiting() == 2 })
	w.let <- struct{}{} // the first batch back
	<-w.sent            // the second on the wire, held
	w.mu.Lock()
	lone, gathered := w.ctxs[0], w.ctxs[1]
	w.mu.Unlock()
	if d, _ := lone.Deadline(); d.After(time.Now().Add(2 * time.Minute)) {
		t.Errorf("a lone caller's batch has deadline %v, want its own", d)
	}
	d, ok := gathered.Deadline()
	if want, _ := later.Deadline(); !ok || !d.Equal(want) {
		t.Errorf("the batch's deadline %v (%v), want the latest caller's %v", d, ok, want)
	}
	cancelSoon()
	if err := gathered.Err(); err != nil {
		t.Errorf("a caller's cancel reached the batch: %v", err)
	}
	w.let <- struct{}{}
	for range 3 {
		<-done
	}
}

// A send that answers fewer keys than it got fails the calls left over.
func TestShortAnswerIsAnError(t *testing.T) {
	g := New(8, func(context.Context, []string) []Result[string] { return nil })
	if _, err := g.Do(t.Context(), "k"); !errors.Is(err, errShortAnswer) {
		t.Fatalf("Do = %v, want the short-answer error", err)
	}
}
