package bolt

import (
	"context"
	"fmt"
	"net"
	"path/filepath"

	"github.com/sentinel-gw/sentinel/ports"
)

// hostFlavour: Windows has no bbolt feed (see docs/stores.md). The
// server reads its session from the store every --revocation-poll, and
// server-revoke, finding no listener, waits out that bound.
const hostFlavour = flavourNone

// fileIdentity names the file by its resolved path.
func fileIdentity(path string) (string, error) {
	return filepath.EvalSymlinks(path)
}

func (f *feedServer) listen(string) (net.Listener, error) { return nil, errNoFeed }

func (f *feedServer) dial(context.Context, string) (net.Conn, error) {
	return nil, fmt.Errorf("%w: %w", errNoFeed, ports.ErrNoListener)
}

func checkPeer(net.Conn) error { return errNoFeed }
