package jsonenc

import (
	"encoding/json"
	"testing"
	"unicode/utf8"
)

func TestAppendStringRoundTrips(t *testing.T) {
	tests := []string{
		"", "plain", `quote " and backslash \`, "newline\n tab\t cr\r", "ctrl \x00\x01\x1f\x7f",
		"unicode é 日本 🙂", "</script>&", "\u2028\u2029", "AKIA/+=",
	}
	for _, s := range tests {
		enc := AppendString(nil, s)
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatalf("%q encoded as %s: not JSON: %v", s, enc, err)
		}
		if got != s {
			t.Errorf("round trip %q -> %s -> %q", s, enc, got)
		}
	}
}

func TestAppendStringInvalidUTF8(t *testing.T) {
	s := "a\xffb\xc3"
	enc := AppendString(nil, s)
	if !utf8.Valid(enc) {
		t.Fatalf("output %q is not valid UTF-8", enc)
	}
	var got string
	if err := json.Unmarshal(enc, &got); err != nil {
		t.Fatal(err)
	}
	// encoding/json makes the same replacement.
	want, _ := json.Marshal(s)
	var wantStr string
	_ = json.Unmarshal(want, &wantStr)
	if got != wantStr {
		t.Errorf("got %q, want %q", got, wantStr)
	}
}
