package memory_test

import (
	"testing"

	"github.com/sentinel-gw/sentinel/adapters/memory"
	"github.com/sentinel-gw/sentinel/conformance"
	"github.com/sentinel-gw/sentinel/ports"
)

// TestConformance runs the shared suite against the reference store. It
// holds no second handle and no raw bytes, so the two tests that need them
// are waived (and skip, naming why), even under CI.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T, clock ports.Clock) conformance.Backend {
		store := memory.New(clock)
		t.Cleanup(func() { _ = store.Close() })
		return conformance.Backend{Store: store, Approvals: store, BreakGlass: store, Locks: store}
	}, conformance.Features{
		Waived: "in-process only: a map has no second handle and no encoded bytes to corrupt",
		Waivers: map[string]string{
			"Feed":     "in-process only: no feed and no second process to announce to",
			"FeedGaps": "in-process only: no feed",
		},
	})
}
