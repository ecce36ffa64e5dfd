// Package corrupt checks end to end that a session record overwritten in the
// store with corrupt or foreign data is refused, never served and never a
// crash, on every backend: a real `sentinel exec --server`, a real child
// fetching credentials, and the record rewritten behind the server's back.
package corrupt

import (
	"os"
	"testing"

	"github.com/sentinel-gw/sentinel/internal/testenv"

	"github.com/sentinel-gw/sentinel/internal/e2e"
)

// TestMain dispatches to the child when the test binary is re-executed as
// sentinel's child; otherwise it runs the tests and stops any container
// testenv started.
func TestMain(m *testing.M) {
	if os.Getenv(childModeEnv) != "" {
		os.Exit(runChild())
	}
	code := testenv.Main(m)
	e2e.Cleanup()
	os.Exit(code)
}
