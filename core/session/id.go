// Package session holds the pure rules for server sessions: ids, the state
// machine, the one optimistic-locking retry loop, the revocation verdict,
// duration capping, STS names, overrides, and the Tracker that keeps a
// running server's session record alive.
package session

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/sentinel-gw/sentinel/core/record"
)

// idLen is 128 bits as lowercase hex.
const idLen = record.IDLen

// NewID returns a fresh 128-bit random session id as 32 lowercase hex characters.
func NewID() (string, error) {
	var b [idLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new session id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// ValidateID accepts exactly 32 lowercase hex characters.
func ValidateID(id string) error { return record.ValidateID("session", id) }
