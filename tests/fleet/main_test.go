// Package fleet runs many `sentinel exec --server` processes on one store and
// revokes them from separate processes, to show that every revoke lands on
// the right server only. It holds tests and nothing else.
package fleet

import (
	"os"
	"testing"

	"github.com/sentinel-gw/sentinel/internal/testenv"

	"github.com/sentinel-gw/sentinel/internal/e2e"
)

func TestMain(m *testing.M) {
	code := testenv.Main(m)
	e2e.Cleanup()
	os.Exit(code)
}
