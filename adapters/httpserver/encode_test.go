package httpserver

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

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
