package approval

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

func TestNewRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		id            string
		requester     ports.Identity
		profile       string
		justification string
		d             time.Duration
		wantErr       error
		wantMsg       string
		wantDuration  time.Duration
		wantWarnings  []string
	}{
		{"valid", testID, alice, "prod", justification, time.Hour, nil, "", time.Hour, nil},
		{"exactly the minimum duration", testID, alice, "prod", justification, time.Minute, nil, "", time.Minute, nil},
		{"exactly the maximum duration", testID, alice, "prod", justification, 8 * time.Hour, nil, "", 8 * time.Hour, nil},
		{"12h is capped with a warning", testID, alice, "prod", justification, 12 * time.Hour, nil, "", 8 * time.Hour,
			[]string{"duration 12h capped to the 8h maximum"}},
		{"just over 8h is capped", testID, alice, "prod", justification, 8*time.Hour + time.Second, nil, "", 8 * time.Hour,
			[]string{"duration 8h0m1s capped to the 8h maximum"}},
		{"just under a minute", testID, alice, "prod", justification, 59 * time.Second, ports.ErrInvalidArgument, "duration 59s is too short: ask for 1m to 8h", 0, nil},
		{"zero duration", testID, alice, "prod", justification, 0, ports.ErrInvalidArgument, "too short", 0, nil},
		{"10 characters", testID, alice, "prod", "0123456789", time.Hour, nil, "", time.Hour, nil},
		{"10 multi-byte characters", testID, alice, "prod", "éééééééééé", time.Hour, nil, "", time.Hour, nil},
		{"9 characters", testID, alice, "prod", "012345678", time.Hour, ports.ErrInvalidArgument, "justification is too short: 9 characters, at least 10", 0, nil},
		{"padding does not count", testID, alice, "prod", "   short    \n", time.Hour, ports.ErrInvalidArgument, "5 characters, at least 10", 0, nil},
		{"no justification", testID, alice, "prod", "  ", time.Hour, ports.ErrInvalidArgument, "justification is required", 0, nil},
		{"500 characters", testID, alice, "prod", strings.Repeat("ü", 500), time.Hour, nil, "", time.Hour, nil},
		{"501 characters", testID, alice, "prod", strings.Repeat("x", 501), time.Hour, ports.ErrInvalidArgument, "justification is too long: 501 characters, at most 500", 0, nil},
		{"bad id", "ABC", alice, "prod", justification, time.Hour, ports.ErrInvalidArgument, `request id "ABC" is not valid`, 0, nil},
		{"upper-case id", strings.ToUpper(testID), alice, "prod", justification, time.Hour, ports.ErrInvalidArgument, "not valid", 0, nil},
		{"no requester name", testID, ports.Identity{ARN: "arn:aws:iam::1:user/x"}, "prod", justification, time.Hour, ports.ErrInvalidArgument, "the requester has no name", 0, nil},
		{"no profile", testID, alice, " ", justification, time.Hour, ports.ErrInvalidArgument, "a profile is required", 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, warnings, err := NewRequest(tt.id, tt.requester, tt.profile, tt.justification, tt.d, t0)
			wantError(t, err, tt.wantErr, tt.wantMsg)
			if tt.wantErr != nil {
				return
			}
			if !slices.Equal(warnings, tt.wantWarnings) {
				t.Errorf("warnings = %q, want %q", warnings, tt.wantWarnings)
			}
			want := ports.ApprovalRequest{
				ID: tt.id, Requester: tt.requester.Name, Profile: tt.profile, Justification: strings.TrimSpace(tt.justification),
				Duration: tt.wantDuration, Status: ports.RequestPending,
				CreatedAt: t0, UpdatedAt: t0, ExpiresAt: t0.Add(24 * time.Hour),
			}
			if got != want {
				t.Errorf("NewRequest =\n %+v\nwant\n %+v", got, want)
			}
		})
	}
}

func TestNewRequestTrimsJustification(t *testing.T) {
	t.Parallel()
	got, _, err := NewRequest(testID, alice, "prod", "  "+justification+"\n", time.Hour, t0)
	if err != nil || got.Justification != justification {
		t.Fatalf("justification = %q, %v; want it trimmed", got.Justification, err)
	}
}
