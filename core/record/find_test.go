package record_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/core/record"
	"github.com/sentinel-gw/sentinel/ports"
)

var kind = record.Kind{Noun: "thing", List: "sentinel things"}

// pages serves ids as a listing in pages of two.
func pages(ids ...string) record.Listing[string] {
	return func(_ context.Context, p ports.Page) ([]string, string, error) {
		start := 0
		if p.Cursor != "" {
			for i, id := range ids {
				if id == p.Cursor {
					start = i + 1
				}
			}
		}
		end := min(start+2, len(ids))
		next := ""
		if end < len(ids) {
			next = ids[end-1]
		}
		return ids[start:end], next, nil
	}
}

func TestFind(t *testing.T) {
	const (
		a = "aaaaaaaa11111111111111111111111a"
		b = "aaaaaaaa22222222222222222222222b"
		c = "cccccccc33333333333333333333333c"
	)
	stored := map[string]bool{a: true, b: true, c: true}
	get := func(_ context.Context, id string) (string, error) {
		if stored[id] {
			return id, nil
		}
		return "", ports.ErrNotFound
	}
	self := func(s string) string { return s }
	lists := []record.Listing[string]{pages(a, b), pages(c)}
	tests := []struct {
		id, want string
		err      error
		contains string
	}{
		{c, c, nil, ""},
		{"cccccccc3", c, nil, ""}, // a unique prefix, in the second listing's only page
		{"aaaaaaaa2", b, nil, ""}, // on the first listing's first page, among others
		{"aaaaaaaa", "", ports.ErrInvalidArgument, "ambiguous"},
		{"dddddddd", "", ports.ErrNotFound, "no thing with id prefix dddddddd (list them with sentinel things)"},
		{"dddddddd44444444444444444444444d", "", ports.ErrNotFound, "no thing with id dddddddd"},
		{"aaaa", "", ports.ErrInvalidArgument, "a unique prefix of at least 8"},
		{"AAAAAAAA", "", ports.ErrInvalidArgument, "is not a thing id"},
		{a + "0", "", ports.ErrInvalidArgument, "is not a thing id"},
	}
	for _, tt := range tests {
		got, err := record.Find(t.Context(), kind, tt.id, get, self, lists...)
		if got != tt.want || !errors.Is(err, tt.err) || (tt.err == nil) != (err == nil) {
			t.Errorf("Find(%s) = %q, %v; want %q, %v", tt.id, got, err, tt.want, tt.err)
			continue
		}
		if err != nil && !strings.Contains(err.Error(), tt.contains) {
			t.Errorf("Find(%s) error %q does not say %q", tt.id, err, tt.contains)
		}
	}
	// Among what keep accepts, the prefix shared with a hidden record is
	// unique, and a miss names no hidden id.
	notB := func(s string) bool { return s != b }
	if got, err := record.FindAmong(t.Context(), kind, "aaaaaaaa", get, self, notB, lists...); got != a || err != nil {
		t.Errorf("FindAmong(aaaaaaaa) = %q, %v; want %s", got, err, a)
	}
	if _, err := record.FindAmong(t.Context(), kind, "aaaaaaaa2", get, self, notB, lists...); !errors.Is(err, ports.ErrNotFound) || strings.Contains(err.Error(), b) {
		t.Errorf("FindAmong of a hidden record's prefix: err = %v, want not found, naming nothing", err)
	}
	broken := func(context.Context, ports.Page) ([]string, string, error) { return nil, "", errors.New("store down") }
	if _, err := record.Find(t.Context(), kind, "aaaaaaaa", get, self, broken); err == nil || err.Error() != "store down" {
		t.Errorf("a failing listing: err = %v, want it passed on", err)
	}
}

func TestCollectNewest(t *testing.T) {
	at := func(id string) ports.Position { return ports.Position{ID: id} }
	// Two listings, each newest (highest id) first; keep drops "x3".
	got, err := record.CollectNewest(t.Context(), []record.Listing[string]{pages("x5", "x3", "x1"), pages("x4", "x2")},
		func(s string) bool { return s != "x3" }, at, 3)
	if err != nil || strings.Join(got, ",") != "x5,x4,x2" {
		t.Errorf("CollectNewest = %v, %v; want x5,x4,x2", got, err)
	}
	if got, _ := record.CollectNewest(t.Context(), nil, func(string) bool { return true }, at, 3); got == nil || len(got) != 0 {
		t.Errorf("no listings: %#v, want an empty, non-nil list", got)
	}
}
