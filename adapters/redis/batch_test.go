package redisstore

import (
	"context"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/internal/testkit"
)

// wireHook counts the HGETALLs that reach the connection, alone or in
// pipelines, and can hold each send until let is closed.
type wireHook struct {
	single, pipelines, piped atomic.Int64
	largest                  atomic.Int64
	sent                     chan struct{} // one value per send, when set
	let                      chan struct{} // each send waits for it, when set
}

func (h *wireHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h *wireHook) hold(ctx context.Context) {
	if h.sent != nil {
		h.sent <- struct{}{}
	}
	if h.let != nil {
		select {
		case <-h.let:
		case <-ctx.Done():
		}
	}
}

func (h *wireHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cmd.Name() == "hgetall" {
			h.single.Add(1)
			h.hold(ctx)
		}
		return next(ctx, cmd)
	}
}

func (h *wireHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if len(cmds) == 0 || cmds[0].Name() != "hgetall" {
			return next(ctx, cmds) // the client's own: a connection's HELLO
		}
		h.pipelines.Add(1)
		h.piped.Add(int64(len(cmds)))
		for n := int64(len(cmds)); ; {
			old := h.largest.Load()
			if n <= old || h.largest.CompareAndSwap(old, n) {
				break
			}
		}
		h.hold(ctx)
		return next(ctx, cmds)
	}
}

// Reads asked for while one is on the wire go out together, and each caller
// gets its own key's fields, a missing key answers empty, and every read is
// sent exactly once.
func TestReadsGatherIntoPipelines(t *testing.T) {
	url := testenv.Redis(t)
	c := rawClient(t, url)
	defer c.Close()
	prefix := newPrefix(t, url)
	const callers = 40
	for i := range callers {
		if i%5 == 4 {
			continue // every fifth key is missing
		}
		if err := c.HSet(t.Context(), fmt.Sprintf("%s:k%d", prefix, i), "n", fmt.Sprint(i)).Err(); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for i := range callers {
			c.Del(context.Background(), fmt.Sprintf("%s:k%d", prefix, i))
		}
	})
	hook := &wireHook{sent: make(chan struct{}, callers), let: make(chan struct{})}
	c.AddHook(hook)

	b := newGets(c)
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	ask := func(i int) {
		defer wg.Done()
		got, err := b.Do(t.Context(), fmt.Sprintf("%s:k%d", prefix, i))
		switch {
		case err != nil:
			errs <- fmt.Errorf("key %d: %w", i, err)
		case i%5 == 4 && len(got) != 0:
			errs <- fmt.Errorf("missing key %d answered %v", i, got)
		case i%5 != 4 && got["n"] != fmt.Sprint(i):
			errs <- fmt.Errorf("key %d answered %v", i, got)
		}
	}
	wg.Add(1)
	go ask(0)
	<-hook.sent // the first read is on the wire, held
	for i := 1; i < callers; i++ {
		wg.Add(1)
		go ask(i)
	}
	testkit.Eventually(t, 10*time.Second, "the reads to gather", func() bool { return b.Waiting() == callers-1 })
	close(hook.let)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if sent := hook.single.Load() + hook.piped.Load(); sent != callers {
		t.Errorf("%d reads sent for %d asked", sent, callers)
	}
	if hook.single.Load() != 1 || hook.pipelines.Load() != 1 || hook.largest.Load() != callers-1 {
		t.Errorf("sent %d alone and %d pipelines (largest %d); want the first alone and the %d that gathered in one",
			hook.single.Load(), hook.pipelines.Load(), hook.largest.Load(), callers-1)
	}
}

// A read that fails on the wire fails its caller (get then tries once more,
// as a read may be).
func TestReadErrorReachesItsCaller(t *testing.T) {
	c := redis.NewClient(&redis.Options{Addr: unusedAddr(t), MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	if _, err := newGets(c).Do(t.Context(), "k"); err == nil {
		t.Fatal("a read from no server succeeded")
	}
}

// unusedAddr is a loopback address nothing listens on.
func unusedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return addr
}
