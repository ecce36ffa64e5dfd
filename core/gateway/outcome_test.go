package gateway

import (
	"errors"
	"fmt"
	"testing"

	"github.com/sentinel-gw/sentinel/ports"
)

func TestOutcomeOf(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, OutcomeAllow},
		{&DeniedError{Rule: "no-prod"}, OutcomeDeny},
		{&LockedError{Lock: ports.Lock{}}, OutcomeDeny},
		{&RevokedError{By: "sec"}, OutcomeRevoked},
		{fmt.Errorf("wrapped: %w", &RevokedError{By: "sec"}), OutcomeRevoked},
		{&SessionEndedError{SessionID: "s"}, OutcomeRevoked},
		{&DeniedError{Reason: "the policy could not be loaded: gone", policyUnavailable: true}, OutcomeError},
		{&StoreError{Err: errors.New("down")}, OutcomeError},
		{&SourceError{Err: errors.New("sts")}, OutcomeError},
		{errors.New("anything else"), OutcomeError},
	}
	for _, tt := range tests {
		if got := OutcomeOf(tt.err); got != tt.want {
			t.Errorf("OutcomeOf(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}
