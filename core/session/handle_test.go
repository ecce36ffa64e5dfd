package session

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

func TestRecordAssumedRoleKeepsEachHandleOnce(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	ctx := context.Background()
	if _, err := store.CreateSession(ctx, activeSession()); err != nil {
		t.Fatal(err)
	}
	first := ports.CredentialOrigin{RoleARN: "arn:aws:iam::111122223333:role/Deploy",
		AssumedRoleID: "AROAEXAMPLE1:sentinel.alice." + testID, SourceIdentity: "sentinel.alice." + testID}
	got, err := RecordAssumedRole(ctx, store, testID, first)
	if err != nil {
		t.Fatal(err)
	}
	if got.SourceIdentity != first.SourceIdentity || !slices.Equal(got.RoleARNs, []string{first.RoleARN}) ||
		!slices.Equal(got.AssumedRoleIDs, []string{first.AssumedRoleID}) {
		t.Fatalf("record after first fill = %+v", got)
	}
	// A second fill of the same role writes nothing.
	again, err := RecordAssumedRole(ctx, store, testID, first)
	if err != nil || again.Version != got.Version {
		t.Fatalf("same handles again: version %d -> %d, err %v; want no write", got.Version, again.Version, err)
	}
	// A role recreated at AWS has a new role id: both are kept, in order.
	second := first
	second.AssumedRoleID = "AROAEXAMPLE2:sentinel.alice." + testID
	got, err = RecordAssumedRole(ctx, store, testID, second)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{first.AssumedRoleID, second.AssumedRoleID}; !slices.Equal(got.AssumedRoleIDs, want) || len(got.RoleARNs) != 1 {
		t.Fatalf("AssumedRoleIDs %v RoleARNs %v; want %v and one role", got.AssumedRoleIDs, got.RoleARNs, want)
	}
}

func TestRecordAssumedRoleNeverRevivesARevokedSession(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	ctx := context.Background()
	s := activeSession()
	s.Status, s.RevokedBy, s.RevokedAt = ports.SessionRevoked, "sec", t0.Add(time.Second)
	if _, err := store.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	got, err := RecordAssumedRole(ctx, store, testID, ports.CredentialOrigin{RoleARN: "arn:aws:iam::111122223333:role/R", AssumedRoleID: "AROAX:s"})
	if err != nil || got.Status != ports.SessionRevoked || len(got.RoleARNs) != 1 {
		t.Fatalf("got %+v, %v; want the revoked record with the role added", got, err)
	}
}

func TestRecordAssumedRoleWithoutRoleWritesNothing(t *testing.T) {
	t.Parallel()
	store, _ := newStore(t)
	ctx := context.Background()
	created, err := store.CreateSession(ctx, activeSession())
	if err != nil {
		t.Fatal(err)
	}
	got, err := RecordAssumedRole(ctx, store, testID, ports.CredentialOrigin{PassThrough: true})
	if err != nil || got.Version != created.Version || got.SourceIdentity != "" {
		t.Fatalf("pass-through fill: %+v, %v; want the record untouched", got, err)
	}
	if _, err := RecordAssumedRole(ctx, store, "00000000000000000000000000000000", ports.CredentialOrigin{RoleARN: "arn:aws:iam::1:role/R"}); !errors.Is(err, ports.ErrNotFound) {
		t.Fatalf("missing session: err %v, want ErrNotFound", err)
	}
}
