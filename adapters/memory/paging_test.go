package memory_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// The ports paging helpers every adapter lists with; tested here because
// the reference store is their first user.

func TestComparePosition(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		a, b       ports.Position
		wantBefore bool // a lists before b
	}{
		{"newer first", ports.Position{CreatedAt: t0.Add(time.Second), ID: "a"}, ports.Position{CreatedAt: t0, ID: "z"}, true},
		{"older later", ports.Position{CreatedAt: t0, ID: "z"}, ports.Position{CreatedAt: t0.Add(time.Nanosecond), ID: "a"}, false},
		{"same time, higher id first", ports.Position{CreatedAt: t0, ID: "b"}, ports.Position{CreatedAt: t0, ID: "a"}, true},
		{"same time, lower id later", ports.Position{CreatedAt: t0, ID: "a"}, ports.Position{CreatedAt: t0, ID: "b"}, false},
		{"zone does not matter", ports.Position{CreatedAt: t0.In(time.FixedZone("X", 7200)), ID: "b"}, ports.Position{CreatedAt: t0, ID: "a"}, true},
	}
	for _, tc := range cases {
		c := tc.a.Compare(tc.b)
		if (c < 0) != tc.wantBefore || c == 0 {
			t.Errorf("%s: Compare = %d, want a before b: %v", tc.name, c, tc.wantBefore)
		}
		if back := tc.b.Compare(tc.a); back != -c {
			t.Errorf("%s: Compare is not antisymmetric: %d and %d", tc.name, c, back)
		}
	}
	if c := ports.ComparePosition(t0, "x", t0.In(time.FixedZone("Y", -3600)), "x"); c != 0 {
		t.Errorf("the same position compared %d, want 0", c)
	}
}

func TestCheckPage(t *testing.T) {
	t.Parallel()
	at := ports.Position{CreatedAt: t0.Add(123 * time.Nanosecond), ID: "id|with|pipes"}
	cases := []struct {
		name       string
		page       ports.Page
		wantErr    bool
		wantResume bool
	}{
		{"first page", ports.Page{Limit: 1}, false, false},
		{"largest limit", ports.Page{Limit: ports.MaxPageLimit}, false, false},
		{"resume", ports.Page{Limit: 10, Cursor: at.Cursor()}, false, true},
		{"zero limit", ports.Page{Limit: 0}, true, false},
		{"negative limit", ports.Page{Limit: -1}, true, false},
		{"limit over the maximum", ports.Page{Limit: ports.MaxPageLimit + 1}, true, false},
		{"bad limit with a good cursor", ports.Page{Limit: 0, Cursor: at.Cursor()}, true, false},
		{"garbage cursor", ports.Page{Limit: 10, Cursor: "%%%"}, true, false},
	}
	for _, tc := range cases {
		after, resume, err := ports.CheckPage(tc.page)
		if tc.wantErr {
			if !errors.Is(err, ports.ErrInvalidArgument) {
				t.Errorf("%s: %v, want ErrInvalidArgument", tc.name, err)
			}
			continue
		}
		if err != nil || resume != tc.wantResume {
			t.Errorf("%s: resume %v, %v; want %v, nil", tc.name, resume, err, tc.wantResume)
		}
		if resume && (!after.CreatedAt.Equal(at.CreatedAt) || after.ID != at.ID) {
			t.Errorf("%s: resumes after %+v, want %+v", tc.name, after, at)
		}
	}
}

func TestCutPage(t *testing.T) {
	t.Parallel()
	pos := func(id string) ports.Position { return ports.Position{CreatedAt: t0, ID: id} }
	sorted := []string{"d", "c", "b", "a"}
	cases := []struct {
		limit    int
		want     []string
		wantNext string
	}{
		{1, []string{"d"}, pos("d").Cursor()},
		{3, []string{"d", "c", "b"}, pos("b").Cursor()},
		{4, []string{"d", "c", "b", "a"}, ""}, // exactly full: the last page
		{9, []string{"d", "c", "b", "a"}, ""},
	}
	for _, tc := range cases {
		items, next := ports.CutPage(sorted, tc.limit, pos)
		if !slices.Equal(items, tc.want) || next != tc.wantNext {
			t.Errorf("limit %d: %v, next %q; want %v, %q", tc.limit, items, next, tc.want, tc.wantNext)
		}
	}
	// The page is capped, so appending to it cannot overwrite the rest.
	items, _ := ports.CutPage(sorted, 2, pos)
	_ = append(items, "x")
	if sorted[2] != "b" {
		t.Error("appending to a page overwrote the slice it was cut from")
	}
}

func TestSortByPosition(t *testing.T) {
	t.Parallel()
	reqs := []ports.ApprovalRequest{
		{ID: "a", CreatedAt: t0}, {ID: "b", CreatedAt: t0.Add(time.Second)}, {ID: "c", CreatedAt: t0},
	}
	ports.SortByPosition(reqs, ports.RequestPosition)
	var got []string
	for _, r := range reqs {
		got = append(got, r.ID)
	}
	if want := []string{"b", "c", "a"}; !slices.Equal(got, want) {
		t.Errorf("sorted %v, want %v", got, want)
	}
}
