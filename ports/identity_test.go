package ports_test

import (
	"testing"

	"github.com/sentinel-gw/sentinel/internal/identitypairs"
	"github.com/sentinel-gw/sentinel/ports"
)

func TestIdentityMade(t *testing.T) {
	t.Parallel()
	for _, tt := range identitypairs.All() {
		if got := tt.Caller.Made(tt.Maker.Name, tt.Maker.ARN); got != tt.CallerMayUseIt {
			t.Errorf("%s: Made = %v, want %v", tt.Name, got, tt.CallerMayUseIt)
		}
	}
	// An identity with no name owns nothing, not even a record without one.
	if (ports.Identity{Source: "os"}).Made("", "") {
		t.Error("a record with neither name nor ARN belongs to an identity with no name")
	}
}
