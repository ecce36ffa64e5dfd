package session

import (
	"fmt"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// MaxPoll caps --revocation-poll: a revoker that gets no confirmation waits
// out two polls, and that wait must stay within the --ack-timeout default.
const MaxPoll = time.Second

// rereadSlack covers timers of two processes that do not run at exactly the
// same rate.
const rereadSlack = 10 * time.Millisecond

// CheckPoll validates a --revocation-poll value: positive and at most MaxPoll.
func CheckPoll(poll time.Duration) error {
	if poll <= 0 || poll > MaxPoll {
		return fmt.Errorf("--revocation-poll must be between 1ms and %s (got %s)", MaxPoll, poll)
	}
	return nil
}

// RereadBound is how long after a write to s every live server following s
// has read it back from the store, whatever its feed does: a server serves
// its memory copy only while the read that filled it started less than two
// resync intervals ago (with a feed) or two polls ago (without one, at the
// s.RevocationPoll it recorded), so once this bound has passed since the
// write landed, no request is served from a copy older than the write.
// A revoker that gets no confirmation (no listener on the feed) waits it out.
func RereadBound(s ports.Session) time.Duration {
	poll := s.RevocationPoll
	if poll <= 0 {
		poll = DefaultPoll
	}
	return max(2*DefaultResync, 2*poll) + rereadSlack
}
