package memory

import (
	"context"
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// table is one record type's map and how the store reads and writes it.
// Sessions, approval requests, break-glass events and locks share the code
// that creates, reads, updates, lists and sweeps through it. Every table
// holds the Store's one mutex, so a change that reads several tables (a
// break-glass create checks the others) stays atomic.
type table[T any] struct {
	m            *Store
	noun, plural string // "session", "sessions": for messages
	rows         map[string]T
	position     func(T) ports.Position
	// valid reports whether rec's status is known; status names it for
	// the message when it is not.
	valid  func(T) bool
	status func(T) string
	// stored is rec as the store keeps it: times in UTC without a
	// monotonic reading, lists copied, as an encoding backend would.
	stored func(T) T
	// asOf is a stored rec as it reads at now: a lapsed record reads as
	// expired, Version unchanged. It copies what a caller could alias.
	asOf    func(rec T, now time.Time) T
	version func(*T) *int64
	// lapsed and expire drive ExpireLapsed*: expire stores the expired
	// status and UpdatedAt now.
	lapsed func(rec T, now time.Time) bool
	expire func(rec *T, now time.Time)
}

func (t *table[T]) id(rec T) string { return t.position(rec).ID }

// ref fails on a done context or an empty id.
func (t *table[T]) ref(ctx context.Context, op, id string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory: %s %s %q: %w", op, t.noun, id, err)
	}
	if id == "" {
		return fmt.Errorf("memory: %s %s: empty id: %w", op, t.noun, ports.ErrInvalidArgument)
	}
	return nil
}

// check refuses a record to write: done context, empty id, unknown status.
func (t *table[T]) check(ctx context.Context, op string, rec T) error {
	if err := t.ref(ctx, op, t.id(rec)); err != nil {
		return err
	}
	if !t.valid(rec) {
		return fmt.Errorf("memory: %s %s %q: unknown status %q: %w", op, t.noun, t.id(rec), t.status(rec), ports.ErrInvalidArgument)
	}
	return nil
}

// create stores rec with Version 1 unless its id is taken or guard (run
// under the lock with the clock's now, may be nil) refuses it.
func (t *table[T]) create(ctx context.Context, rec T, guard func(rec T, now time.Time) error) (T, error) {
	var zero T
	if err := t.check(ctx, "create", rec); err != nil {
		return zero, err
	}
	rec = t.stored(rec)
	*t.version(&rec) = 1
	return t.insert(rec, guard)
}

// insert stores rec as given unless its id is taken or guard refuses it.
func (t *table[T]) insert(rec T, guard func(rec T, now time.Time) error) (T, error) {
	var zero T
	id := t.id(rec)
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	if _, taken := t.rows[id]; taken {
		return zero, fmt.Errorf("memory: create %s %q: %w", t.noun, id, ports.ErrAlreadyExists)
	}
	now := t.m.clock.Now()
	if guard != nil {
		if err := guard(rec, now); err != nil {
			return zero, fmt.Errorf("memory: create %s %q: %w", t.noun, id, err)
		}
	}
	t.rows[id] = rec
	return t.asOf(rec, now), nil
}

// get returns the record as it reads now.
func (t *table[T]) get(ctx context.Context, id string) (T, error) {
	var zero T
	if err := t.ref(ctx, "get", id); err != nil {
		return zero, err
	}
	t.m.mu.RLock()
	rec, ok := t.rows[id]
	t.m.mu.RUnlock()
	if !ok {
		return zero, fmt.Errorf("memory: get %s %q: %w", t.noun, id, ports.ErrNotFound)
	}
	return t.asOf(rec, t.m.clock.Now()), nil
}

// update replaces the record when the stored Version equals rec's.
func (t *table[T]) update(ctx context.Context, rec T) (T, error) {
	var zero T
	if err := t.check(ctx, "update", rec); err != nil {
		return zero, err
	}
	rec = t.stored(rec)
	id := t.id(rec)
	return t.change(ctx, "update", id, func(stored T) (T, error) {
		if have, want := *t.version(&stored), *t.version(&rec); have != want {
			return zero, fmt.Errorf("memory: update %s %q: stored version %d, caller's %d: %w", t.noun, id, have, want, ports.ErrConflict)
		}
		return rec, nil
	})
}

// change replaces the stored record id with what fn makes of it, writing
// Version+1, under the lock so nothing changes it in between. fn's error
// is returned as it is.
func (t *table[T]) change(ctx context.Context, op, id string, fn func(stored T) (T, error)) (T, error) {
	var zero T
	if err := t.ref(ctx, op, id); err != nil {
		return zero, err
	}
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	stored, ok := t.rows[id]
	if !ok {
		return zero, fmt.Errorf("memory: %s %s %q: %w", op, t.noun, id, ports.ErrNotFound)
	}
	rec, err := fn(stored)
	if err != nil {
		return zero, err
	}
	*t.version(&rec) = *t.version(&stored) + 1
	t.rows[id] = rec
	return t.asOf(rec, t.m.clock.Now()), nil
}

// expireLapsed stores expired for every record that has lapsed at now.
// Under the one lock each change is trivially conditional: nothing can
// revoke, cancel or close in between.
func (t *table[T]) expireLapsed(ctx context.Context, now time.Time) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("memory: expire lapsed %s: %w", t.plural, err)
	}
	now = now.UTC()
	t.m.mu.Lock()
	defer t.m.mu.Unlock()
	changed := 0
	for id, rec := range t.rows {
		if !t.lapsed(rec, now) {
			continue
		}
		t.expire(&rec, now)
		*t.version(&rec)++
		t.rows[id] = rec
		changed++
	}
	return changed, nil
}

// list pages, newest first, the records whose view as of now match accepts.
func (t *table[T]) list(ctx context.Context, what string, p ports.Page, match func(T) bool) ([]T, string, error) {
	if err := ctx.Err(); err != nil {
		return nil, "", fmt.Errorf("memory: list %s %s: %w", t.plural, what, err)
	}
	after, resume, err := ports.CheckPage(p)
	if err != nil {
		return nil, "", fmt.Errorf("memory: list %s %s: %w", t.plural, what, err)
	}
	now := t.m.clock.Now()
	var matched []T
	t.m.mu.RLock()
	for _, rec := range t.rows {
		rec = t.asOf(rec, now)
		if match(rec) && (!resume || t.position(rec).Compare(after) > 0) {
			matched = append(matched, rec)
		}
	}
	t.m.mu.RUnlock()
	ports.SortByPosition(matched, t.position)
	items, next := ports.CutPage(matched, p.Limit, t.position)
	return items, next, nil
}

// listByStatus pages the records whose effective status is status.
func (t *table[T]) listByStatus(ctx context.Context, status string, valid bool, p ports.Page) ([]T, string, error) {
	if !valid {
		return nil, "", fmt.Errorf("memory: list %s by status: unknown status %q: %w", t.plural, status, ports.ErrInvalidArgument)
	}
	return t.list(ctx, "by status", p, func(rec T) bool { return t.status(rec) == status })
}

// all returns every stored record, as stored.
func (t *table[T]) all(ctx context.Context) ([]T, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("memory: list %s: %w", t.plural, err)
	}
	t.m.mu.RLock()
	defer t.m.mu.RUnlock()
	out := make([]T, 0, len(t.rows))
	for _, rec := range t.rows {
		out = append(out, rec)
	}
	return out, nil
}
