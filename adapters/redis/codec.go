package redisstore

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"
)

// Every record is a hash of strings: text as is, integers (durations in
// nanoseconds included) in decimal, booleans as "0" or "1", times as integer
// microseconds since the Unix epoch in UTC ("" for the zero time). Integer
// micros keep the suite's precision exactly, truncate toward the past, and
// let the Lua scripts compare times without parsing dates.
//
// The fields below are common to all three record types; the scripts rely
// on their names. Each type's own fields are listed with its kind.
const (
	fieldSchema   = "_v"   // schemaVersion; anything else is foreign data
	fieldPosition = "_pos" // the record's index position, see positionOf
	fieldID       = "id"
	fieldStatus   = "status"
	fieldExpires  = "expires_at"
	fieldCreated  = "created_at"
	fieldUpdated  = "updated_at"
	fieldVersion  = "version"
)

// schemaVersion is the only record layout this code reads.
const schemaVersion = "1"

// positionLen is the length of a position before the id in an index member.
const positionLen = 16

// Times a record can hold: those whose microseconds fit an int64.
var (
	minStorable = time.UnixMicro(math.MinInt64)
	maxStorable = time.UnixMicro(math.MaxInt64)
)

// storable reports whether t survives the microsecond encoding.
func storable(t time.Time) bool {
	return t.IsZero() || (!t.Before(minStorable) && !t.After(maxStorable))
}

// truncated is t as a read returns it: UTC, whole microseconds, zero kept zero.
func truncated(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return time.UnixMicro(t.UnixMicro()).UTC()
}

func encodeTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixMicro(), 10)
}

func decodeTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	us, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, err
	}
	if strconv.FormatInt(us, 10) != s {
		return time.Time{}, fmt.Errorf("%q is not in canonical form", s)
	}
	return time.UnixMicro(us).UTC(), nil
}

func encodeInt(n int64) string { return strconv.FormatInt(n, 10) }

func encodeBool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// positionOf orders index members: 16 hex digits of CreatedAt's micros with
// the sign bit flipped (so earlier times, negative ones included, sort
// first), then the id. Every member of an index has score 0, so Redis sorts
// them bytewise, which is (CreatedAt, ID) ascending; ZREVRANGEBYLEX reads
// them newest first, ties by ID descending, exactly ports.Position.Compare.
func positionOf(createdAt time.Time) string {
	return fmt.Sprintf("%016x", uint64(createdAt.UnixMicro())^(1<<63)) //nolint:gosec // G115: two's complement reinterpretation is the point
}

func memberOf(createdAt time.Time, id string) string {
	return positionOf(createdAt) + id
}

// idOfMember returns the id inside an index member.
func idOfMember(member string) (string, bool) {
	if len(member) <= positionLen {
		return "", false
	}
	return member[positionLen:], true
}

// decoder keeps the first error, so a kind's read reads like a struct literal.
type decoder struct {
	f   map[string]string
	err error
}

func (d *decoder) text(name string) string {
	v, ok := d.f[name]
	if !ok && d.err == nil {
		d.err = fmt.Errorf("field %s is missing", name)
	}
	return v
}

// list reads a field holding a JSON array of strings. Absent or "" is nil:
// records written before the field existed read as holding none.
func (d *decoder) list(name string) []string {
	v := d.f[name]
	if v == "" {
		return nil
	}
	var out []string
	if err := json.Unmarshal([]byte(v), &out); err != nil && d.err == nil {
		d.err = fmt.Errorf("field %s=%q is not a JSON list of strings", name, v)
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// encodeList is list's inverse; an empty list is "".
func encodeList(l []string) string {
	if len(l) == 0 {
		return ""
	}
	out, _ := json.Marshal(l) // a []string always marshals
	return string(out)
}

func (d *decoder) int(name string) int64 {
	v := d.text(name)
	n, err := strconv.ParseInt(v, 10, 64)
	if (err != nil || strconv.FormatInt(n, 10) != v) && d.err == nil {
		d.err = fmt.Errorf("field %s=%q is not an integer", name, v)
	}
	return n
}

func (d *decoder) duration(name string) time.Duration { return time.Duration(d.int(name)) }

// optionalInt is int for a field that records written by an older sentinel
// lack (see layout.optional): absent reads as 0.
func (d *decoder) optionalInt(name string) int64 {
	if _, ok := d.f[name]; !ok {
		return 0
	}
	return d.int(name)
}

// optionalText is text for a field that records written by an older
// sentinel lack (see layout.optional): absent reads as "".
func (d *decoder) optionalText(name string) string {
	return d.f[name]
}

func (d *decoder) bool(name string) bool {
	v := d.text(name)
	if v != "0" && v != "1" && d.err == nil {
		d.err = fmt.Errorf("field %s=%q is not 0 or 1", name, v)
	}
	return v == "1"
}

func (d *decoder) time(name string) time.Time {
	v := d.text(name)
	t, err := decodeTime(v)
	if err != nil && d.err == nil {
		d.err = fmt.Errorf("field %s=%q is not a time in microseconds", name, v)
	}
	return t
}

// fieldMap turns a flat HGETALL reply from a script into a map.
func fieldMap(reply any) (map[string]string, bool) {
	flat, ok := reply.([]any)
	if !ok || len(flat)%2 != 0 {
		return nil, false
	}
	m := make(map[string]string, len(flat)/2)
	for i := 0; i < len(flat); i += 2 {
		k, ok1 := flat[i].(string)
		v, ok2 := flat[i+1].(string)
		if !ok1 || !ok2 {
			return nil, false
		}
		m[k] = v
	}
	return m, true
}
