package record

import (
	"errors"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/ports"
)

func TestNewIDIsValidAndUnique(t *testing.T) {
	t.Parallel()
	seen := make(map[string]bool)
	for range 1000 {
		id, err := NewID()
		if err != nil {
			t.Fatalf("NewID: %v", err)
		}
		if err := ValidateID("session", id); err != nil {
			t.Fatalf("NewID gave %q, which ValidateID refuses: %v", id, err)
		}
		if seen[id] {
			t.Fatalf("NewID repeated %q", id)
		}
		seen[id] = true
	}
}

func TestValidateID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   string
		ok   bool
	}{
		{"32 lowercase hex", "0123456789abcdef0123456789abcdef", true},
		{"empty", "", false},
		{"31 characters", "0123456789abcdef0123456789abcde", false},
		{"33 characters", "0123456789abcdef0123456789abcdef0", false},
		{"uppercase hex", "0123456789ABCDEF0123456789ABCDEF", false},
		{"non-hex letter", "0123456789abcdef0123456789abcdeg", false},
		{"uuid with dashes", "01234567-89ab-cdef-0123-456789abcdef", false},
		{"non-ascii of 32 bytes", strings.Repeat("é", 16), false},
		{"surrounding space", " 0123456789abcdef0123456789abcde", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := ValidateID("break-glass", tt.id)
			if tt.ok {
				if err != nil {
					t.Fatalf("ValidateID(%q) = %v, want nil", tt.id, err)
				}
				return
			}
			if !errors.Is(err, ports.ErrInvalidArgument) {
				t.Fatalf("ValidateID(%q) = %v, want ErrInvalidArgument", tt.id, err)
			}
			if !strings.Contains(err.Error(), "32 lowercase hex") {
				t.Errorf("error %q does not say what an id looks like", err)
			}
			if !strings.HasPrefix(err.Error(), "break-glass id ") {
				t.Errorf("error %q does not name the record", err)
			}
		})
	}
}
