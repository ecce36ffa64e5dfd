package dynamo

import (
	"testing"

	"github.com/sentinel-gw/sentinel/conformance"
	"github.com/sentinel-gw/sentinel/ports"
)

// Each factory call gets its own store (four tables; a hundred created in
// parallel take about a second on DynamoDB Local), so every subtest is
// isolated, the status listings and the exact ExpireLapsedX counts included.
func TestConformance(t *testing.T) {
	conformance.Run(t, func(t *testing.T, clock ports.Clock) conformance.Backend {
		t.Helper()
		client := testClient(t)
		table := newTestTable(t, client)
		store := New(client, table, clock)
		return conformance.Backend{
			Store: store, Approvals: store, BreakGlass: store, Locks: store,
			// A second client, as a second process would have.
			OpenAnother: func(t *testing.T) ports.SessionStore { return New(testClient(t), table, clock) },
			PutCorruptRecord: func(t *testing.T, kind conformance.Kind, id string) {
				t.Helper()
				tables := map[conformance.Kind]string{
					conformance.KindSession: store.table, conformance.KindRequest: store.requestsTable,
					conformance.KindBreakGlass: store.eventsTable, conformance.KindLock: store.locksTable(),
				}
				name, ok := tables[kind]
				if !ok {
					t.Fatalf("dynamo: no table holds %s records", kind)
				}
				putForeign(t, client, name, id)
			},
		}
	}, conformance.Features{
		SharedHandles: true, CorruptInjection: true,
		// No change feed: the server polls the record and confirms through
		// it (ports.ReadAcknowledger).
		Feed:    conformance.FeedPoll,
		Waivers: map[string]string{"FeedGaps": "poll mode: the server reads the table on its poll bound, there is no feed to lose"},
	})
}
