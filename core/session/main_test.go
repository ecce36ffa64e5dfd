package session

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a goroutine (a tracker's flush loop, a view's
// follow loop) outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
