package gateway

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
		breakGlass             bool // an approval or break-glass window applies
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
		{"window remaining caps", 30 * m, 10 * m, 4 * m, true, 4 * m},
		{"approval ending in 2m caps an hour", time.Hour, 0, 2 * m, true, 2 * m},
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

func TestPolicyCap(t *testing.T) {
	t.Parallel()
	const m = time.Minute
	tests := []struct {
		name       string
		rule, left time.Duration
		window     bool
		want       time.Duration
		wantOK     bool
	}{
		{"nothing set", 0, 0, false, 0, false},
		{"rule only", 10 * m, 0, false, 10 * m, true},
		{"window only", 0, 3 * m, true, 3 * m, true},
		{"window shorter than rule", 10 * m, 3 * m, true, 3 * m, true},
		{"rule shorter than window", 10 * m, 30 * m, true, 10 * m, true},
		{"window over", 10 * m, -m, true, 0, true},
		{"window not applying", 10 * m, 3 * m, false, 10 * m, true},
	}
	for _, tt := range tests {
		got, ok := PolicyCap(tt.rule, tt.left, tt.window)
		if got != tt.want || ok != tt.wantOK {
			t.Errorf("%s: PolicyCap(%s, %s, %v) = %s, %v; want %s, %v", tt.name, tt.rule, tt.left, tt.window, got, ok, tt.want, tt.wantOK)
		}
	}
}

func TestSTSDurationFloor(t *testing.T) {
	t.Parallel()
	for in, want := range map[time.Duration]time.Duration{
		time.Minute: 900 * time.Second, 900 * time.Second: 900 * time.Second, time.Hour: time.Hour,
	} {
		if got := STSDuration(in); got != want {
			t.Errorf("STSDuration(%s) = %s, want %s", in, got, want)
		}
	}
}
