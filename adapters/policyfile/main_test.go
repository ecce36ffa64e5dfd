package policyfile

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the run if a watcher goroutine outlives its context.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
