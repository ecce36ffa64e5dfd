package redisstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/ports"
)

// layout is how one record type sits in Redis: its keys, hash fields,
// statuses and indexes. The type's scripts are generated from it, so
// sessions, approval requests and break-glass events share one set of
// script bodies and one Go code path.
type layout struct {
	name   string // key word ("{P}:<name>:<id>") and event kind
	noun   string // for messages: "break-glass event"
	plural string
	// indexSub separates the type's indexes below "{P}:idx:". Sessions
	// have none: their keys came first and stay where they are.
	indexSub string
	// fields are every hash field a script loads, from _pos to version;
	// newKind derives them from the codec.
	fields []string
	ints   []string // canonical decimal integers
	// optional fields came after records were first written: a record
	// without one (written by an older sentinel) reads as holding the zero
	// value ("0" for an integer, "" otherwise), never as corrupt, so an
	// upgrade mid-session leaves every session readable and revocable.
	optional []string
	bools    []string // "0" or "1"
	times    []string // newKind derives them from timesOf
	// statuses are the valid ones; a record stored in one of lapsing
	// reads as expired once expires_at is at or before now.
	statuses []string
	lapsing  []string
	expired  string
	indexes  []index
	// eventPrefix starts the payload of the type's events (see Event).
	eventPrefix string
	// announceCreate publishes the first status of a new record too: a new
	// break-glass event grants access, so a server must hear of it.
	announceCreate bool
	scripts        scripts
}

// index is one family of sorted sets: "{P}:idx:<indexSub><name>:<value>",
// one member per record, see memberOf.
type index struct {
	name string
	// fields make the value: one field as is; several joined by value so
	// that no two tuples make the same value.
	fields []string
	// status, when set, keeps only records stored in that status.
	status string
	// unique: a create refuses a live record (stored in status and not
	// lapsed at the caller's now) while the set holds another live one.
	unique bool
}

// value is the index value of a record whose fields get returns: each field
// but the last prefixed with its length in bytes, "5:alice" + "prod".
func (ix index) value(get func(string) string) string {
	var b strings.Builder
	for i, name := range ix.fields {
		v := get(name)
		if i < len(ix.fields)-1 {
			b.WriteString(strconv.Itoa(len(v)) + ":")
		}
		b.WriteString(v)
	}
	return b.String()
}

// holds reports whether a stored record with fields f belongs under value.
func (ix index) holds(f map[string]string, value string) bool {
	return (ix.status == "" || f[fieldStatus] == ix.status) && ix.value(func(name string) string { return f[name] }) == value
}

// kind is a layout plus the Go side of one record type T.
type kind[T any] struct {
	*layout
	// encode is every field of rec as name, value pairs, except the schema
	// marker, the position and the version.
	encode func(rec T) []string
	// read decodes what encode wrote, version included.
	read func(d *decoder) T
	// timesOf points at every time field of rec, by field name, so one
	// piece of code checks and truncates them.
	timesOf   func(rec *T) map[string]*time.Time
	position  func(T) ports.Position
	status    func(T) string
	setStatus func(rec *T, status string)
	version   func(rec *T) *int64
	lapsed    func(T, time.Time) bool
}

// newKind completes k's layout from its codec and builds its scripts.
func newKind[T any](k kind[T]) *kind[T] {
	var zero T
	l := k.layout
	l.fields = []string{fieldPosition}
	for i, v := range k.encode(zero) {
		if i%2 == 0 {
			l.fields = append(l.fields, v)
		}
	}
	l.fields = append(l.fields, fieldVersion)
	for name := range k.timesOf(&zero) {
		l.times = append(l.times, name)
	}
	slices.Sort(l.times)
	l.scripts = buildScripts(l)
	return &k
}

func (k *kind[T]) key(s *Store, id string) string { return s.tag + k.name + ":" + id }

func (k *kind[T]) indexBase(s *Store) string { return s.tag + "idx:" + k.indexSub }

// hset is rec as HSET arguments: schema marker and position first, no version.
func (k *kind[T]) hset(rec T) []any {
	pairs := k.encode(rec)
	args := make([]any, 0, len(pairs)+4)
	args = append(args, fieldSchema, schemaVersion, fieldPosition, positionOf(k.position(rec).CreatedAt))
	for _, v := range pairs {
		args = append(args, v)
	}
	return args
}

func (k *kind[T]) corrupt(id, reason string) error {
	return fmt.Errorf("stored %s %q: %s: %w", k.noun, id, reason, ports.ErrCorrupt)
}

// decode reads the hash stored for id. Anything it cannot trust is an error
// wrapping ports.ErrCorrupt that names id.
func (k *kind[T]) decode(id string, f map[string]string) (T, error) {
	var zero T
	if v, ok := f[fieldSchema]; !ok || v != schemaVersion {
		return zero, k.corrupt(id, fmt.Sprintf("schema marker %s=%q, want %q (foreign data?)", fieldSchema, v, schemaVersion))
	}
	d := decoder{f: f}
	rec := k.read(&d)
	pos, at := d.text(fieldPosition), k.position(rec)
	switch {
	case d.err != nil:
		return zero, k.corrupt(id, d.err.Error())
	case at.ID != id:
		return zero, k.corrupt(id, fmt.Sprintf("record holds id %q", at.ID))
	case !slices.Contains(k.statuses, k.status(rec)):
		return zero, k.corrupt(id, fmt.Sprintf("unknown status %q", k.status(rec)))
	case *k.version(&rec) < 1:
		return zero, k.corrupt(id, fmt.Sprintf("version %d below 1", *k.version(&rec)))
	case pos != positionOf(at.CreatedAt):
		return zero, k.corrupt(id, fmt.Sprintf("index position %q does not match created_at", pos))
	}
	return rec, nil
}

// effective reports a lapsed record as expired, Version unchanged.
func (k *kind[T]) effective(rec T, now time.Time) T {
	if k.lapsed(rec, now) {
		k.setStatus(&rec, k.expired)
	}
	return rec
}

// prepare refuses a record the store cannot write and returns it as a read
// will return it: times in UTC, whole microseconds.
func (k *kind[T]) prepare(s *Store, what string, in T) (T, error) {
	var zero T
	if err := s.check(what, k.position(in).ID); err != nil {
		return zero, err
	}
	if st := k.status(in); !slices.Contains(k.statuses, st) {
		return zero, fmt.Errorf("redis: %s: unknown status %q: %w", what, st, ports.ErrInvalidArgument)
	}
	for name, t := range k.timesOf(&in) {
		if !storable(*t) {
			return zero, fmt.Errorf("redis: %s: %s %s is outside the storable range: %w", what, name, *t, ports.ErrInvalidArgument)
		}
		*t = truncated(*t)
	}
	return in, nil
}

// create stores in as given with Version 1. The script refuses a taken id,
// and a live record a unique index already holds a live one for.
func (k *kind[T]) create(ctx context.Context, s *Store, in T) (T, error) {
	var zero T
	what := fmt.Sprintf("create %s %q", k.noun, k.position(in).ID)
	rec, err := k.prepare(s, what, in)
	if err != nil {
		return zero, err
	}
	*k.version(&rec) = 1
	now := s.clock.Now()
	if !storable(now) {
		return zero, fmt.Errorf("redis: %s: the clock's now %s is outside the storable range: %w", what, now, ports.ErrInvalidArgument)
	}
	args := append([]any{s.tag + k.name + ":", k.indexBase(s), encodeTime(now), s.events}, k.hset(rec)...)
	args = append(args, fieldVersion, "1")
	if err := k.scripts.create.Run(ctx, s.client, []string{k.key(s, k.position(rec).ID)}, args...).Err(); err != nil {
		return zero, mapError(what, err)
	}
	return k.effective(rec, now), nil
}

// get returns the record as it reads now.
func (k *kind[T]) get(ctx context.Context, s *Store, id string) (T, error) {
	var zero T
	what := fmt.Sprintf("get %s %q", k.noun, id)
	if err := s.check(what, id); err != nil {
		return zero, err
	}
	fields, err := s.gets.Do(ctx, k.key(s, id))
	if err != nil && ctx.Err() == nil && !errors.Is(err, redis.Nil) {
		// A read is safe to send again: after a Redis restart the pool's
		// first use of each old connection fails once, and a server with
		// --on-store-error=deny must not refuse for that. (Writes are never
		// re-sent: one that landed before its reply was lost would apply twice.)
		fields, err = s.client.HGetAll(ctx, k.key(s, id)).Result()
	}
	if err != nil {
		return zero, mapError(what, err)
	}
	if len(fields) == 0 {
		return zero, mapError(what, ports.ErrNotFound)
	}
	rec, err := k.decode(id, fields)
	if err != nil {
		return zero, mapError(what, err)
	}
	return k.effective(rec, s.clock.Now()), nil
}

// update replaces the record when the stored Version equals in's.
func (k *kind[T]) update(ctx context.Context, s *Store, in T) (T, error) {
	var zero T
	id := k.position(in).ID
	what := fmt.Sprintf("update %s %q", k.noun, id)
	rec, err := k.prepare(s, what, in)
	if err != nil {
		return zero, err
	}
	args := append([]any{k.indexBase(s), encodeInt(*k.version(&rec)), s.events}, k.hset(rec)...)
	reply, err := k.scripts.update.Run(ctx, s.client, []string{k.key(s, id)}, args...).Text()
	if err != nil {
		return zero, mapError(what, err)
	}
	v, err := strconv.ParseInt(reply, 10, 64)
	if err != nil {
		return zero, mapError(what, k.corrupt(id, fmt.Sprintf("version %q after the update", reply)))
	}
	*k.version(&rec) = v
	return k.effective(rec, s.clock.Now()), nil
}

// expireBatch is how many index members one sweep round reads.
const expireBatch = 256

// expireLapsed stores expired for every record that has lapsed at now. It
// reads the indexes of the lapsing statuses in batches, picks the lapsed
// records, and expires each with a script that checks again, so a
// concurrent revoke, cancel or close always wins. Corrupt records are
// skipped and reported after the sweep in an error wrapping
// ports.ErrCorrupt; on any error the count is of the records changed
// before it.
func (k *kind[T]) expireLapsed(ctx context.Context, s *Store, now time.Time) (int, error) {
	what := "expire lapsed " + k.plural
	if s.closed.Load() {
		return 0, fmt.Errorf("redis: %s: the store is closed: %w", what, ports.ErrUnavailable)
	}
	if !storable(now) {
		return 0, fmt.Errorf("redis: %s: now %s outside the storable range: %w", what, now, ports.ErrInvalidArgument)
	}
	nowArg, base := encodeTime(now), k.indexBase(s)
	changed := 0
	var corruptIDs []string
	for _, status := range k.lapsing {
		key := base + "status:" + status
		for from := "-"; ; {
			members, err := s.client.ZRangeByLex(ctx, key, &redis.ZRangeBy{Min: from, Max: "+", Count: expireBatch}).Result()
			if err != nil {
				return changed, mapError(what, err)
			}
			lapsed, bad, err := k.lapsedAmong(ctx, s, members, now)
			if err != nil {
				return changed, mapError(what, err)
			}
			corruptIDs = append(corruptIDs, bad...)
			for _, id := range lapsed {
				n, err := k.scripts.expire.Run(ctx, s.client, []string{k.key(s, id)}, base, nowArg, s.events, id).Int()
				err = mapError(fmt.Sprintf("expire %s %q", k.noun, id), err)
				switch {
				case errors.Is(err, ports.ErrNotFound):
				case errors.Is(err, ports.ErrCorrupt):
					corruptIDs = append(corruptIDs, id)
				case err != nil:
					return changed, err
				default:
					changed += n
				}
			}
			if len(members) < expireBatch {
				break
			}
			from = "(" + members[len(members)-1]
		}
	}
	if len(corruptIDs) > 0 {
		return changed, fmt.Errorf("redis: %s: skipped %d corrupt record(s) %q: %w", what, len(corruptIDs), corruptIDs, ports.ErrCorrupt)
	}
	return changed, nil
}

// lapsedAmong reads the records the index members name (one pipeline) and
// returns the ids that read lapsed at now, and the ids whose records are
// corrupt. Missing records (stale index entries) are skipped.
func (k *kind[T]) lapsedAmong(ctx context.Context, s *Store, members []string, now time.Time) (lapsed, bad []string, err error) {
	ids := make([]string, 0, len(members))
	for _, m := range members {
		if id, ok := idOfMember(m); ok {
			ids = append(ids, id)
		}
	}
	found, err := k.readRecords(ctx, s, ids)
	for _, f := range found {
		switch {
		case f.err != nil:
			bad = append(bad, f.id)
		case f.fields != nil && k.lapsed(f.rec, now):
			lapsed = append(lapsed, f.id)
		}
	}
	return lapsed, bad, err
}

// stored is one record read by readRecords: fields is nil when there is
// none; err is set when it is corrupt.
type stored[T any] struct {
	id     string
	fields map[string]string
	rec    T
	err    error
}

// readRecords reads the records of ids in one pipeline. The error is for
// the connection only; a record's own trouble is in its entry.
func (k *kind[T]) readRecords(ctx context.Context, s *Store, ids []string) ([]stored[T], error) {
	if len(ids) == 0 {
		return nil, nil
	}
	pipe := s.client.Pipeline()
	cmds := make([]*redis.MapStringStringCmd, len(ids))
	for i, id := range ids {
		cmds[i] = pipe.HGetAll(ctx, k.key(s, id))
	}
	if _, err := pipe.Exec(ctx); err != nil && !isReply(err) {
		return nil, err
	}
	out := make([]stored[T], len(ids))
	for i, cmd := range cmds {
		out[i].id = ids[i]
		fields, err := cmd.Result()
		switch {
		case err != nil && !isReply(err):
			return nil, err
		case err != nil: // WRONGTYPE: not a hash
			out[i].err = k.corrupt(ids[i], err.Error())
		case len(fields) > 0:
			out[i].fields = fields
			out[i].rec, out[i].err = k.decode(ids[i], fields)
		}
	}
	return out, nil
}

// isReply reports whether err is an error reply from the server to one
// command, rather than a failure of the connection.
func isReply(err error) bool {
	var reply redis.Error
	return errors.As(err, &reply)
}
