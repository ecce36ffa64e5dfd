package gateway_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a goroutine (a tracker or view the pipeline
// drives, a request still waiting on the store) outlives the tests.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
