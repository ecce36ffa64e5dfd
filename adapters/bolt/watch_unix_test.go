//go:build unix

package bolt

import (
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/core/session"
	"github.com/sentinel-gw/sentinel/ports"
)

// shortDir is a private folder with a path short enough for socket files
// (t.TempDir's names follow the test's and can pass the 103-byte limit).
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "sb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// socketFileHandles is twoHandles on the socket-file flavour in dir.
func socketFileHandles(t *testing.T, dir string) (server, revoker *Store, sess ports.Session, sock string) {
	t.Helper()
	server, revoker, sess = twoHandles(t, flavourSocketFile)
	server.feed.dir, revoker.feed.dir = dir, dir
	key, err := server.feedKey(sess.ServerInstanceID)
	if err != nil {
		t.Fatal(err)
	}
	return server, revoker, sess, filepath.Join(dir, key+".sock")
}

// A server killed with kill -9 leaves its socket file; the next server on
// that name removes it and listens, and a revoke reaches it.
func TestSocketFileLeftByAKilledServerIsReplaced(t *testing.T) {
	dir := shortDir(t)
	server, revoker, sess, sock := socketFileHandles(t, filepath.Join(dir, "feed"))
	if _, err := server.feed.socketDir(true); err != nil {
		t.Fatal(err)
	}
	dead, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	dead.SetUnlinkOnClose(false) // as kill -9 would: the file stays, nobody accepts
	_ = dead.Close()
	if _, err := os.Lstat(sock); err != nil {
		t.Fatalf("the stale socket file is not there: %v", err)
	}
	view := startView(t, server, sess, session.ViewConfig{Resync: time.Hour}, ports.NewFakeClock(testStart))
	waitTrusted(t, view)
	revokeAndAnnounce(t, revoker, sess.ID)
}

// A live server's socket is never taken over, and its file goes when the
// feed stops.
func TestSocketFileOfALiveServerIsKeptAndRemovedOnStop(t *testing.T) {
	dir := shortDir(t)
	server, revoker, sess, sock := socketFileHandles(t, dir)
	ctx, cancel := context.WithCancel(t.Context())
	signals, err := server.Follow(ctx, sess)
	if err != nil {
		t.Fatal(err)
	}
	if got := next(t, signals); got != ports.FeedResumed {
		t.Fatalf("first signal = %v", got)
	}
	if _, err := revoker.Follow(t.Context(), sess); err == nil || !strings.Contains(err.Error(), "already listens") {
		t.Fatalf("a second Follow on a live server's name: err = %v, want already listens", err)
	}
	cancel()
	for range signals {
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the socket file is still there after the feed stopped: %v", err)
	}
}

// The socket folder must be the user's own: anything else is refused by
// both ends (the server then polls; the revoker finds no confirmation).
func TestSocketFolderMustBePrivate(t *testing.T) {
	cases := map[string]func(t *testing.T, dir string){
		"open to the group": func(t *testing.T, dir string) {
			mustDo(t, os.Mkdir(dir, 0o700))
			mustDo(t, os.Chmod(dir, 0o750))
		},
		"a symlink to a private folder": func(t *testing.T, dir string) {
			target := dir + "-target"
			mustDo(t, os.Mkdir(target, 0o700))
			mustDo(t, os.Symlink(target, dir))
		},
		"a file": func(t *testing.T, dir string) {
			mustDo(t, os.WriteFile(dir, nil, 0o600))
		},
		"another user's": func(t *testing.T, dir string) {
			if os.Getuid() != 0 {
				t.Skip("needs root to give a folder to another user")
			}
			mustDo(t, os.Mkdir(dir, 0o700))
			mustDo(t, os.Chown(dir, 4242, 4242))
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(shortDir(t), "feed")
			setup(t, dir)
			server, revoker, sess, _ := socketFileHandles(t, dir)
			if _, err := server.Follow(t.Context(), sess); err == nil || !strings.Contains(err.Error(), "socket folder") {
				t.Fatalf("Follow: err = %v, want the socket folder refused", err)
			}
			err := revoker.Announce(t.Context(), sess)
			if !errors.Is(err, ports.ErrNoListener) || !strings.Contains(err.Error(), "socket folder") {
				t.Fatalf("Announce: err = %v, want the socket folder refused and no listener", err)
			}
		})
	}
	t.Run("created private", func(t *testing.T) {
		dir := filepath.Join(shortDir(t), "feed")
		server, _, sess, _ := socketFileHandles(t, dir)
		follow(t, server, sess)
		fi, err := os.Lstat(dir)
		if err != nil || !fi.IsDir() || fi.Mode().Perm() != 0o700 {
			t.Fatalf("the socket folder: %v, %v; want a folder with mode 0700", fi, err)
		}
	})
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// A socket file removed under a live server (a cleaner of the temporary
// folder) leaves revokers unable to reach it: the feed ends, so the server
// stops trusting its memory and reads the store on every request.
func TestSocketFileRemovedUnderTheServerEndsTheFeed(t *testing.T) {
	server, _, sess, sock := socketFileHandles(t, shortDir(t))
	signals := follow(t, server, sess)
	if err := os.Remove(sock); err != nil {
		t.Fatal(err)
	}
	if got := next(t, signals); got != ports.FeedLost {
		t.Fatalf("after the socket file was removed, signal = %v, want FeedLost", got)
	}
}
