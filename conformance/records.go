package conformance

import (
	"context"
	"errors"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// kind tells the generic tests how to reach one record type (approval
// requests, break-glass events) through an env.
type kind[T any] struct {
	noun     string
	position func(T) ports.Position
	// place sets the record's id and CreatedAt.
	place     func(r *T, at time.Time, id string)
	setStatus func(r *T, status string)
	version   func(r *T) *int64
	create    func(ctx context.Context, e env, r T) (T, error)
	get       func(ctx context.Context, e env, id string) (T, error)
	update    func(ctx context.Context, e env, r T) (T, error)
}

func (k kind[T]) id(r T) string { return k.position(r).ID }

func (k kind[T]) mustCreate(t *testing.T, e env, r T) T {
	t.Helper()
	got, err := k.create(t.Context(), e, r)
	if err != nil {
		t.Fatalf("create %s %s: %v", k.noun, k.id(r), err)
	}
	return got
}

func (k kind[T]) mustGet(t *testing.T, e env, id string) T {
	t.Helper()
	got, err := k.get(t.Context(), e, id)
	if err != nil {
		t.Fatalf("get %s %s: %v", k.noun, id, err)
	}
	return got
}

func (k kind[T]) mustUpdate(t *testing.T, e env, r T) T {
	t.Helper()
	got, err := k.update(t.Context(), e, r)
	if err != nil {
		t.Fatalf("update %s %s: %v", k.noun, k.id(r), err)
	}
	return got
}

// expect fails t when got differs from want.
func (k kind[T]) expect(t *testing.T, what string, want, got T) {
	t.Helper()
	if d := diffRecords(want, got); len(d) > 0 {
		t.Errorf("%s: %s %s differs:\n\t%s", what, k.noun, k.id(want), strings.Join(d, "\n\t"))
	}
}

// recordListing is one listing of a record type, described so one set of
// tests covers them all.
type recordListing[T any] struct {
	name string
	list func(ctx context.Context, e env, key string, p ports.Page) ([]T, string, error)
	// key is the value this test lists by.
	key func(e env) string
	// join makes r a member of the listing for key.
	join func(e env, r *T, key string)
	// strangers are variants of a member that must never be listed under key.
	strangers func(e env, member T, key string) []T
}

// keyStrangers returns m under values close to key that naive key building
// confuses with it: an extension, a prefix, another case.
func keyStrangers[T any](m T, key string, set func(*T, string)) []T {
	var out []T
	for _, v := range []string{key + "-other", key[:len(key)-1], strings.ToUpper(key)} {
		r := m
		set(&r, v)
		out = append(out, r)
	}
	return out
}

// recordOrderAndPaging stores 7 members (some sharing CreatedAt, so the ID
// breaks the tie) among strangers, in shuffled order, then pages through
// them with several limits.
func recordOrderAndPaging[T any](t *testing.T, e env, k kind[T], l recordListing[T], fresh func(env) T) {
	key := l.key(e)
	empty, next, err := l.list(t.Context(), e, key, ports.Page{Limit: 10})
	if err != nil {
		t.Fatalf("%s on an empty store: %v", l.name, err)
	}
	if len(empty) != 0 || next != "" {
		t.Fatalf("%s on an empty store = %d records, Next %q; want none and empty Next", l.name, len(empty), next)
	}

	base := e.clock.Now().Add(-time.Hour)
	var members, all []T
	for _, offset := range []int{0, 1, 1, 2, 3, 3, 3} {
		m := fresh(e)
		l.join(e, &m, key)
		at := base.Add(time.Duration(offset) * time.Second)
		k.place(&m, at, newSessionID())
		members = append(members, m)
		all = append(all, m)
		for _, st := range l.strangers(e, m, key) {
			k.place(&st, at.Add(500*time.Millisecond), newSessionID())
			all = append(all, st)
		}
	}
	rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	for _, r := range all {
		k.mustCreate(t, e, r)
	}
	ports.SortByPosition(members, k.position)
	var want []string
	for _, m := range members {
		want = append(want, k.id(m))
	}

	for _, limit := range []int{1, 3, 6, 7, 8, ports.MaxPageLimit} {
		var got []string
		cursor := ""
		for page := 1; ; page++ {
			items, next, err := l.list(t.Context(), e, key, ports.Page{Limit: limit, Cursor: cursor})
			if err != nil {
				t.Fatalf("%s limit %d page %d: %v", l.name, limit, page, err)
			}
			if wantLen := min(limit, len(want)-len(got)); len(items) != wantLen {
				t.Fatalf("%s limit %d page %d: %d records, want %d", l.name, limit, page, len(items), wantLen)
			}
			for _, listed := range items {
				k.expect(t, l.name+" listed record", k.mustGet(t, e, k.id(listed)), listed)
				got = append(got, k.id(listed))
			}
			last := len(got) == len(want)
			if last != (next == "") {
				t.Fatalf("%s limit %d page %d: Next %q after %d of %d records; want empty exactly on the last page",
					l.name, limit, page, next, len(got), len(want))
			}
			if last {
				break
			}
			if page == 1 {
				// A cursor is a value: asking twice gives the same page.
				a, _, errA := l.list(t.Context(), e, key, ports.Page{Limit: limit, Cursor: next})
				b, _, errB := l.list(t.Context(), e, key, ports.Page{Limit: limit, Cursor: next})
				if errA != nil || errB != nil || !slices.Equal(idsOf(k, a), idsOf(k, b)) {
					t.Errorf("%s limit %d: the same cursor twice gave %v (%v) and %v (%v)",
						l.name, limit, idsOf(k, a), errA, idsOf(k, b), errB)
				}
			}
			cursor = next
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s limit %d listed\n\t%v\nwant (newest CreatedAt first, then ID descending)\n\t%v", l.name, limit, got, want)
		}
	}
}

// recordBadPage checks that bad limits and cursors are ErrInvalidArgument.
func recordBadPage[T any](t *testing.T, e env, k kind[T], l recordListing[T], fresh func(env) T) {
	key := l.key(e)
	m := fresh(e)
	l.join(e, &m, key)
	k.mustCreate(t, e, m)

	for _, limit := range []int{0, -1, ports.MaxPageLimit + 1} {
		_, _, err := l.list(t.Context(), e, key, ports.Page{Limit: limit})
		expectErr(t, l.name+" with limit "+strconv.Itoa(limit), err, ports.ErrInvalidArgument)
	}
	for _, cursor := range []string{"not a cursor", "!!!", "\x00\xff\xfe"} {
		_, _, err := l.list(t.Context(), e, key, ports.Page{Limit: 10, Cursor: cursor})
		expectErr(t, l.name+" with cursor "+strings.ToValidUTF8(cursor, "?"), err, ports.ErrInvalidArgument)
	}
	items, _, err := l.list(t.Context(), e, key, ports.Page{Limit: ports.MaxPageLimit})
	if err != nil || len(items) != 1 {
		t.Errorf("%s with limit MaxPageLimit: %d records, %v; want 1, nil", l.name, len(items), err)
	}
}

// listAllRecords pages through a whole listing with limit 100.
func listAllRecords[T any](t *testing.T, e env, k kind[T], l recordListing[T], key string) []T {
	t.Helper()
	var all []T
	cursor := ""
	for range 1000 {
		items, next, err := l.list(t.Context(), e, key, ports.Page{Limit: 100, Cursor: cursor})
		if err != nil {
			t.Fatalf("%s(%s): %v", l.name, key, err)
		}
		all = append(all, items...)
		if next == "" {
			return all
		}
		cursor = next
	}
	t.Fatalf("%s(%s): more than 1000 pages; is Next ever empty?", l.name, key)
	return nil
}

func idsOf[T any](k kind[T], rs []T) []string {
	ids := make([]string, 0, len(rs))
	for _, r := range rs {
		ids = append(ids, k.id(r))
	}
	return ids
}

// recordCreateInvalid checks that a bad id or status is refused and nothing stored.
func recordCreateInvalid[T any](t *testing.T, e env, k kind[T], fresh func(env) T) {
	cases := []struct {
		name   string
		mutate func(*T)
	}{
		{"empty id", func(r *T) { k.place(r, k.position(*r).CreatedAt, "") }},
		{"empty status", func(r *T) { k.setStatus(r, "") }},
		{"unknown status", func(r *T) { k.setStatus(r, "paused") }},
		{"status in another case", func(r *T) { k.setStatus(r, "Pending") }},
		{"status with a space", func(r *T) { k.setStatus(r, "active ") }},
	}
	for _, tc := range cases {
		in := fresh(e)
		tc.mutate(&in)
		_, err := k.create(t.Context(), e, in)
		expectErr(t, "create "+k.noun+": "+tc.name, err, ports.ErrInvalidArgument)
		if k.id(in) == "" {
			continue
		}
		_, err = k.get(t.Context(), e, k.id(in))
		expectErr(t, tc.name+": get after the rejected create", err, ports.ErrNotFound)
	}
}

// recordDuplicate checks that a second create with a taken id changes nothing.
func recordDuplicate[T any](t *testing.T, e env, k kind[T], fresh func(env) T, intrude func(*T)) {
	first := k.mustCreate(t, e, fresh(e))
	second := fresh(e)
	k.place(&second, k.position(second).CreatedAt, k.id(first))
	intrude(&second)
	_, err := k.create(t.Context(), e, second)
	expectErr(t, "second create of "+k.noun+" with the same id", err, ports.ErrAlreadyExists)
	k.expect(t, "get after the duplicate", first, k.mustGet(t, e, k.id(first)))
}

// recordGetMissing checks that an id never created is ErrNotFound, never a
// zero record.
func recordGetMissing[T any](t *testing.T, e env, k kind[T], fresh func(env) T) {
	k.mustCreate(t, e, fresh(e)) // a store that is not empty
	id := newSessionID()
	got, err := k.get(t.Context(), e, id)
	if err == nil {
		t.Fatalf("get %s (never created): nil error and %+v; want ErrNotFound, never a zero record", k.noun, got)
	}
	expectErr(t, "get "+k.noun+" (never created)", err, ports.ErrNotFound)
}

// recordUpdateMismatch checks that every stale or invented version is
// ErrConflict and an unknown status ErrInvalidArgument, both changing
// nothing, and that an update of a record never created is ErrNotFound
// whatever its version.
func recordUpdateMismatch[T any](t *testing.T, e env, k kind[T], fresh func(env) T, scribble func(*T)) {
	v1 := k.mustCreate(t, e, fresh(e))
	v2 := v1
	scribble(&v2)
	stored := k.mustUpdate(t, e, v2)
	if got := *k.version(&stored); got != 2 {
		t.Errorf("Version after one update = %d, want 2", got)
	}
	for _, v := range []int64{0, 1, 3, 99, -1} {
		stale := stored
		*k.version(&stale) = v
		scribble(&stale)
		_, err := k.update(t.Context(), e, stale)
		expectErr(t, "update "+k.noun+" with version "+strconv.FormatInt(v, 10)+" against stored 2", err, ports.ErrConflict)
	}
	unknown := stored
	k.setStatus(&unknown, "paused")
	_, err := k.update(t.Context(), e, unknown)
	expectErr(t, "update "+k.noun+" to an unknown status at the stored version", err, ports.ErrInvalidArgument)
	k.expect(t, "get after the rejected updates", stored, k.mustGet(t, e, k.id(v1)))

	for _, v := range []int64{0, 1, 2, 99} {
		ghost := fresh(e)
		*k.version(&ghost) = v
		_, err := k.update(t.Context(), e, ghost)
		expectErr(t, "update "+k.noun+" (never created) with version "+strconv.FormatInt(v, 10), err, ports.ErrNotFound)
		_, err = k.get(t.Context(), e, k.id(ghost))
		expectErr(t, "get after an update of a "+k.noun+" never created", err, ports.ErrNotFound)
	}
}

// oneWinner checks the errors of racers that wrote from one read: exactly
// one nil, every other one wrapping loser. It returns the winner's index.
func oneWinner(errs []error, loser error) (int, error) {
	winner := -1
	for w, err := range errs {
		switch {
		case err == nil && winner >= 0:
			return -1, errors.New("racers " + strconv.Itoa(winner) + " and " + strconv.Itoa(w) + " both won")
		case err == nil:
			winner = w
		case !errors.Is(err, loser):
			return -1, errors.New("racer " + strconv.Itoa(w) + ": " + err.Error() + ", want nil or " + loser.Error())
		}
	}
	if winner < 0 {
		return -1, errors.New("no racer won")
	}
	return winner, nil
}
