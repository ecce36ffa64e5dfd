package session

import (
	"testing"
	"time"
)

func TestCapDuration(t *testing.T) {
	t.Parallel()
	const m = time.Minute
	tests := []struct {
		name                   string
		configured, rule, left time.Duration
		breakGlass             bool
		want                   time.Duration
	}{
		{"default when unset", 0, 0, 0, false, DefaultServerDuration},
		{"default when negative", -m, 0, 0, false, DefaultServerDuration},
		{"configured", 5 * m, 0, 0, false, 5 * m},
		{"configured above default stays", time.Hour, 0, 0, false, time.Hour},
		{"rule caps configured", 30 * m, 10 * m, 0, false, 10 * m},
		{"rule above configured does nothing", 5 * m, 10 * m, 0, false, 5 * m},
		{"rule caps default", 0, 3 * m, 0, false, 3 * m},
		{"negative rule is unset", 5 * m, -m, 0, false, 5 * m},
		{"break-glass remaining caps", 30 * m, 10 * m, 4 * m, true, 4 * m},
		{"break-glass remaining above cap does nothing", 30 * m, 10 * m, 20 * m, true, 10 * m},
		{"break-glass not applying is ignored", 30 * m, 0, 4 * m, false, 30 * m},
		{"break-glass used up gives zero", 30 * m, 0, 0, true, 0},
		{"break-glass overdue gives zero", 30 * m, 0, -5 * m, true, 0},
	}
	for _, tt := range tests {
		if got := CapDuration(tt.configured, tt.rule, tt.left, tt.breakGlass); got != tt.want {
			t.Errorf("%s: CapDuration(%s, %s, %s, %v) = %s, want %s",
				tt.name, tt.configured, tt.rule, tt.left, tt.breakGlass, got, tt.want)
		}
	}
}
