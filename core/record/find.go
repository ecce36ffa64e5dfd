package record

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/sentinel-gw/sentinel/ports"
)

// Every record (session, request, break-glass event) has a 32-hex id, and
// every caller that takes one accepts a unique prefix of at least
// MinIDPrefix characters. Find resolves both, for the CLI and the broker.

// MinIDPrefix is the shortest id prefix accepted.
const MinIDPrefix = 8

// PrefixScanLimit bounds the records one prefix lookup reads.
const PrefixScanLimit = 100_000

// Kind names a kind of record in messages.
type Kind struct {
	Noun string // "session"
	List string // how to list every one of them ("sentinel server-sessions --status all")
}

// Listing reads one page of one index, newest first.
type Listing[T any] func(ctx context.Context, p ports.Page) (items []T, next string, err error)

// CheckIDOrPrefix refuses a malformed id or prefix before any store is
// touched. The error wraps ports.ErrInvalidArgument.
func (k Kind) CheckIDOrPrefix(id string) error {
	if len(id) >= MinIDPrefix && len(id) <= IDLen && isLowerHex(id) {
		return nil
	}
	shown := id
	if len(shown) > 80 {
		shown = shown[:80] + "..."
	}
	return fmt.Errorf("%q is not a %s id: give the 32 lowercase hex characters from %s, or a unique prefix of at least %d: %w",
		shown, k.Noun, k.List, MinIDPrefix, ports.ErrInvalidArgument)
}

// Find gets a record by its full id (get), or by a unique id prefix found
// by scanning lists (together they must hold every record the caller may
// find), reading at most PrefixScanLimit records. Errors: ErrInvalidArgument
// for a malformed id or an ambiguous prefix, ErrNotFound when nothing
// matches, and those of get and the lists.
func Find[T any](ctx context.Context, k Kind, id string,
	get func(context.Context, string) (T, error), idOf func(T) string, lists ...Listing[T],
) (T, error) {
	return FindAmong(ctx, k, id, get, idOf, nil, lists...)
}

// FindAmong is Find where a prefix matches only records keep accepts (nil:
// all), so it never matches, nor names in an error, one the caller may not
// see. A full id is got whatever keep says: the caller judges it.
func FindAmong[T any](ctx context.Context, k Kind, id string,
	get func(context.Context, string) (T, error), idOf func(T) string, keep func(T) bool, lists ...Listing[T],
) (T, error) {
	var zero T
	if err := k.CheckIDOrPrefix(id); err != nil {
		return zero, err
	}
	if len(id) == IDLen {
		r, err := get(ctx, id)
		if errors.Is(err, ports.ErrNotFound) {
			return zero, fmt.Errorf("no %s with id %s (list them with %s): %w", k.Noun, id, k.List, ports.ErrNotFound)
		}
		return r, err
	}
	var matches []T
	scanned := 0
	for _, list := range lists {
		page := ports.Page{Limit: ports.MaxPageLimit}
		for scanned < PrefixScanLimit {
			items, next, err := list(ctx, page)
			if err != nil {
				return zero, err
			}
			for _, r := range items {
				if strings.HasPrefix(idOf(r), id) && (keep == nil || keep(r)) {
					matches = append(matches, r)
				}
			}
			scanned += len(items)
			if next == "" {
				break
			}
			page.Cursor = next
		}
	}
	switch len(matches) {
	case 0:
		return zero, fmt.Errorf("no %s with id prefix %s (list them with %s): %w", k.Noun, id, k.List, ports.ErrNotFound)
	case 1:
		return matches[0], nil
	}
	ids := make([]string, 0, len(matches))
	for _, r := range matches {
		ids = append(ids, idOf(r))
	}
	return zero, fmt.Errorf("id prefix %s is ambiguous (%s): give more characters: %w", id, strings.Join(ids, ", "), ports.ErrInvalidArgument)
}

// CollectNewest pages through each listing until limit records pass keep
// (or the listing ends), then merges them newest first and keeps limit.
func CollectNewest[T any](ctx context.Context, lists []Listing[T], keep func(T) bool, pos func(T) ports.Position, limit int) ([]T, error) {
	out := []T{} // an empty list prints as [], never null
	for _, list := range lists {
		page := ports.Page{Limit: min(limit, ports.MaxPageLimit)}
		kept := 0
		for kept < limit {
			items, next, err := list(ctx, page)
			if err != nil {
				return nil, err
			}
			for _, r := range items {
				if keep(r) && kept < limit {
					out = append(out, r)
					kept++
				}
			}
			if next == "" {
				break
			}
			page.Cursor = next
		}
	}
	ports.SortByPosition(out, pos)
	return out[:min(len(out), limit)], nil
}
