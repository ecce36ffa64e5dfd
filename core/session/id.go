// Package session holds the pure rules for server sessions: ids, the state
// machine, the one optimistic-locking retry loop, the revocation verdict,
// duration capping, STS names, overrides, and the Tracker that keeps a
// running server's session record alive.
package session

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/sentinel-gw/sentinel/ports"
)

// idLen is 128 bits as lowercase hex.
const idLen = 32

// NewID returns a fresh 128-bit random session id as 32 lowercase hex characters.
func NewID() (string, error) {
	var b [idLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new session id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// ValidateID accepts exactly 32 lowercase hex characters.
func ValidateID(id string) error {
	if len(id) == idLen && isLowerHex(id) {
		return nil
	}
	shown := id
	if len(shown) > 80 {
		shown = shown[:80] + "..."
	}
	return fmt.Errorf("session id %q is not valid: a session id is 32 lowercase hex characters (128 random bits), e.g. 8f3a2c1d9b7e4f60a1c2d3e4f5061728: %w",
		shown, ports.ErrInvalidArgument)
}

func isLowerHex(s string) bool {
	for i := range len(s) {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
