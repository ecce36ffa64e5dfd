package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// TestDeliveryIsSignedAndVerifies sends one event to a real receiver and
// checks what arrived: headers, body schema, and a signature that Verify
// accepts only for the right secret, body and time.
func TestDeliveryIsSignedAndVerifies(t *testing.T) {
	clock := ports.NewFakeClock(time.Date(2030, 3, 4, 5, 6, 30, 0, time.UTC))
	rc := newReceiver(t, statuses(204))
	n, _ := newTestNotifier(t, []policy.Webhook{hookTo("audit", rc.URL)}, func(c *Config) { c.Clock = clock })

	note := requestNote(ports.EventRequestApproved)
	n.Notify(context.Background(), note)

	got := rc.requests()
	if len(got) != 1 {
		t.Fatalf("receiver got %d requests, want 1", len(got))
	}
	h, body := got[0].header, got[0].body
	now := clock.Now()
	ts := h.Get(HeaderTimestamp)

	for name, want := range map[string]string{
		"Content-Type":  "application/json",
		HeaderEvent:     ports.EventRequestApproved,
		HeaderTimestamp: strconv.FormatInt(now.Unix(), 10),
	} {
		if v := h.Get(name); v != want {
			t.Errorf("%s = %q, want %q", name, v, want)
		}
	}

	// The body is exactly the notification's JSON plus the delivery id.
	var gotBody map[string]any
	if err := json.Unmarshal(body, &gotBody); err != nil {
		t.Fatalf("body is not JSON: %v", err)
	}
	id, _ := gotBody["id"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Errorf("body id = %q, want 32 lowercase hex", id)
	}
	if d := h.Get(HeaderDelivery); d != id {
		t.Errorf("%s = %q, body id = %q: they must match", HeaderDelivery, d, id)
	}
	delete(gotBody, "id")
	plain, _ := json.Marshal(note)
	var wantBody map[string]any
	_ = json.Unmarshal(plain, &wantBody)
	if !reflect.DeepEqual(gotBody, wantBody) {
		t.Errorf("body without id =\n%v\nwant the notification's JSON\n%v", gotBody, wantBody)
	}

	sig := h.Get(HeaderSignature)
	if err := Verify([]byte(testSecret), ts, sig, body, now, time.Minute); err != nil {
		t.Fatalf("Verify of a genuine delivery: %v", err)
	}

	altered := append([]byte(nil), body...)
	altered[len(altered)-2] ^= 1
	tsPlusOne := strconv.FormatInt(now.Unix()+1, 10)

	tests := []struct {
		name      string
		secret    string
		timestamp string
		signature string
		body      []byte
		now       time.Time
		tolerance time.Duration
		want      error
	}{
		{"wrong secret", "not-the-secret", ts, sig, body, now, time.Minute, ErrBadSignature},
		{"altered body", testSecret, ts, sig, altered, now, time.Minute, ErrBadSignature},
		{"timestamp swapped for a fresher one", testSecret, tsPlusOne, sig, body, now, time.Minute, ErrBadSignature},
		{"old timestamp (replay)", testSecret, ts, sig, body, now.Add(6 * time.Minute), 5 * time.Minute, ErrStale},
		{"timestamp from the future", testSecret, ts, sig, body, now.Add(-6 * time.Minute), 5 * time.Minute, ErrStale},
		{"default tolerance rejects 6m", testSecret, ts, sig, body, now.Add(6 * time.Minute), 0, ErrStale},
		{"default tolerance accepts 4m", testSecret, ts, sig, body, now.Add(4 * time.Minute), 0, nil},
		{"timestamp not a number", testSecret, "yesterday", sig, body, now, time.Minute, ErrMalformed},
		{"signature without scheme", testSecret, ts, sig[len("sha256="):], body, now, time.Minute, ErrMalformed},
		{"signature truncated", testSecret, ts, sig[:len(sig)-2], body, now, time.Minute, ErrMalformed},
		{"signature missing", testSecret, ts, "", body, now, time.Minute, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Verify([]byte(tt.secret), tt.timestamp, tt.signature, tt.body, tt.now, tt.tolerance)
			if !errors.Is(err, tt.want) || (tt.want == nil) != (err == nil) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
}

// TestSignMatchesDocumentedScheme recomputes the signature as a receiver in
// another language would: HMAC-SHA256 over timestamp "." body, hex.
func TestSignMatchesDocumentedScheme(t *testing.T) {
	// Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key
	const want = "sha256=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03"
	got := Sign([]byte("key"), "1700000000", []byte(`{"a":1}`))
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}
