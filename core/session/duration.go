package session

import "time"

// DefaultServerDuration is the credential lifetime served in server mode when
// none is configured: short, since every request is re-checked anyway.
const DefaultServerDuration = 15 * time.Minute

// CapDuration applies, in order, the configured duration (DefaultServerDuration
// when not positive), the matched rule's max_server_duration (0 or less means
// unset), and the remaining break-glass time when break-glass is what allowed
// the request. A result of 0 means nothing may be served.
func CapDuration(configured, ruleMax, breakGlassRemaining time.Duration, breakGlassApplies bool) time.Duration {
	d := configured
	if d <= 0 {
		d = DefaultServerDuration
	}
	if ruleMax > 0 {
		d = min(d, ruleMax)
	}
	if breakGlassApplies {
		d = min(d, max(breakGlassRemaining, 0))
	}
	return d
}
