package redisstore

import (
	"slices"
	"testing"
)

// TestLayoutsAgree: every name a layout gives the scripts is a field the
// codec writes, so a typo cannot switch a check off silently.
func TestLayoutsAgree(t *testing.T) {
	for kind, l := range eventLayouts {
		has := func(what string, names ...string) {
			t.Helper()
			for _, n := range names {
				if !slices.Contains(l.fields, n) {
					t.Errorf("%s: %s %q is not a stored field %q", kind, what, n, l.fields)
				}
			}
		}
		has("common field", fieldPosition, fieldID, fieldStatus, fieldExpires, fieldCreated, fieldUpdated, fieldVersion)
		has("integer field", l.ints...)
		has("flag field", l.bools...)
		has("time field", l.times...)
		if !slices.Contains(l.statuses, l.expired) {
			t.Errorf("%s: expired status %q is not one of %q", kind, l.expired, l.statuses)
		}
		names := map[string]bool{}
		for _, ix := range l.indexes {
			has("index field", ix.fields...)
			if names[ix.name] {
				t.Errorf("%s: two indexes named %q", kind, ix.name)
			}
			names[ix.name] = true
			if ix.status != "" && !slices.Contains(l.statuses, ix.status) {
				t.Errorf("%s: index %s keeps unknown status %q", kind, ix.name, ix.status)
			}
		}
		if !names["status"] {
			t.Errorf("%s: no status index; listings by status and the sweep need one", kind)
		}
		for _, st := range l.lapsing {
			if !slices.Contains(l.statuses, st) {
				t.Errorf("%s: lapsing status %q is not one of %q", kind, st, l.statuses)
			}
		}
		if got := (Event{Kind: kind, Status: l.expired, ID: "x"}).String(); got != l.eventPrefix+l.expired+" x" {
			t.Errorf("%s: Event.String() = %q, not what the scripts publish", kind, got)
		}
	}
	if len(eventLayouts) != 3 {
		t.Errorf("eventLayouts has %d record types, want 3", len(eventLayouts))
	}
}
