package bolt

import "golang.org/x/sys/unix"

// hostFlavour: macOS has no abstract sockets; it meets on a socket file in
// a private per-user folder.
const hostFlavour = flavourSocketFile

// peerUID is the user of the process at the other end (LOCAL_PEERCRED).
func peerUID(fd int) (int, error) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return -1, err
	}
	return int(cred.Uid), nil
}
