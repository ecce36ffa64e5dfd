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

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10s")
		}
		time.Sleep(time.Millisecond)
	}
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
	waitFor(t, func() bool { return g.Waiting() == len(keys) })
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

// A caller that stops waiting leaves with its context's error, and the
// callers behind it are still answered.
func TestAWaitThatEndsStrandsNoOne(t *testing.T) {
	w := &wire{sent: make(chan []string, 64), let: make(chan struct{})}
	g := New(8, w.send)
	first := make(chan error, 1)
	go func() { _, err := g.Do(t.Context(), "first"); first <- err }()
	<-w.sent

	quitCtx, quit := context.WithCancel(t.Context())
	quitter := make(chan error, 1)
	go func() { _, err := g.Do(quitCtx, "q"); quitter <- err }()
	waitFor(t, func() bool { return g.Waiting() == 1 })
	waiter := make(chan string, 1)
	go func() { got, _ := g.Do(t.Context(), "w"); waiter <- got }()
	waitFor(t, func() bool { return g.Waiting() == 2 })
	quit()
	if err := <-quitter; !errors.Is(err, context.Canceled) {
		t.Fatalf("the caller that gave up: %v, want context.Canceled", err)
	}
	close(w.let)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if got := <-waiter; got != "v:w" {
		t.Fatalf("the caller behind one that gave up got %q", got)
	}
	waitFor(t, func() bool { g.mu.Lock(); defer g.mu.Unlock(); return !g.sending && len(g.queue) == 0 })
}

// When only callers that gave up are queued, the leader sends theirs and
// returns, and the group is idle after.
func TestOnlyGoneCallersQueued(t *testing.T) {
	w := &wire{sent: make(chan []string, 64), let: make(chan struct{})}
	g := New(8, w.send)
	first := make(chan error, 1)
	go func() { _, err := g.Do(t.Context(), "first"); first <- err }()
	<-w.sent
	quitCtx, quit := context.WithCancel(t.Context())
	quitter := make(chan error, 1)
	go func() { _, err := g.Do(quitCtx, "q"); quitter <- err }()
	waitFor(t, func() bool { return g.Waiting() == 1 })
	quit()
	<-quitter
	close(w.let)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.queue) != 0 || g.sending {
		t.Fatalf("after the last batch: %d queued, sending %v", len(g.queue), g.sending)
	}
	if got := w.seen(); len(got) != 2 || !slices.Equal(got[1], []string{"q"}) {
		t.Fatalf("batches %v: the gone caller's read should still go, by the leader", got)
	}
}

// A caller named to send whose wait has already ended still sends, so the
// ones behind it are answered.
func TestNamedLeaderThatGaveUpStillSends(t *testing.T) {
	w := &wire{sent: make(chan []string, 64), let: make(chan struct{})}
	g := New(1, w.send) // one key per batch: "n" is named to send the next
	first := make(chan error, 1)
	go func() { _, err := g.Do(t.Context(), "first"); first <- err }()
	<-w.sent
	// n's context ends the moment it is named: it must still send.
	nCtx, nQuit := context.WithCancel(t.Context())
	named := make(chan error, 1)
	go func() { _, err := g.Do(nCtx, "n"); named <- err }()
	waitFor(t, func() bool { return g.Waiting() == 1 })
	behind := make(chan string, 1)
	go func() { got, _ := g.Do(t.Context(), "b"); behind <- got }()
	waitFor(t, func() bool { return g.Waiting() == 2 })
	nQuit()
	// Whether n sees its end or its lead first, b must be answered.
	close(w.let)
	<-first
	<-named
	select {
	case got := <-behind:
		if got != "v:b" {
			t.Fatalf("behind a leader that gave up: %q", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the caller behind a named leader that gave up was stranded")
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
	waitFor(t, func() bool { return g.Waiting() == 2 })
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
