package session

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

func TestParseStoreErrorPolicy(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in      string
		want    StoreErrorPolicy
		wantErr bool
	}{
		{"", StoreErrorAllow, false},
		{"allow", StoreErrorAllow, false},
		{"deny", StoreErrorDeny, false},
		{" Deny ", StoreErrorDeny, false},
		{"block", "", true},
		{"allow,deny", "", true},
	}
	for _, tt := range tests {
		got, err := ParseStoreErrorPolicy(tt.in)
		if tt.wantErr {
			if !errors.Is(err, ports.ErrInvalidArgument) || !strings.Contains(err.Error(), `"allow" or "deny"`) {
				t.Errorf("ParseStoreErrorPolicy(%q) error = %v, want one listing allow and deny", tt.in, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseStoreErrorPolicy(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCheckRevocation(t *testing.T) {
	t.Parallel()
	now := t0.Add(30 * time.Second)
	outage := fmt.Errorf("redis: get session: %w", ports.ErrUnavailable)
	notFound := fmt.Errorf("redis: get session: %w", ports.ErrNotFound)
	tests := []struct {
		name      string
		shape     string // see sessionIn
		lookupErr error
		policy    StoreErrorPolicy
		allowed   bool
		kind      Outcome
	}{
		{"active allows", "active", nil, StoreErrorAllow, true, OutcomeAllowed},
		{"active allows under deny", "active", nil, StoreErrorDeny, true, OutcomeAllowed},
		{"revoked refuses under allow", "revoked", nil, StoreErrorAllow, false, OutcomeRevoked},
		{"revoked refuses under deny", "revoked", nil, StoreErrorDeny, false, OutcomeRevoked},
		{"expired refuses", "expired", nil, StoreErrorAllow, false, OutcomeExpired},
		{"lapsed refuses", "lapsed", nil, StoreErrorAllow, false, OutcomeExpired},
		{"unknown status refuses", "unknown", nil, StoreErrorAllow, false, OutcomeUnknownStatus},
		// A running server's missing record is a store fault.
		{"not found under allow serves", "", notFound, StoreErrorAllow, true, OutcomeNotFound},
		{"not found under deny refuses", "", notFound, StoreErrorDeny, false, OutcomeNotFound},
		{"store error under allow", "", outage, StoreErrorAllow, true, OutcomeStoreErrorAllowed},
		{"store error under deny", "", outage, StoreErrorDeny, false, OutcomeStoreErrorDenied},
		{"a corrupt record refuses under allow", "", fmt.Errorf("bolt: session x: %w", ports.ErrCorrupt), StoreErrorAllow, false, OutcomeCorrupt},
		{"a corrupt record refuses under deny", "", ports.ErrCorrupt, StoreErrorDeny, false, OutcomeCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var s ports.Session
			if tt.shape != "" {
				s = sessionIn(tt.shape)
			}
			v := CheckRevocation(s, tt.lookupErr, tt.policy, now)
			if v.Allowed != tt.allowed || v.Outcome != tt.kind {
				t.Fatalf("verdict %+v, want allowed=%v kind=%s", v, tt.allowed, tt.kind)
			}
			if v.Detail == "" {
				t.Error("verdict has no detail")
			}
			if tt.lookupErr != nil && !errors.Is(v.Err, tt.lookupErr) {
				t.Errorf("verdict error %v, want the lookup error", v.Err)
			}
		})
	}
}

func TestCheckRevocationCarriesWhoRevoked(t *testing.T) {
	t.Parallel()
	v := CheckRevocation(sessionIn("revoked"), nil, StoreErrorAllow, t0)
	if v.RevokedBy != "bob" || v.RevokedReason != "leaked laptop" || !v.RevokedAt.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("verdict %+v lacks who, why and when", v)
	}
	if !strings.Contains(v.Detail, "bob") || !strings.Contains(v.Detail, "leaked laptop") {
		t.Errorf("detail %q does not say who and why", v.Detail)
	}
}
