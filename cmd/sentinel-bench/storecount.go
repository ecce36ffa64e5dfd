package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/adapters/brokerhttp"
	"github.com/sentinel-gw/sentinel/internal/benchtool"
	"github.com/sentinel-gw/sentinel/internal/storeurl"
	"github.com/sentinel-gw/sentinel/ports"
)

// countRequests is how many credential requests the store count spans,
// sent one after another so that nothing else of the bench's is in flight.
const countRequests = 1000

// countIdle is how long the background (heartbeats, the broker's own
// polling) is counted with no credential request, to set it apart.
const countIdle = 2 * time.Second

// storeCount is what the store was sent per credential request.
type storeCount struct {
	// PerRequest is commands per credential request, background removed.
	PerRequest float64
	// ByCommand is each command's calls per credential request (raw).
	ByCommand map[string]float64
	// Background is commands per second with no credential request.
	Background float64
}

// storeCounter reads, from outside the broker, the calls its store has
// answered so far by command; own names the command each read adds itself.
type storeCounter struct {
	what     string
	snapshot func(ctx context.Context) (map[string]int64, error)
	own      string
}

// counterFor is the store's counter: Redis's INFO commandstats, or the
// DynamoDB counting proxy when the broker goes through one; nil (with the
// reason) when the store cannot be counted from outside.
func counterFor(store string, proxy *countingProxy) (*storeCounter, func(), string, error) {
	if proxy != nil {
		return &storeCounter{what: "DynamoDB calls through the bench's counting proxy",
			snapshot: func(context.Context) (map[string]int64, error) { return proxy.snapshot(), nil }}, func() {}, "", nil
	}
	spec, err := storeurl.Parse(store)
	if err != nil {
		return nil, nil, "", err
	}
	switch {
	case spec.Kind == storeurl.DynamoDB:
		return nil, nil, "DynamoDB Local keeps no counters: give -count-dynamodb to route the broker through a counting proxy", nil
	case spec.Kind != storeurl.Redis:
		return nil, nil, "a bbolt file is read inside the broker's process", nil
	case spec.Cluster || spec.TLS:
		return nil, nil, "the bench counts a single plain-TCP Redis server only", nil
	}
	rdb := redis.NewClient(&redis.Options{Addr: spec.Addr, Username: spec.Username, Password: spec.Password, DB: spec.DB})
	return &storeCounter{what: "Redis INFO commandstats", own: "info", snapshot: func(ctx context.Context) (map[string]int64, error) {
		info, err := rdb.Info(ctx, "commandstats").Result()
		if err != nil {
			return nil, fmt.Errorf("redis INFO commandstats: %w", err)
		}
		return parseCommandStats(info), nil
	}}, func() { _ = rdb.Close() }, "", nil
}

// countStoreReads counts, from the store server's side, the commands the
// broker sends per credential request: the counter before and after
// countRequests sequential requests, less the background rate measured
// over countIdle before them.
func countStoreReads(ctx context.Context, store string, proxy *countingProxy, c *brokerhttp.Client, sessions []string, w io.Writer) (*storeCount, error) {
	counter, done, why, err := counterFor(store, proxy)
	if err != nil {
		return nil, err
	}
	if counter == nil {
		_, err := fmt.Fprintf(w, "== store commands per credential request: not counted (%s)\n", why)
		return nil, err
	}
	defer done()
	idle0, err := counter.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	time.Sleep(countIdle)
	before, err := counter.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	var self int64 // calls each snapshot adds to the count
	if counter.own != "" {
		self = 1
	}
	background := float64(total(before)-total(idle0)-self) / countIdle.Seconds()
	began := time.Now()
	for i := range countRequests {
		if _, err := c.SessionCredentials(ctx, ports.SessionCredentialsInput{SessionID: sessions[i%len(sessions)]}); err != nil {
			return nil, fmt.Errorf("credential request %d while counting: %w", i, err)
		}
	}
	elapsed := time.Since(began)
	after, err := counter.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	out := &storeCount{ByCommand: map[string]float64{}, Background: background}
	var names []string
	for name, n := range after {
		d := n - before[name]
		if name == counter.own {
			d-- // the counter's own
		}
		if d > 0 {
			out.ByCommand[name] = float64(d) / countRequests
			names = append(names, name)
		}
	}
	slices.Sort(names)
	raw := float64(total(after)-total(before)-self) / countRequests
	out.PerRequest = max(0, raw-background*elapsed.Seconds()/countRequests)
	var b strings.Builder
	fmt.Fprintf(&b, "== store commands per credential request (%s, %d sequential requests over %d sessions in %s)\n", counter.what, countRequests, len(sessions), benchtool.Ms(elapsed))
	fmt.Fprintf(&b, "  per request  %.2f commands (raw %.2f, less the idle background of %.1f commands/s)\n  by command  ", out.PerRequest, raw, background)
	for _, name := range names {
		fmt.Fprintf(&b, " %s %.2f", name, out.ByCommand[name])
	}
	b.WriteString("\n")
	_, err = io.WriteString(w, b.String())
	return out, err
}

// parseCommandStats reads "cmdstat_get:calls=12,usec=..." lines into calls per command.
func parseCommandStats(info string) map[string]int64 {
	out := map[string]int64{}
	sc := bufio.NewScanner(strings.NewReader(info))
	for sc.Scan() {
		name, rest, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if !ok || !strings.HasPrefix(name, "cmdstat_") {
			continue
		}
		for field := range strings.SplitSeq(rest, ",") {
			if v, ok := strings.CutPrefix(field, "calls="); ok {
				if n, err := strconv.ParseInt(v, 10, 64); err == nil {
					out[strings.TrimPrefix(name, "cmdstat_")] = n
				}
			}
		}
	}
	return out
}

func total(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}
