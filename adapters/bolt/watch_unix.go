//go:build unix

package bolt

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// maxSocketPath is the longest socket file path every unix takes (macOS's
// sun_path holds 104 bytes with the terminating NUL).
const maxSocketPath = 103

// fileIdentity names the file at path by device and inode, so every path
// that reaches it (a symlink, a hard link, a relative path) gives one name.
func fileIdentity(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", fmt.Errorf("no device and inode for %s", path)
	}
	return fmt.Sprintf("dev %d ino %d", st.Dev, st.Ino), nil
}

// listen opens the server's end of the feed.
func (f *feedServer) listen(key string) (net.Listener, error) {
	switch f.kind() {
	case flavourAbstract:
		return net.Listen("unix", abstractName(key))
	case flavourSocketFile:
		dir, err := f.socketDir(true)
		if err != nil {
			return nil, err
		}
		path, err := socketPath(dir, key)
		if err != nil {
			return nil, err
		}
		ln, err := listenSocketFile(path)
		if err != nil {
			return nil, err
		}
		return watchSocketFile(ln, path)
	default:
		return nil, errNoFeed
	}
}

// dial reaches the server's end; an error wraps ports.ErrNoListener when
// nobody listens there.
func (f *feedServer) dial(ctx context.Context, key string) (net.Conn, error) {
	var addr string
	switch f.kind() {
	case flavourAbstract:
		addr = abstractName(key)
	case flavourSocketFile:
		// No server can listen in a missing or refused folder either.
		dir, err := f.socketDir(false)
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no socket folder %s: %w", dir, ports.ErrNoListener)
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", err, ports.ErrNoListener)
		}
		if addr, err = socketPath(dir, key); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("%w: %w", errNoFeed, ports.ErrNoListener)
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", addr)
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
		return nil, fmt.Errorf("%w: %w", err, ports.ErrNoListener)
	}
	return conn, err
}

func abstractName(key string) string { return "@sentinel-bolt/" + key }

// socketPath is the socket file of key in dir.
func socketPath(dir, key string) (string, error) {
	path := filepath.Join(dir, key+".sock")
	if len(path) > maxSocketPath {
		return "", fmt.Errorf("the socket path %s is longer than %d bytes; set TMPDIR to a shorter folder", path, maxSocketPath)
	}
	return path, nil
}

// socketDir is the private per-user folder for socket files: the test's
// folder when set, else sentinel-<uid> in the temporary folder (per user on
// macOS). The server creates it (0700); both ends refuse it unless it is a
// real folder owned by this user that nobody else may enter.
func (f *feedServer) socketDir(create bool) (string, error) {
	dir := f.dir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "sentinel-"+strconv.Itoa(os.Getuid()))
	}
	if create {
		if err := os.Mkdir(dir, folderMode); err != nil && !errors.Is(err, fs.ErrExist) {
			return dir, fmt.Errorf("create the socket folder: %w", err)
		}
	}
	return dir, checkPrivateDir(dir)
}

// checkPrivateDir refuses dir unless it is a folder (not a symlink) owned by
// this user with no access for group or others: anyone else who could write
// there could stand in for the server.
func checkPrivateDir(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("the socket folder %s is not a folder (mode %s); remove it", dir, fi.Mode())
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) != os.Getuid() {
		return fmt.Errorf("the socket folder %s belongs to another user; remove it or set TMPDIR to a folder of your own", dir)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fmt.Errorf("the socket folder %s (mode %#o) is open to other users; run: chmod 700 %s", dir, perm, dir)
	}
	return nil
}

// listenSocketFile listens on path. A socket file already there is either a
// live server's (refused: the instance is taken) or one a killed server left
// behind (nobody accepts on it): that one is removed. The listener removes
// its own file on close.
func listenSocketFile(path string) (net.Listener, error) {
	ln, err := net.Listen("unix", path)
	if !errors.Is(err, syscall.EADDRINUSE) {
		return ln, err
	}
	fi, statErr := os.Lstat(path)
	if statErr != nil || fi.Mode().Type() != fs.ModeSocket {
		return nil, err
	}
	conn, dialErr := net.Dial("unix", path)
	if dialErr == nil {
		_ = conn.Close()
		return nil, fmt.Errorf("another server already listens on %s", path)
	}
	if !errors.Is(dialErr, syscall.ECONNREFUSED) {
		return nil, err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("remove the stale socket %s: %w", path, err)
	}
	return net.Listen("unix", path)
}

// checkPeer refuses a peer that runs as another user.
func checkPeer(conn net.Conn) error {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return errors.New("not a unix socket")
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var uid int
	var credErr error
	if err := raw.Control(func(fd uintptr) { uid, credErr = peerUID(int(fd)) }); err != nil {
		return err
	}
	if credErr != nil {
		return fmt.Errorf("the peer's user: %w", credErr)
	}
	if uid != os.Getuid() {
		return fmt.Errorf("the peer runs as uid %d, not %d", uid, os.Getuid())
	}
	return nil
}

// socketCheckEvery is how often a server checks that its socket file is
// still there: well within the wait of a revoker that finds no listener.
const socketCheckEvery = 50 * time.Millisecond

// watchSocketFile closes ln once its file is gone or replaced (a cleaner of
// the temporary folder, a person): revokers can no longer reach it, so the
// feed ends (FeedLost) and the server reads the store on every request.
func watchSocketFile(ln net.Listener, path string) (net.Listener, error) {
	own, err := os.Lstat(path)
	if err != nil {
		_ = ln.Close()
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		tick := time.NewTicker(socketCheckEvery)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
			}
			if now, err := os.Lstat(path); err != nil || !os.SameFile(own, now) {
				_ = ln.Close()
				return
			}
		}
	}()
	return &closeNotifyListener{Listener: ln, done: done}, nil
}

// closeNotifyListener stops the file watch when the feed closes it.
type closeNotifyListener struct {
	net.Listener
	once sync.Once
	done chan struct{}
}

func (l *closeNotifyListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}
