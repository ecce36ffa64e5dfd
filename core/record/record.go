// Package record holds what every stored record shares: minting and checking
// its id, and the length of the text a person writes into it.
package record

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"unicode/utf8"

	"github.com/sentinel-gw/sentinel/ports"
)

// IDLen is 128 bits as lowercase hex.
const IDLen = 32

// NewID returns a fresh 128-bit random id as 32 lowercase hex characters:
// the one id minter for sessions, approval requests, break-glass events,
// server instances and credential requests.
func NewID() (string, error) {
	var b [IDLen / 2]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("new id: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// ValidateID accepts exactly 32 lowercase hex characters; noun names the
// record in the error ("session", "request", "break-glass").
func ValidateID(noun, id string) error {
	if len(id) == IDLen && isLowerHex(id) {
		return nil
	}
	shown := id
	if len(shown) > 80 {
		shown = shown[:80] + "..."
	}
	return fmt.Errorf("%s id %q is not valid: a %s id is 32 lowercase hex characters (128 random bits), e.g. 8f3a2c1d9b7e4f60a1c2d3e4f5061728: %w",
		noun, shown, noun, ports.ErrInvalidArgument)
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

// CheckLength bounds text in runes, saying how to fix it; errors wrap
// ports.ErrInvalidArgument.
func CheckLength(what, text string, lo, hi int, fix string) error {
	n := utf8.RuneCountInString(text)
	switch {
	case n < lo && n == 0:
		return fmt.Errorf("%s is required: %s: %w", what, fix, ports.ErrInvalidArgument)
	case n < lo:
		return fmt.Errorf("%s is too short: %d characters, at least %d: %s: %w", what, n, lo, fix, ports.ErrInvalidArgument)
	case n > hi:
		return fmt.Errorf("%s is too long: %d characters, at most %d: %w", what, n, hi, ports.ErrInvalidArgument)
	}
	return nil
}
