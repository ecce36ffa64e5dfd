package broker_test

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/sentinel-gw/sentinel/core/broker"
	"github.com/sentinel-gw/sentinel/ports"
)

// memoryLog is a DecisionLog that keeps its records.
type memoryLog struct {
	mu   sync.Mutex
	recs []ports.DecisionRecord
}

func (l *memoryLog) Record(_ context.Context, r ports.DecisionRecord) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r)
	return nil
}

func (l *memoryLog) actions() []ports.DecisionRecord {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []ports.DecisionRecord
	for _, r := range l.recs {
		if r.Action != "" {
			out = append(out, r)
		}
	}
	return out
}

// Every call but a credential request and a heartbeat leaves one line: who,
// what, on which record, allowed or refused with the reason, and the
// transport's request id. A refused revoke is in the trail too.
func TestAuditedRecordsEveryCall(t *testing.T) {
	tm := newTeam(t)
	log := &memoryLog{}
	svc := broker.NewAudited(tm.replica(t), log, tm.clock, nil)
	ctx := ports.WithRequestID(context.Background(), "req-1")

	opened, err := svc.OpenSession(ctx, alice, ports.OpenSessionInput{Profile: "dev"})
	if err != nil {
		t.Fatal(err)
	}
	sid := opened.Session.ID
	if _, err := svc.Heartbeat(ctx, alice, sid); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Revoke(ctx, mallory, ports.RevokeInput{ID: sid, Reason: "mischief"}); err == nil {
		t.Fatal("mallory revoked alice's session")
	}
	req, err := svc.CreateRequest(ctx, alice, ports.RequestInput{Profile: "prod", Justification: "deploy the hotfix now", Duration: 3600e9})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.DecideRequest(ctx, bob, ports.DecideInput{ID: req.Request.ID, Approve: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Revoke(ctx, carol, ports.RevokeInput{User: "alice", Reason: "incident"}); err != nil {
		t.Fatal(err)
	}

	got := log.actions()
	type line struct{ action, user, effect, target string }
	var lines []line
	for _, r := range got {
		lines = append(lines, line{r.Action, r.User, r.Effect, r.Target})
		if r.RequestID != "req-1" || r.UserARN == "" || r.Time.IsZero() {
			t.Errorf("record %+v: want the request id, the caller's ARN and a time", r)
		}
	}
	want := []line{
		{broker.ActionOpenSession, "alice", "allow", ""},
		{broker.ActionRevoke, "mallory", "deny", sid},
		{broker.ActionRequestCreate, "alice", "allow", req.Request.ID},
		{broker.ActionRequestApprove, "bob", "allow", req.Request.ID},
		{broker.ActionRevoke, "carol", "allow", "user:alice"},
		{broker.ActionRevoke, "carol", "allow", "alice"},
	}
	if !slices.Equal(lines, want) {
		t.Errorf("audit lines:\n got %+v\nwant %+v", lines, want)
	}
	if got[0].SessionID != sid || got[0].Profile != "dev" {
		t.Errorf("open_session line names session %q profile %q, want %s dev", got[0].SessionID, got[0].Profile, sid)
	}
	if got[1].Error == "" {
		t.Error("the refused revoke's line says nothing of why")
	}
}
