package gateway_test

import (
	"context"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/gateway"
)

// A live botocore client comes back SDKRefreshWindow (15 minutes) before the
// Expiration it was given. Whatever the cache holds then, what it is served
// must lie beyond that window again; otherwise every one of its API calls is
// a fetch until the cached credential runs out. Simulated for two hours of a
// client that calls continuously, refreshing when botocore would.
func TestServedCredentialLeavesBotocoreOutsideItsRefreshWindow(t *testing.T) {
	for _, d := range []time.Duration{gateway.DefaultServerDuration, 20 * time.Minute, 30 * time.Minute, time.Hour} {
		t.Run(d.String(), func(t *testing.T) {
			r := newRig(t, allowAll, withDuration(d))
			end := r.clock.Now().Add(2 * time.Hour)
			fetches := 0
			for r.clock.Now().Before(end) {
				creds, err := r.gw.Issue(context.Background(), "r")
				if err != nil {
					t.Fatal(err)
				}
				fetches++
				left := creds.Expires.Sub(r.clock.Now())
				if left <= gateway.SDKRefreshWindow {
					t.Fatalf("after %s, fetch %d was served %s of lifetime, inside botocore's %s refresh window: every API call would be a fetch",
						r.clock.Now().Sub(t0), fetches, left, gateway.SDKRefreshWindow)
				}
				r.clock.Advance(left - gateway.SDKRefreshWindow) // botocore's next fetch
			}
		})
	}
}

// The cache still serves back-to-back requests: several SDK clients of one
// server starting together cost one STS call.
func TestCacheServesBackToBackRequestsAtTheDefault(t *testing.T) {
	r := newRig(t, allowAll, withDuration(gateway.DefaultServerDuration))
	for i := range 5 {
		if _, err := r.gw.Issue(context.Background(), "r"); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		r.clock.Advance(30 * time.Second)
	}
	if n := r.source.calls.Load(); n != 1 {
		t.Errorf("source called %d times for 5 requests within 2 minutes, want 1", n)
	}
}

// The default lies beyond botocore's window, so a botocore API call is not a
// fetch of its own (TestBotoFetchesPerCallByServedDuration in cmd/sentinel
// measures it with a real boto3).
func TestDefaultServerDurationIsBeyondTheSDKRefreshWindow(t *testing.T) {
	if gateway.DefaultServerDuration <= gateway.SDKRefreshWindow {
		t.Errorf("DefaultServerDuration %s is within the %s SDK refresh window", gateway.DefaultServerDuration, gateway.SDKRefreshWindow)
	}
}
