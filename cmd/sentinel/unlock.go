package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/sentinel-gw/sentinel/core/lock"
	"github.com/sentinel-gw/sentinel/ports"
)

// UnlockCmd ends a lock.
type UnlockCmd struct {
	ID     string `arg:"" help:"Lock id, or a unique prefix of at least 8 characters."`
	Output string `help:"Output format: table or json." short:"o" enum:"table,json" default:"table"`
}

// Help shows an example.
func (UnlockCmd) Help() string {
	return `New sessions may start at once; running servers serve again within 250 ms.

Example:
  sentinel unlock 3f2a9c1e7b4d`
}

// Run ends the lock and prints it.
func (c *UnlockCmd) Run(g *Globals, env *Env, stores *runStore) error {
	if err := notInTeamMode(g, "unlock", errNoBrokerLocks.Error()); err != nil {
		return err
	}
	if err := lockRecords.checkID(c.ID); err != nil {
		return err
	}
	ctx := context.Background()
	who, err := callerIdentity(ctx, g)
	if err != nil {
		return err
	}
	store, err := stores.open(ctx)
	if err != nil {
		return err
	}
	found, err := findLock(ctx, store, c.ID)
	if err != nil {
		return err
	}
	l, err := store.EndLock(ctx, found.ID, who.Name, env.Clock.Now())
	if errors.Is(err, ports.ErrInvalidTransition) {
		return fmt.Errorf("lock %s has already ended (%s): nothing to unlock", found.ID, lockState(found, env.Clock.Now()))
	}
	if err != nil {
		return err
	}
	if c.Output == "json" {
		return writeJSON(env.Stdout, l)
	}
	_, err = fmt.Fprintf(env.Stdout, "unlocked %s (lock %s, by %s)\n", lock.Target(l), l.ID, l.EndedBy)
	return err
}
