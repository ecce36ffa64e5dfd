package httpserver

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/sentinel-gw/sentinel/ports"
)

func TestAppendJSONStringRoundTrips(t *testing.T) {
	tests := []string{
		"", "plain", `quote " and backslash \`, "newline\n tab\t cr\r", "ctrl \x00\x01\x1f\x7f",
		"unicode é 日本 🙂", "</script>&", "\u2028\u2029", "AKIA/+=",
	}
	for _, s := range tests {
		enc := appendJSONString(nil, s)
		var got string
		if err := json.Unmarshal(enc, &got); err != nil {
			t.Fatalf("%q encoded as %s: not JSON: %v", s, enc, err)
		}
		if got != s {
			t.Errorf("round trip %q -> %s -> %q", s, enc, got)
		}
	}
}

func TestAppendJSONStringInvalidUTF8(t *testing.T) {
	s := "a\xffb\xc3"
	enc := appendJSONString(nil, s)
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

func TestAppendCredentials(t *testing.T) {
	c := ports.Credentials{AccessKeyID: "AK", SecretAccessKey: `se"cr\et`, SessionToken: "tok\n"}
	exp := time.Date(2030, 5, 6, 7, 8, 9, 999_000_000, time.FixedZone("x", 3600))
	body := appendCredentials(nil, c, exp)
	var got map[string]string
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("%s: %v", body, err)
	}
	want := map[string]string{
		"AccessKeyId": "AK", "SecretAccessKey": `se"cr\et`, "Token": "tok\n",
		// UTC, and the sub-second part dropped so it is never later than exp.
		"Expiration": "2030-05-06T06:08:09Z",
	}
	if len(got) != len(want) {
		t.Errorf("fields = %v; want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q; want %q", k, got[k], v)
		}
	}
	if !strings.HasPrefix(string(body), `{"AccessKeyId":`) {
		t.Errorf("body %s", body)
	}
}

func TestAppendError(t *testing.T) {
	body := appendError(nil, "AccessDenied", `policy denied: rule "a": b`)
	var got struct{ Code, Message string }
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatal(err)
	}
	if got.Code != "AccessDenied" || got.Message != `policy denied: rule "a": b` {
		t.Errorf("got %+v", got)
	}
}
