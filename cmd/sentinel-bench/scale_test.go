package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
)

// The scale mode on bbolt at two small sizes (each status past a page): every listing and the
// by-user revoke read as many records at both (ended records cost
// nothing), while the old by-user listing reads the user's whole history.
func TestScaleModeReadsStayFlat(t *testing.T) {
	t.Parallel()
	o, err := parseFlags([]string{"-mode", "scale", "-sizes", "1000,3000", "-active", "10", "-user-active", "40", "-repeat", "1"}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := runScale(t.Context(), o, &out); err != nil {
		t.Fatalf("runScale: %v\n%s", err, out.String())
	}
	cols := regexp.MustCompile(`\s{2,}`)
	reads := map[string][]string{} // operation -> reads column, one per size
	for line := range strings.SplitSeq(out.String(), "\n") {
		f := cols.Split(strings.TrimSpace(line), -1)
		if len(f) == 7 && f[1] != "records" {
			reads[f[0]] = append(reads[f[0]], f[5])
		}
	}
	for _, op := range []string{"server-sessions --status all (page 1)", "server-sessions --status active", "server-revoke --user (40 active)"} {
		if r := reads[op]; len(r) != 2 || r[0] != r[1] {
			t.Errorf("%s: reads %v at 1000 and 3000 records, want the same\n%s", op, r, out.String())
		}
	}
	if r := reads["the old revoke listing: the user's history"]; len(r) != 2 || r[0] == r[1] {
		t.Errorf("the old by-user listing: reads %v, want them to grow with the history\n%s", r, out.String())
	}
	if r := reads["store stats"]; len(r) != 2 {
		t.Errorf("store stats: reads %v, want a row per size", r)
	}
}
