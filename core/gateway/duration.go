package gateway

import "time"

// DefaultServerDuration is the credential lifetime served in server mode when
// none is configured: short, so a live SDK comes back soon after a revoke, but
// beyond botocore's 15-minute advisory refresh window (SDKRefreshWindow), where
// every botocore API call would be a fetch. docs/revocation.md ("When live
// SDKs notice a revoke") gives the timeline per SDK.
const DefaultServerDuration = 20 * time.Minute

// SDKRefreshWindow is the widest window before a credential's Expiration in
// which a common AWS SDK fetches again: botocore (and the AWS CLI) refresh on
// every call once less than this is left (_DEFAULT_ADVISORY_REFRESH_TIMEOUT),
// and the Java SDK's container provider starts prefetching there.
const SDKRefreshWindow = 15 * time.Minute

// STSMinDuration is the shortest credential STS issues (DurationSeconds 900).
// A cap below it asks STS for this and serves an Expiration no later than the cap.
const STSMinDuration = 900 * time.Second

// CapDuration applies, in order, the configured duration (DefaultServerDuration
// when not positive) and PolicyCap: the matched rule's max_server_duration
// (0 or less means unset) and the remaining time of the approval or
// break-glass window when one is what allowed the request. A result of 0
// means nothing may be served.
func CapDuration(configured, ruleMax, windowRemaining time.Duration, windowApplies bool) time.Duration {
	d := configured
	if d <= 0 {
		d = DefaultServerDuration
	}
	if c, ok := PolicyCap(ruleMax, windowRemaining, windowApplies); ok {
		d = min(d, c)
	}
	return d
}

// PolicyCap is the cap policy itself puts on a request, whatever the server
// is configured to serve: the rule's max_server_duration and, when an
// approval or break-glass window allowed the request, the time left in it
// (never below 0). ok is false when policy sets no cap.
func PolicyCap(ruleMax, windowRemaining time.Duration, windowApplies bool) (time.Duration, bool) {
	var c time.Duration
	ok := false
	if ruleMax > 0 {
		c, ok = ruleMax, true
	}
	if windowApplies {
		w := max(windowRemaining, 0)
		if !ok || w < c {
			c = w
		}
		ok = true
	}
	return c, ok
}

// STSDuration is what to ask STS for to serve a request capped at c: c,
// raised to STS's floor.
func STSDuration(c time.Duration) time.Duration { return max(c, STSMinDuration) }
