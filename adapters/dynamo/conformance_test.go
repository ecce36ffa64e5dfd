package dynamo

import (
	"testing"

	"github.com/sentinel-gw/sentinel/conformance"
	"github.com/sentinel-gw/sentinel/ports"
)

// Each factory call gets its own table (45 created in parallel take under a
// second on DynamoDB Local), so every subtest is isolated, the status
// listings and the exact ExpireLapsedSessions counts included.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T, clock ports.Clock) conformance.Backend {
		t.Helper()
		client := testClient(t)
		table := newTestTable(t, client)
		return conformance.Backend{
			Store: New(client, table, clock),
			// A second client, as a second process would have.
			OpenAnother: func(t *testing.T) ports.SessionStore { return New(testClient(t), table, clock) },
			PutCorruptRecord: func(t *testing.T, kind conformance.Kind, id string) {
				t.Helper()
				if kind != conformance.KindSession {
					t.Fatalf("dynamo: cannot corrupt a %s record: this adapter stores sessions only", kind)
				}
				putForeign(t, client, table, id)
			},
		}
	}, conformance.Features{SharedHandles: true, CorruptInjection: true})
}
