package redisstore

import (
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sentinel-gw/sentinel/internal/testenv"
	"github.com/sentinel-gw/sentinel/ports"
)

// A session written by an older sentinel lacks the fields added since
// (layout.optional). It must read as holding their zero values, and stay
// touchable and revocable, or an upgrade mid-session would leave sessions no
// revoke can reach. Every other missing field is still corruption
// (TestCorruptRecords).
func TestRecordsWithoutLaterFieldsStayUsable(t *testing.T) {
	url := testenv.Redis(t)
	clock := ports.NewFakeClock(testStart)
	store := openStore(t, url, newPrefix(t, url), clock)
	s := activeSession(newID(), "alice", testStart)
	s.RoleARNs = []string{"arn:aws:iam::111122223333:role/deploy"}
	s.AssumedRoleIDs = []string{"AROAEXAMPLE:sentinel.alice"}
	s.RevocationPoll = 70 * time.Millisecond
	if _, err := store.CreateSession(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(opt)
	defer func() { _ = c.Close() }()
	if len(sessionKind.optional) == 0 {
		t.Fatal("the session layout names no optional field")
	}
	if err := c.HDel(t.Context(), store.recordKey(s.ID), sessionKind.optional...).Err(); err != nil {
		t.Fatal(err)
	}

	got, err := store.GetSession(t.Context(), s.ID)
	if err != nil {
		t.Fatalf("GetSession of an older record: %v", err)
	}
	if got.RoleARNs != nil || got.AssumedRoleIDs != nil || got.RevocationPoll != 0 {
		t.Errorf("older record read as %+v; want the later fields zero", got)
	}
	if got, err = store.TouchSession(t.Context(), s.ID, testStart.Add(time.Second), 1); err != nil || got.RequestCount != s.RequestCount+1 {
		t.Fatalf("TouchSession of an older record: %+v, %v", got, err)
	}
	got.Status, got.RevokedBy, got.RevokedReason, got.RevokedAt = ports.SessionRevoked, "secops", "upgrade", testStart.Add(2*time.Second)
	revoked, err := store.UpdateSession(t.Context(), got)
	if err != nil || revoked.Status != ports.SessionRevoked {
		t.Fatalf("revoking an older record: %+v, %v", revoked, err)
	}
	listed, err := store.ListSessionsByUser(t.Context(), "alice", ports.Page{Limit: 10})
	if err != nil || len(listed.Sessions) != 1 || listed.Sessions[0].Status != ports.SessionRevoked {
		t.Fatalf("listing after the revoke: %+v, %v", listed, err)
	}
}
