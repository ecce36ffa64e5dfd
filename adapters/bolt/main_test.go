package bolt

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a goroutine (the revocation feed's listener,
// a follower's connection) outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
