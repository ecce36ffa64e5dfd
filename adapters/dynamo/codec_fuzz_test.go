package dynamo

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/sentinel-gw/sentinel/ports"
)

// fuzzID is the key every fuzzed item is read under.
const fuzzID = "0123456789abcdef0123456789abcdef"

// fuzzBases are the items a fuzzed edit starts from: none, and a sound item
// of each table, so the fuzzer reaches the checks behind the schema marker
// without having to invent every attribute first.
func fuzzBases() []map[string]types.AttributeValue {
	s, r, e := sampleSession(), sampleRequest(), sampleEvent()
	s.ID, r.ID, e.ID = fuzzID, fuzzID, fuzzID
	return []map[string]types.AttributeValue{
		{},
		encodeSession(stored(s)),
		encodeRequest(storedRequest(r)),
		encodeEvent(storedEvent(e)),
	}
}

// attributeOf builds an attribute of every DynamoDB type from text: "S:x",
// "N:12", "B:bytes", "BOOL:true", "NULL:", "SS:a,b", "NS:1,2", "BS:a,b",
// "L:a,b" (a list of strings) and "M:k,v" (a map of one string). Anything
// else is a string of the whole text.
func attributeOf(text string) types.AttributeValue {
	kind, value, _ := strings.Cut(text, ":")
	parts := strings.Split(value, ",")
	switch kind {
	case "N":
		return &types.AttributeValueMemberN{Value: value}
	case "B":
		return &types.AttributeValueMemberB{Value: []byte(value)}
	case "BOOL":
		return &types.AttributeValueMemberBOOL{Value: value == "true"}
	case "NULL":
		return &types.AttributeValueMemberNULL{Value: true}
	case "SS":
		return &types.AttributeValueMemberSS{Value: parts}
	case "NS":
		return &types.AttributeValueMemberNS{Value: parts}
	case "BS":
		bs := make([][]byte, len(parts))
		for i, p := range parts {
			bs[i] = []byte(p)
		}
		return &types.AttributeValueMemberBS{Value: bs}
	case "L":
		l := make([]types.AttributeValue, len(parts))
		for i, p := range parts {
			l[i] = str(p)
		}
		return &types.AttributeValueMemberL{Value: l}
	case "M":
		k, v, _ := strings.Cut(value, ",")
		return &types.AttributeValueMemberM{Value: map[string]types.AttributeValue{k: str(v)}}
	case "S":
		return str(value)
	}
	return str(text)
}

// applyEdits changes item by edits, one per line: "name=TYPE:value" sets an
// attribute (see attributeOf), a bare "name" deletes it.
func applyEdits(item map[string]types.AttributeValue, edits string) {
	for line := range strings.SplitSeq(edits, "\n") {
		if name, text, ok := strings.Cut(line, "="); ok {
			item[name] = attributeOf(text)
		} else {
			delete(item, line)
		}
	}
}

// FuzzDecodeRecords: whatever item sits under a record's key, decoding it as
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
		{1, "schema=S:sentinel-session/2"},
		{1, "schema=N:1"},
		{1, "schema"},
		{1, "status=S:paused"},
		{1, "status=BOOL:true"},
		{1, "status=SS:active,revoked"},
		{1, "version=N:0"},
		{1, "version=S:7"},
		{1, "version=N:1.5"},
		{1, "version=N:1e3"},
		{1, "request_count=N:99999999999999999999"},
		{1, "request_count=NULL:"},
		{1, "expires_at=S:tomorrow"},
		{1, "expires_at=N:-9223372036854775808"},
		{1, "created_at=N:0"},
		{1, "created_at\ncreated_sort=S:09223372036854775808#" + fuzzID},
		{1, "user=L:a,b"},
		{1, "profile=M:k,v"},
		{1, "id=S:" + strings.Repeat("f", 32)},
		{1, "id=B:" + fuzzID},
		{1, "created_sort=NS:1,2"},
		{1, "payload=BS:a,b"},
		{2, "duration=N:-1"},
		{2, "status=S:approved\napproved_at=N:1"},
		{3, "escalated=S:true"},
		{3, "escalated"},
		{3, "schema=S:sentinel-request/1"},
		{0, "id=S:" + fuzzID + "\nschema=S:sentinel-session/1\nstatus=S:active\nversion=N:1\nrequest_count=N:0"},
	} {
		f.Add(seed.base, seed.edits)
	}
	bases := fuzzBases()
	f.Fuzz(func(t *testing.T, base uint8, edits string) {
		item := maps.Clone(bases[int(base)%len(bases)])
		applyEdits(item, edits)
		checkDecode(t, sessionRecords, item, func(s ports.Session) bool { return s.ID == fuzzID && s.Status.Valid() && s.Version >= 1 })
		checkDecode(t, requestRecords, item, func(r ports.ApprovalRequest) bool { return r.ID == fuzzID && r.Status.Valid() && r.Version >= 1 })
		checkDecode(t, eventRecords, item, func(e ports.BreakGlassEvent) bool { return e.ID == fuzzID && e.Status.Valid() && e.Version >= 1 })
	})
}

// checkDecode decodes item as k and holds the decoder to its contract.
func checkDecode[T any](t *testing.T, k recordKind[T], item map[string]types.AttributeValue, sound func(T) bool) {
	t.Helper()
	rec, err := k.decode(fuzzID, item)
	if err != nil {
		if !errors.Is(err, ports.ErrCorrupt) {
			t.Fatalf("%s: a bad item gave %v, not ErrCorrupt", k.noun, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", fuzzID)) {
			t.Fatalf("%s: the error %q does not name the record", k.noun, err)
		}
		return
	}
	if !sound(rec) {
		t.Fatalf("%s: decoded an unsound record %+v without an error", k.noun, rec)
	}
	if !reflect.DeepEqual(k.stored(rec), rec) {
		t.Fatalf("%s: decoded times are not in their stored form: %+v", k.noun, rec)
	}
	again, err := k.decode(fuzzID, k.encode(rec))
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
	if _, err := decodeSession(fuzzID, bases[1]); err != nil {
		t.Errorf("session base: %v", err)
	}
	if _, err := decodeRequest(fuzzID, bases[2]); err != nil {
		t.Errorf("request base: %v", err)
	}
	if _, err := decodeEvent(fuzzID, bases[3]); err != nil {
		t.Errorf("break-glass base: %v", err)
	}
}
