package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// The scale bench's defaults.
const (
	scaleActive     = 100  // active sessions across users, the listings' working set
	scaleUserActive = 1000 // the user's active sessions one by-user revoke ends
	scaleRepeat     = 5    // timed runs per read-only operation; the median is printed
	scaleWorkers    = 32   // concurrent writers while seeding a server store
	scaleUser       = "scale-target"
	scaleListLimit  = 100 // server-sessions' default --limit
)

// parseSizes reads -sizes: comma-separated positive record counts, ascending.
func parseSizes(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("-sizes %q: want positive record counts such as 1000,10000,100000", s)
		}
		if len(out) > 0 && n <= out[len(out)-1] {
			return nil, fmt.Errorf("-sizes %q: the counts must grow", s)
		}
		out = append(out, n)
	}
	return out, nil
}

// scaleRow is one operation measured at one store size.
type scaleRow struct {
	op    string
	size  int
	took  time.Duration
	reads readCount
}

// runScale seeds each size in turn (mostly ended sessions) into a fresh
// namespace of the store and measures the listings and the by-user revoke
// through the same functions the CLI commands use.
func runScale(ctx context.Context, o options, stdout io.Writer) error {
	dir, err := os.MkdirTemp("", "sentinel-bench-scale-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir) //nolint:errcheck // best effort
	clock := ports.SystemClock{}
	cs, err := openCounted(ctx, o.store, dir, true, clock)
	if err != nil {
		return err
	}
	defer func() {
		if cs.cleanup != nil {
			if err := cs.cleanup(context.WithoutCancel(ctx)); err != nil {
				fmt.Fprintf(os.Stderr, "sentinel-bench: cleanup: %v\n", err)
			}
		}
		_ = cs.Close()
	}()
	fmt.Fprintf(stdout, "scale bench: store %s\n", cs.where)
	fmt.Fprintf(stdout, "each size holds %d active sessions across users; the rest ended (revoked or expired), half of them %s's;\n", o.active, scaleUser)
	fmt.Fprintf(stdout, "the by-user revoke adds %d active sessions of %s and ends them. Times are medians of %d runs (the revoke: 1 run).\n\n", o.userActive, scaleUser, o.repeat)

	sd := &seeder{store: cs, writers: cs.writers, start: clock.Now()}
	if err := sd.active(ctx, o.active, ""); err != nil {
		return err
	}
	var rows []scaleRow
	for _, size := range o.sizes {
		began := time.Now()
		if err := sd.ended(ctx, size-sd.count()); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "seeded to %d records in %s\n", sd.count(), time.Since(began).Round(time.Millisecond))
		got, err := measureSize(ctx, cs, sd, o, size)
		if err != nil {
			return err
		}
		rows = append(rows, got...)
	}
	fmt.Fprintln(stdout)
	return writeScale(stdout, rows, o.sizes[0])
}

// measureSize runs every operation at one size.
func measureSize(ctx context.Context, cs *countedStore, sd *seeder, o options, size int) ([]scaleRow, error) {
	var rows []scaleRow
	var next string // page 1's cursor
	// What server-sessions runs: the lapsed-session sweep, then session.List.
	list := func(status, cursor string) (ports.SessionPage, error) {
		sweepLapsed(ctx, cs)
		return session.List(ctx, cs, session.Filter{Status: status}, ports.Page{Limit: scaleListLimit, Cursor: cursor})
	}
	ops := []struct {
		name string
		run  func() error
	}{
		{"server-sessions --status all (page 1)", func() error {
			p, err := list("all", "")
			next = p.Next
			return err
		}},
		{"server-sessions --status all (page 2)", func() error {
			if next == "" {
				return errors.New("page 1 said no page follows")
			}
			_, err := list("all", next)
			return err
		}},
		{"the old revoke listing: the user's history", func() error {
			// What server-revoke --user listed before ActiveSessionLister:
			// every session of the user, to keep the active ones.
			page := ports.Page{Limit: ports.MaxPageLimit}
			for {
				p, err := cs.ListSessionsByUser(ctx, scaleUser, page)
				if err != nil || p.Next == "" {
					return err
				}
				page.Cursor = p.Next
			}
		}},
		{"server-sessions --status active", func() error {
			_, err := list("active", "")
			return err
		}},
		{"store stats", func() error {
			reader, ok := cs.Stores.(ports.StatsReader)
			if !ok {
				return errors.New("the store cannot count its records")
			}
			_, err := reader.Stats(ctx)
			return err
		}},
	}
	for _, op := range ops {
		var times []time.Duration
		var reads readCount
		for i := range o.repeat {
			before := cs.count()
			began := time.Now()
			if err := op.run(); err != nil {
				return nil, fmt.Errorf("%s at %d records: %w", op.name, size, err)
			}
			times = append(times, time.Since(began))
			if i == 0 {
				reads = cs.count().minus(before)
			}
		}
		rows = append(rows, scaleRow{op: op.name, size: size, took: median(times), reads: reads})
	}

	// The revoke ends what it lists, so it runs once per size, on
	// sessions seeded for it.
	if err := sd.active(ctx, o.userActive, scaleUser); err != nil {
		return nil, err
	}
	before := cs.count()
	began := time.Now()
	// The adapter itself, not the counting wrapper, so the revoke finds
	// its ports.ActiveSessionLister as the CLI's would.
	res, err := session.BulkRevoke{User: scaleUser, By: "sentinel-bench", Reason: "scale bench"}.Run(ctx, cs.Stores, ports.SystemClock{})
	took := time.Since(began)
	reads := cs.count().minus(before)
	switch {
	case err != nil:
		return nil, fmt.Errorf("server-revoke --user at %d records: %w", size, err)
	case len(res.Failed) > 0:
		return nil, fmt.Errorf("server-revoke --user at %d records: %d failed, first: %w", size, len(res.Failed), res.Failed[0])
	case len(res.Revoked) != o.userActive:
		return nil, fmt.Errorf("server-revoke --user at %d records: revoked %d, want %d", size, len(res.Revoked), o.userActive)
	}
	rows = append(rows, scaleRow{op: fmt.Sprintf("server-revoke --user (%d active)", o.userActive), size: size, took: took, reads: reads})
	return rows, nil
}

// sweepLapsed is what every listing command does first (cmd/sentinel's sweep).
func sweepLapsed(ctx context.Context, cs *countedStore) {
	_, _ = cs.ExpireLapsedSessions(ctx, ports.SystemClock{}.Now())
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// writeScale prints every operation at every size, with ratios against
// the first size: a flat cost reads ~1.0x.
func writeScale(w io.Writer, rows []scaleRow, base int) error {
	byOp := map[string]scaleRow{}
	var order []string
	for _, r := range rows {
		if r.size == base {
			byOp[r.op] = r
			order = append(order, r.op)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool {
		return slices.Index(order, rows[i].op) < slices.Index(order, rows[j].op)
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "operation\trecords\ttime\tvs %d\tround trips\treads\tvs %d\t\n", base, base)
	for _, r := range rows {
		b := byOp[r.op]
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%d\t%s\t\n", r.op, r.size, fmtDuration(r.took),
			ratio(float64(r.took), float64(b.took)), r.reads.Trips, r.reads.Reads, ratio(float64(r.reads.Reads), float64(b.reads.Reads)))
	}
	return tw.Flush()
}

func fmtDuration(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 2, 64) + " ms"
}

func ratio(v, base float64) string {
	if base == 0 {
		return "-"
	}
	return strconv.FormatFloat(v/base, 'f', 2, 64) + "x"
}

// seeder writes sessions through the store's own CreateSession, many at
// once. Ended sessions get ever older CreatedAt times, all before start;
// active ones get CreatedAt after it, so they list first.
type seeder struct {
	store   ports.SessionStore
	writers int
	start   time.Time
	seq     atomic.Int64 // sessions written
	older   atomic.Int64 // ended sessions written, for their times
	newer   atomic.Int64 // active sessions written, for their times
	userSeq atomic.Int64
}

func (sd *seeder) count() int { return int(sd.seq.Load()) }

// ended writes n ended sessions, revoked and expired in turn, half of them
// the by-user revoke's user's (the worst case for a listing by user).
func (sd *seeder) ended(ctx context.Context, n int) error {
	return sd.write(ctx, n, func(i int64) ports.Session {
		at := sd.start.Add(-time.Duration(sd.older.Add(1)) * time.Second)
		s := newSeedSession(at, fmt.Sprintf("user-%03d", i%500))
		if i%2 == 0 {
			s.User = scaleUser
		}
		if i%3 == 0 {
			s.Status, s.ExpiresAt = ports.SessionExpired, at.Add(time.Hour)
		} else {
			s.Status, s.RevokedAt, s.RevokedBy, s.RevokedReason = ports.SessionRevoked, at.Add(30*time.Minute), "secops", "seeded"
		}
		s.UpdatedAt = at.Add(time.Hour)
		return s
	})
}

// active writes n active sessions with a day's lease: user's, or spread
// over 20 users when user is empty.
func (sd *seeder) active(ctx context.Context, n int, user string) error {
	return sd.write(ctx, n, func(i int64) ports.Session {
		at := sd.start.Add(time.Duration(sd.newer.Add(1)) * time.Millisecond)
		u := user
		if u == "" {
			u = fmt.Sprintf("user-%03d", i%20)
		}
		return newSeedSession(at, u)
	})
}

func newSeedSession(at time.Time, user string) ports.Session {
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	return ports.Session{
		ID: hex.EncodeToString(id), User: user, Profile: "prod", ServerInstanceID: "bench-" + hex.EncodeToString(id[:4]),
		Status: ports.SessionActive, IdentitySource: "os", StartedAt: at, LastAccessAt: at,
		ExpiresAt: time.Now().Add(24 * time.Hour), SourceIdentity: "sentinel:" + user,
		CreatedAt: at, UpdatedAt: at,
	}
}

// write creates n sessions made by mk, scaleWorkers at a time.
func (sd *seeder) write(ctx context.Context, n int, mk func(i int64) ports.Session) error {
	if n <= 0 {
		return nil
	}
	var (
		next  atomic.Int64
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for range min(max(sd.writers, 1), n) {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				if _, err := sd.store.CreateSession(ctx, mk(sd.userSeq.Add(1))); err != nil {
					mu.Lock()
					if first == nil {
						first = fmt.Errorf("seed: %w", err)
					}
					mu.Unlock()
					next.Store(int64(n)) // stop the others
					return
				}
				sd.seq.Add(1)
			}
		})
	}
	wg.Wait()
	return first
}

// runSeed writes active (and ended) sessions into the namespace the store
// URL names and keeps them: a fixture for measuring something else against
// a store with that many live sessions (such as a broker's credential
// requests while 1,000 sessions are active).
func runSeed(ctx context.Context, o options, stdout io.Writer) error {
	if o.store == "" {
		return errors.New("-mode seed needs -store: the store to write the sessions into")
	}
	cs, err := openCounted(ctx, o.store, "", false, ports.SystemClock{})
	if err != nil {
		return err
	}
	defer cs.Close() //nolint:errcheck // nothing left to do on failure
	sd := &seeder{store: cs, writers: cs.writers, start: ports.SystemClock{}.Now()}
	began := time.Now()
	if err := sd.ended(ctx, o.ended); err != nil {
		return err
	}
	if err := sd.active(ctx, o.active, o.user); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seeded %d active and %d ended sessions into %s in %s\n", o.active, o.ended, cs.where,
		time.Since(began).Round(time.Millisecond))
	return nil
}
