package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sentinel-gw/sentinel/core/gateway"
	"github.com/sentinel-gw/sentinel/core/lock"
	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/ports"
)

// LockCmd locks a user or a profile out: running servers refuse their next
// request, and no new session starts, until the lock ends.
type LockCmd struct {
	User    string        `help:"Lock this user out: a name (every identity of that name, OS or AWS) or a full principal ARN (only that principal)." placeholder:"USER"`
	Profile string        `help:"Lock this profile: nobody gets its credentials." placeholder:"PROFILE"`
	TTL     time.Duration `name:"ttl" help:"End the lock on its own after this long (default: until sentinel unlock)." placeholder:"DURATION"`
	Reason  string        `help:"Why; recorded with the lock and shown to every refused caller." required:"" placeholder:"TEXT"`
	Output  string        `help:"Output format: table or json." short:"o" enum:"table,json" default:"table"`
}

// Help shows examples.
func (LockCmd) Help() string {
	return `A lock refuses every matching credential server at its next request (servers
re-read the locks every 250 ms; this command waits 500 ms, the bound plus a
read, before it returns), refuses new exec --server sessions, exec and credentials, and lasts
until --ttl runs out or someone runs sentinel unlock. Nothing lifts it early:
not the policy, an approval or break-glass.

Examples:
  sentinel lock --user alice --reason "laptop stolen"
  sentinel lock --user arn:aws:iam::111122223333:user/alice --ttl 2h --reason "INC-4711"
  sentinel lock --profile prod --ttl 30m --reason "freeze during the migration"`
}

// lockSlack covers the servers' read that picks the lock up: it starts
// within lock.Bound of the write and must also finish.
const lockSlack = lock.Bound

// Run creates the lock, waits out the servers' re-read bound and prints it.
func (c *LockCmd) Run(g *Globals, env *Env, stores *runStore) error {
	if err := notInTeamMode(g, "lock", errNoBrokerLocks.Error()); err != nil {
		return err
	}
	kind, target := ports.LockUser, c.User
	switch {
	case (c.User == "") == (c.Profile == ""):
		return usageError{"give exactly one of --user or --profile"}
	case c.Profile != "":
		kind, target = ports.LockProfile, c.Profile
	}
	if strings.TrimSpace(target) == "" {
		return usageError{fmt.Sprintf("--%s must not be blank", kind)}
	}
	if strings.TrimSpace(c.Reason) == "" {
		return usageError{"--reason must say why"}
	}
	if c.TTL < 0 {
		return usageError{fmt.Sprintf("--ttl %s is negative: give how long the lock lasts, e.g. --ttl 2h, or leave it out to lock until unlocked", c.TTL)}
	}
	ctx := context.Background()
	who, err := callerIdentity(ctx, g)
	if err != nil {
		return err
	}
	id, err := record.NewID()
	if err != nil {
		return err
	}
	store, err := stores.create(ctx)
	if err != nil {
		return err
	}
	now := env.Clock.Now()
	l := ports.Lock{ID: id, Kind: kind, Target: target, Reason: c.Reason, CreatedBy: who.Name, CreatedAt: now}
	if c.TTL > 0 {
		l.ExpiresAt = now.Add(c.TTL)
	}
	if l, err = store.CreateLock(ctx, l); err != nil {
		return fmt.Errorf("could not record the lock in %s: %w", redactedStore(g.Store), err)
	}
	// Every server re-reads the locks within lock.Bound: once this returns,
	// none serves a matching request.
	time.Sleep(lock.Bound + lockSlack)
	if c.Output == "json" {
		return writeJSON(env.Stdout, l)
	}
	_, err = fmt.Fprintf(env.Stdout, "locked %s %s: %s\nrunning servers refuse it from now on; end it early with: sentinel unlock %s\n",
		lock.Target(l), lock.Until(l), l.Reason, l.ID[:shortIDLen])
	return err
}

// lockState is "active", "unlocked" or "ran out" at now.
func lockState(l ports.Lock, now time.Time) string {
	switch {
	case !l.EndedAt.IsZero():
		return "unlocked"
	case l.InForce(now):
		return "active"
	}
	return "ran out"
}

var lockRecords = recordKind{noun: "lock", list: "sentinel locks --all"}

func locksListing(store ports.LockStore) listing[ports.Lock] {
	return func(ctx context.Context, p ports.Page) ([]ports.Lock, string, error) {
		got, err := store.ListLocks(ctx, p)
		return got.Locks, got.Next, err
	}
}

// findLock gets a lock by full id, or by a unique id prefix.
func findLock(ctx context.Context, store ports.LockStore, id string) (ports.Lock, error) {
	return findByID(ctx, lockRecords, id, store.GetLock, func(l ports.Lock) string { return l.ID }, locksListing(store))
}

// lockLookupOn is the gateway's lock check on store.
func lockLookupOn(store ports.LockStore) ports.LockLookup { return lock.NewChecker(store, lock.Bound) }

// guardLocks wires locks into deps for a credential server: it refuses the
// start while a lock covers the caller or profile, then keeps the locks
// read in the background (lock.Checker.Run) so requests never wait on the
// store for them. stop ends the loop; it is never nil.
func guardLocks(ctx context.Context, cfg gateway.Config, deps *gateway.Deps, locks ports.LockLookup, clock ports.Clock) (stop func(), err error) {
	deps.Locks = locks
	if err := gateway.New(cfg, *deps).CheckLocks(ctx); err != nil {
		return func() {}, err
	}
	checker, ok := locks.(*lock.Checker)
	if !ok {
		return func() {}, nil
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		checker.Run(loopCtx, clock)
	}()
	return func() { cancel(); <-done }, nil
}

// openLockLookup opens the store for the lock check of a run that has no
// store of its own (exec and credentials, exec --server --no-tracking). No
// store file means nothing was ever locked, and none is created. A store
// that cannot be opened is a lookup that fails, so --on-store-error
// decides (cli and credential_process modes serve, with a warning).
func openLockLookup(ctx context.Context, stores *runStore) ports.LockLookup {
	store, err := stores.open(ctx)
	if errors.Is(err, ports.ErrNotFound) {
		return nil
	}
	if err != nil {
		return failedLookup{fmt.Errorf("open %s: %w", redactedStore(stores.url), err)}
	}
	return lockLookupOn(store)
}

// failedLookup is the lock check of a store that could not be opened.
type failedLookup struct{ err error }

func (f failedLookup) ActiveLocks(context.Context, ports.Identity, string, time.Time) ([]ports.Lock, error) {
	return nil, f.err
}
