package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/webhook"
	"github.com/sentinel-gw/sentinel/core/policy"
	"github.com/sentinel-gw/sentinel/ports"
)

// The receiver below is shown in docs/webhooks.md; TestDocsGoSnippet keeps
// the two identical, and ExampleVerify runs it against a real delivery.

// sentinelHook receives Sentinel's webhooks. secret is the value of the
// environment variable that the webhook's secret_env names.
func sentinelHook(secret []byte, handle func(id, eventType string, body []byte)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
		if err != nil {
			http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
			return
		}
		err = webhook.Verify(secret,
			r.Header.Get("X-Sentinel-Timestamp"),
			r.Header.Get("X-Sentinel-Signature"),
			body, time.Now(), 5*time.Minute)
		if err != nil {
			http.Error(w, "invalid signature", http.StatusUnauthorized)
			return
		}
		var event struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		}
		if err := json.Unmarshal(body, &event); err != nil {
			http.Error(w, "invalid body", http.StatusBadRequest)
			return
		}
		// A retry carries the same id: act on each id once.
		handle(event.ID, event.Type, body)
		w.WriteHeader(http.StatusNoContent)
	}
}

func ExampleVerify() {
	secret := []byte("a long random secret shared with the receiver")
	receiver := httptest.NewServer(sentinelHook(secret, func(_, eventType string, body []byte) {
		var event struct {
			Actor      string `json:"actor"`
			BreakGlass struct {
				Profile    string `json:"profile"`
				ReasonCode string `json:"reason_code"`
			} `json:"breakglass"`
		}
		_ = json.Unmarshal(body, &event)
		fmt.Println(eventType, event.Actor, event.BreakGlass.Profile, event.BreakGlass.ReasonCode)
	}))
	defer receiver.Close()

	notifier, err := webhook.New(webhook.Config{
		Webhooks: []policy.Webhook{{Name: "audit", URL: receiver.URL, SecretEnv: "AUDIT_SECRET"}},
		Getenv:   func(string) string { return string(secret) },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	notifier.Notify(context.Background(), ports.Notification{
		Type:       ports.EventBreakGlassInvoked,
		Actor:      "alice",
		BreakGlass: &ports.BreakGlassEvent{ID: "6f1c0e3a9b2d4c5e8f7a6b5c4d3e2f10", Invoker: "alice", Profile: "prod", ReasonCode: "incident"},
	})

	// A body signed with another secret is refused.
	now := time.Now()
	ts := fmt.Sprint(now.Unix())
	forged := webhook.Sign([]byte("guessed"), ts, []byte(`{"type":"breakglass.closed"}`))
	fmt.Println(webhook.Verify(secret, ts, forged, []byte(`{"type":"breakglass.closed"}`), now, 5*time.Minute))
	// Output:
	// breakglass.invoked alice prod incident
	// webhook: signature mismatch
}
