//go:build unix && !linux && !darwin

package bolt

import "errors"

// hostFlavour: on other unixes the peer check is not written yet, so there
// is no feed; the server polls the store.
const hostFlavour = flavourNone

func peerUID(int) (int, error) {
	return -1, errors.New("the peer's user cannot be read on this platform")
}
