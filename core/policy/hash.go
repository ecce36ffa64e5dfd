package policy

import (
	"crypto/sha256"
	"encoding/hex"
)

// HashPrefix starts every policy hash, naming the algorithm.
const HashPrefix = "sha256:"

// HashOf is the version of a policy file's bytes: "sha256:" and the first
// 16 hex digits of their SHA-256. Decision records and metrics carry it, so
// an audit can tell which policy decided. Any byte change (a comment too)
// makes a new version: it names the file, not its meaning.
func HashOf(data []byte) string {
	sum := sha256.Sum256(data)
	return HashPrefix + hex.EncodeToString(sum[:8])
}
