package main

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/sentinel-gw/sentinel/core/lock"
	"github.com/sentinel-gw/sentinel/ports"
)

// LocksCmd lists locks.
type LocksCmd struct {
	All    bool   `help:"List ended locks too (unlocked or run out), not only those in force."`
	Limit  int    `help:"At most this many locks." default:"100"`
	Output string `help:"Output format: table or json." short:"o" enum:"table,json" default:"table"`
}

// Help shows examples.
func (LocksCmd) Help() string {
	return `Examples:
  sentinel locks
  sentinel locks --all --output json`
}

// Run lists locks newest first.
func (c *LocksCmd) Run(g *Globals, env *Env, stores *runStore) error {
	if err := notInTeamMode(g, "locks", errNoBrokerLocks.Error()); err != nil {
		return err
	}
	if c.Limit < 1 || c.Limit > ports.MaxPageLimit {
		return usageError{fmt.Sprintf("--limit must be 1-%d", ports.MaxPageLimit)}
	}
	ctx := context.Background()
	store, err := stores.open(ctx)
	if err != nil {
		return err
	}
	now := env.Clock.Now()
	locks := []ports.Lock{}
	if c.All {
		locks, err = collectNewest(ctx, []listing[ports.Lock]{locksListing(store)}, func(ports.Lock) bool { return true }, ports.LockPosition, c.Limit)
	} else {
		var active []ports.Lock
		active, err = store.ListActiveLocks(ctx, now)
		locks = append(locks, active[:min(len(active), c.Limit)]...)
	}
	if err != nil {
		return err
	}
	if c.Output == "json" {
		return writeJSON(env.Stdout, locks)
	}
	return writeLockTable(env, now, locks)
}

func writeLockTable(env *Env, now time.Time, locks []ports.Lock) error {
	if len(locks) == 0 {
		_, err := fmt.Fprintln(env.Stdout, "no locks")
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTARGET\tSTATE\tBY\tCREATED\tENDS\tREASON")
	for _, l := range locks {
		ends := "never"
		if !l.ExpiresAt.IsZero() {
			ends = ago(now, l.ExpiresAt)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", l.ID[:min(len(l.ID), shortIDLen)], clip(lock.Target(l), 24),
			lockState(l, now), clip(l.CreatedBy, 14), ago(now, l.CreatedAt), ends, clip(l.Reason, 30))
	}
	return tw.Flush()
}
