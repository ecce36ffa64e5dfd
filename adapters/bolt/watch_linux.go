package bolt

import "golang.org/x/sys/unix"

// hostFlavour: Linux meets on an abstract socket (no file to clean up).
const hostFlavour = flavourAbstract

// peerUID is the user of the process at the other end (SO_PEERCRED).
func peerUID(fd int) (int, error) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return -1, err
	}
	return int(cred.Uid), nil
}
