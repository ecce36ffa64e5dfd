package bolt

import (
	"errors"
	"testing"

	"github.com/sentinel-gw/sentinel/ports"
)

// FuzzDecodeRecords: whatever bytes sit in the file, decoding gives a record
// that round-trips or an error wrapping ErrCorrupt; it never panics.
func FuzzDecodeRecords(f *testing.F) {
	s := activeSession(watchID, "alice", testStart)
	s.Version = 1
	if raw, err := encodeSession(s); err == nil {
		f.Add(raw)
	}
	for _, seed := range []string{``, `{}`, `{"v":1}`, `{"v":1,"session":{}}`, `{"v":2,"session":{"id":"x"}}`, `null`, `[1,2]`, `{"v":1,"session":{"id":"` + watchID + `","status":"paused","version":1}}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkDecoded := func(err error) {
			if err != nil && !errors.Is(err, ports.ErrCorrupt) {
				t.Fatalf("a bad record gave %v, not ErrCorrupt", err)
			}
		}
		sess, err := decodeSession(watchID, raw)
		checkDecoded(err)
		if err == nil {
			if sess.ID != watchID || !sess.Status.Valid() {
				t.Fatalf("decoded an invalid session %+v without an error", sess)
			}
			again, err := encodeSession(sess)
			if err != nil {
				t.Fatal(err)
			}
			if back, err := decodeSession(watchID, again); err != nil || back.Version != sess.Version {
				t.Fatalf("re-encoded session does not decode: %v", err)
			}
		}
		if r, err := decodeRequest(watchID, raw); err == nil && (r.ID != watchID || !r.Status.Valid()) {
			t.Fatalf("decoded an invalid request %+v", r)
		} else {
			checkDecoded(err)
		}
		if e, err := decodeEvent(watchID, raw); err == nil && (e.ID != watchID || !e.Status.Valid()) {
			t.Fatalf("decoded an invalid event %+v", e)
		} else {
			checkDecoded(err)
		}
	})
}
