package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/sentinel-gw/sentinel/core/breakglass"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// minRetention keeps a typo from deleting what just ended.
const minRetention = time.Hour

// StoreSweepCmd deletes ended records older than the retention.
type StoreSweepCmd struct {
	overrideCommand
	Retention time.Duration `help:"Keep ended records this long after their last change (at least 1h)." default:"168h" placeholder:"DURATION"`
	Archive   string        `help:"Append every record deleted, whole, as one JSON line to this file first (created 0600; default: retired.jsonl beside the decision log)." type:"path" placeholder:"FILE"`
	NoArchive bool          `help:"Delete without archiving the records (their history is then gone)."`
	Output    string        `help:"Output format: table or json." short:"o" enum:"table,json" default:"table"`
}

// Help shows examples.
func (StoreSweepCmd) Help() string {
	return `Deletes the sessions, approval requests and break-glass events that ended
(revoked or expired; denied, expired or cancelled; closed or expired) and whose
every time (last change, lease or deadline, revoke) is older than --retention.
Break-glass events are kept as long as the policy's break-glass rules look back
(window, cooldown) too, so that no rate limit undercounts.
A revoked session whose lease still runs is kept, so a server that has not yet
read its revoke can never write it back active. Lapsed records are stored as
expired first. The decision log keeps the trail of every credential decision;
the archive (unless --no-archive) keeps every deleted record, whole: who
revoked, approved, denied or closed it, when and why. A long-running sentinel serve sweeps
on its own; run this from cron for a solo store.

Examples:
  sentinel store sweep
  sentinel store sweep --retention 720h --archive /var/log/sentinel/retired.jsonl`
}

// Run deletes the retired records.
func (c *StoreSweepCmd) Run(g *Globals, env *Env, logger *slog.Logger, stores *runStore) error {
	if c.Retention < minRetention {
		return usageError{fmt.Sprintf("--retention must be at least %s", minRetention)}
	}
	pol, err := c.loadPolicy()
	if err != nil {
		return fmt.Errorf("the sweep reads the policy to keep the break-glass events its rate limits count: %w", err)
	}
	ctx := context.Background()
	store, err := stores.open(ctx)
	if err != nil {
		return err
	}
	if c.NoArchive && c.Archive != "" {
		return usageError{"give --archive or --no-archive, not both"}
	}
	var archive *os.File
	var sink io.Writer // nil, not a nil *os.File, when there is no archive
	if !c.NoArchive {
		if c.Archive == "" {
			c.Archive = filepath.Join(filepath.Dir(defaultLogPath(env.Getenv)), "retired.jsonl")
		}
		if err := os.MkdirAll(filepath.Dir(c.Archive), 0o700); err != nil {
			return fmt.Errorf("create the archive's folder: %w", err)
		}
		archive, err = os.OpenFile(c.Archive, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return fmt.Errorf("open the archive: %w", err)
		}
		defer archive.Close() //nolint:errcheck // synced below before any success is reported
		sink = archive
	}
	got, err := sweepRetired(ctx, store, env.Clock, logger, c.Retention, pol, sink)
	if archive != nil {
		if serr := archive.Sync(); serr != nil && err == nil {
			err = fmt.Errorf("sync the archive %s: %w", c.Archive, serr)
		}
	}
	if err != nil {
		return fmt.Errorf("store %s: %d sessions, %d requests, %d break-glass events deleted before: %w",
			redactedStore(g.Store), got.Sessions, got.Requests, got.BreakGlass, err)
	}
	if c.Output == "json" {
		return writeJSON(env.Stdout, got)
	}
	_, err = fmt.Fprintf(env.Stdout, "deleted %d sessions, %d requests and %d break-glass events that ended more than %s ago\n",
		got.Sessions, got.Requests, got.BreakGlass, c.Retention)
	return err
}

// sweepRetired stores lapsed records as expired, then deletes every record
// retired at now minus retention (break-glass events: or earlier, as far
// back as pol's break-glass rules count them), writing each to archive
// (when not nil) as a JSON line first. A long-running process calls it on
// a timer.
func sweepRetired(ctx context.Context, store ports.Stores, clock ports.Clock, logger *slog.Logger,
	retention time.Duration, pol *policy.Policy, archive io.Writer,
) (ports.RetiredCounts, error) {
	sweeper, ok := store.(ports.RetentionSweeper)
	if !ok {
		return ports.RetiredCounts{}, fmt.Errorf("this store cannot delete retired records")
	}
	sweep(ctx, store, clock, logger)
	sweepRequests(ctx, store, clock, logger)
	sweepBreakGlass(ctx, store, clock, logger)
	now := clock.Now()
	var write func(ports.RetiredRecord) error
	if archive != nil {
		enc := json.NewEncoder(archive)
		write = func(r ports.RetiredRecord) error {
			return enc.Encode(struct {
				DeletedAt time.Time `json:"deleted_at"`
				ports.RetiredRecord
			}{now, r})
		}
	}
	cut := ports.CutoffsAt(now.Add(-retention))
	for i := range pol.BreakGlass {
		if since := breakglass.HistorySince(&pol.BreakGlass[i], now); since.Before(cut.BreakGlass) {
			cut.BreakGlass = since
		}
	}
	return sweeper.DeleteRetired(ctx, cut, write)
}
