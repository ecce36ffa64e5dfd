package redisstore

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/ports"
)

// fuzzID is the key every fuzzed hash is read under.
const fuzzID = "0123456789abcdef0123456789abcdef"

// storedFields is the hash a write of rec at version leaves in Redis: what
// hset sends, plus the version the scripts add.
func storedFields[T any](k *kind[T], rec T, version int64) map[string]string {
	args := k.hset(rec)
	f := make(map[string]string, len(args)/2+1)
	for i := 0; i+1 < len(args); i += 2 {
		f[fmt.Sprint(args[i])] = fmt.Sprint(args[i+1])
	}
	f[fieldVersion] = encodeInt(version)
	return f
}

// fuzzBases are the hashes a fuzzed edit starts from: none, and a sound
// record of each kind, so the fuzzer reaches the checks behind the schema
// marker without having to invent seventeen fields first.
func fuzzBases() []map[string]string {
	return []map[string]string{
		{},
		storedFields(sessionKind, activeSession(fuzzID, "alice", testStart), 3),
		storedFields(requestKind, pendingRequest(fuzzID, "alice", testStart), 2),
		storedFields(breakGlassKind, activeEvent(fuzzID, "alice", "prod", testStart), 1),
	}
}

// applyEdits changes f by edits, one per line: "name=value" sets a field,
// a bare "name" deletes it.
func applyEdits(f map[string]string, edits string) {
	for line := range strings.SplitSeq(edits, "\n") {
		if name, value, ok := strings.Cut(line, "="); ok {
			f[name] = value
		} else {
			delete(f, line)
		}
	}
}

// FuzzDecodeRecords: whatever hash sits under a record's key, decoding it as
// a session, a request or a break-glass event gives a sound record that
// round-trips through the encoder, or an error wrapping ErrCorrupt that
// names the record; it never panics.
func FuzzDecodeRecords(f *testing.F) {
	for base := range fuzzBases() {
		f.Add(uint8(base), "")
	}
	for _, seed := range []struct {
		base  uint8
		edits string
	}{
		{1, "_v=2"},
		{1, "_v"},
		{1, "status=paused"},
		{1, "status=revoked\nrevoked_by=bob\nrevoked_at=1"},
		{1, "version=0"},
		{1, "version=+3"},
		{1, "version=9223372036854775808"},
		{1, "request_count=-1"},
		{1, "created_at=007"},
		{1, "created_at=-62135596800000000\n_pos=7fff1e5f8d5cf800"},
		{1, "created_at=\n_pos=7ffe9f7e2d730000"},
		{1, "expires_at=tomorrow"},
		{1, "id=" + strings.Repeat("f", 32)},
		{1, "user"},
		{2, "status=approved\napproved_at=1"},
		{2, "duration=1.5"},
		{3, "escalated=2"},
		{3, "escalated=0\nstatus=closed"},
		{0, "_v=1\nid=" + fuzzID + "\nstatus=active\nversion=1"},
	} {
		f.Add(seed.base, seed.edits)
	}
	bases := fuzzBases()
	f.Fuzz(func(t *testing.T, base uint8, edits string) {
		fields := bases[int(base)%len(bases)]
		edited := make(map[string]string, len(fields))
		for k, v := range fields {
			edited[k] = v
		}
		applyEdits(edited, edits)
		checkDecode(t, sessionKind, edited, func(s ports.Session) bool { return s.ID == fuzzID && s.Status.Valid() && s.Version >= 1 })
		checkDecode(t, requestKind, edited, func(r ports.ApprovalRequest) bool { return r.ID == fuzzID && r.Status.Valid() && r.Version >= 1 })
		checkDecode(t, breakGlassKind, edited, func(e ports.BreakGlassEvent) bool { return e.ID == fuzzID && e.Status.Valid() && e.Version >= 1 })
	})
}

// checkDecode decodes fields as k and holds the decoder to its contract.
func checkDecode[T any](t *testing.T, k *kind[T], fields map[string]string, sound func(T) bool) {
	t.Helper()
	rec, err := k.decode(fuzzID, fields)
	if err != nil {
		if !errors.Is(err, ports.ErrCorrupt) {
			t.Fatalf("%s: a bad hash gave %v, not ErrCorrupt", k.noun, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", fuzzID)) {
			t.Fatalf("%s: the error %q does not name the record", k.noun, err)
		}
		return
	}
	if !sound(rec) {
		t.Fatalf("%s: decoded an unsound record %+v without an error", k.noun, rec)
	}
	again, err := k.decode(fuzzID, storedFields(k, rec, *k.version(&rec)))
	if err != nil {
		t.Fatalf("%s: the re-encoded record does not decode: %v\nrecord %+v", k.noun, err, rec)
	}
	if !reflect.DeepEqual(again, rec) {
		t.Fatalf("%s: round trip changed the record\n got %+v\nwant %+v", k.noun, again, rec)
	}
}

// The fuzz bases must be sound records, or the fuzzer starts from errors only.
func TestFuzzBasesDecode(t *testing.T) {
	bases := fuzzBases()
	if _, err := sessionKind.decode(fuzzID, bases[1]); err != nil {
		t.Errorf("session base: %v", err)
	}
	if _, err := requestKind.decode(fuzzID, bases[2]); err != nil {
		t.Errorf("request base: %v", err)
	}
	if _, err := breakGlassKind.decode(fuzzID, bases[3]); err != nil {
		t.Errorf("break-glass base: %v", err)
	}
}
