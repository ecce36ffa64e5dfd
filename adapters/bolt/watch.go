package bolt

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// The session feed for bbolt is a local unix socket per running server,
// named after the store file's identity (device and inode, so a symlink, a
// relative path or a hard link all meet on one name) and the server
// instance. The revoker writes "changed <id> <version>", the server re-reads
// the store and answers "ack <version>". Both ends check that the peer runs
// as the same OS user. The feed only ever speeds things up: a server that
// cannot listen polls the store, and a revoker that finds no listener waits
// out that polling bound.
//
// How the two ends meet depends on the OS (the flavour, chosen in the
// build-tagged files; tests on Linux run every flavour):
//   - Linux: an abstract socket, which needs no file (nothing to clean up
//     after kill -9); the peer is checked with SO_PEERCRED.
//   - macOS: a socket file in a private per-user folder (mode 0700, owned by
//     the user); the peer is checked with LOCAL_PEERCRED. The listener
//     removes its file on close, and a file left by a killed server is
//     removed by the next one to listen there. A server whose file is
//     removed under it (a cleaner of the temporary folder) ends its feed
//     and reads the store on every request.
//   - Windows: no feed; the server polls the store (docs/stores.md).

var (
	_ ports.SessionFeed     = (*Store)(nil)
	_ ports.ChangeAnnouncer = (*Store)(nil)
)

const (
	feedLineMax     = 128
	feedReadTimeout = 2 * time.Second
	// maxPendingAnnouncers bounds how many revokers may wait at once.
	maxPendingAnnouncers = 64
)

// feedFlavour is how a server and its revokers meet.
type feedFlavour int

const (
	// flavourHost is the zero value: this OS's own flavour (hostFlavour).
	flavourHost feedFlavour = iota
	// flavourNone: no feed; Follow fails (the server polls) and Announce
	// finds no listener.
	flavourNone
	// flavourAbstract: a Linux abstract unix socket.
	flavourAbstract
	// flavourSocketFile: a unix socket file in a private per-user folder.
	flavourSocketFile
)

func (f feedFlavour) String() string {
	switch f {
	case flavourNone:
		return "none"
	case flavourAbstract:
		return "abstract"
	case flavourSocketFile:
		return "socket-file"
	default:
		return hostFlavour.String()
	}
}

// errNoFeed: this platform (or this store's setting) has no session feed.
var errNoFeed = errors.New("no session feed on this platform; the server reads the store every --revocation-poll instead")

// feedKey names the meeting point of one server instance on this file: a
// hash of the file's identity and the instance, short enough for a socket
// path (macOS allows 103 bytes).
func (s *Store) feedKey(instanceID string) (string, error) {
	identity, err := fileIdentity(s.path)
	if err != nil {
		return "", fmt.Errorf("the identity of the store file %s: %w", s.path, err)
	}
	sum := sha256.Sum256([]byte(identity + "\x00" + instanceID))
	return hex.EncodeToString(sum[:16]), nil
}

// kind resolves the zero value to this OS's flavour.
func (f *feedServer) kind() feedFlavour {
	if f.flavour == flavourHost {
		return hostFlavour
	}
	return f.flavour
}

type pendingAck struct {
	conn    net.Conn
	version int64
}

// feedServer is the server side: one listener, the announcers waiting for an ack.
type feedServer struct {
	// flavour and dir are set only by tests: the zero values mean this OS's
	// flavour and the default per-user folder for socket files.
	flavour feedFlavour
	dir     string //nolint:unused // read by the socket-file flavour (watch_unix.go); none on Windows

	mu      sync.Mutex
	id      string
	pending []pendingAck
	signals chan ports.FeedSignal
}

// Follow listens for announcements about s until ctx ends.
func (s *Store) Follow(ctx context.Context, sess ports.Session) (<-chan ports.FeedSignal, error) {
	if sess.ID == "" || sess.ServerInstanceID == "" {
		return nil, fmt.Errorf("bolt: follow session: id and server instance are required: %w", ports.ErrInvalidArgument)
	}
	f := &s.feed
	if f.kind() == flavourNone {
		return nil, fmt.Errorf("bolt: follow session %s: %w", sess.ID, errNoFeed)
	}
	key, err := s.feedKey(sess.ServerInstanceID)
	if err != nil {
		return nil, fmt.Errorf("bolt: follow session %s: %w", sess.ID, err)
	}
	ln, err := f.listen(key)
	if err != nil {
		return nil, fmt.Errorf("bolt: follow session %s: listen: %w", sess.ID, err)
	}
	f.mu.Lock()
	f.id = sess.ID
	// Buffered so a signal is never lost while the reader is busy; repeats coalesce.
	f.signals = make(chan ports.FeedSignal, 2)
	signals := f.signals
	f.mu.Unlock()
	signals <- ports.FeedResumed
	go func() {
		<-ctx.Done()
		_ = ln.Close()
	}()
	go func() {
		defer func() {
			f.mu.Lock()
			for _, p := range f.pending {
				_ = p.conn.Close()
			}
			// Late serve goroutines see no session and no channel.
			f.pending, f.id, f.signals = nil, "", nil
			f.mu.Unlock()
			close(signals)
		}()
		for {
			conn, err := ln.Accept()
			if err != nil {
				if ctx.Err() == nil {
					// The listener died: stop the feed; the view polls from now on.
					signals <- ports.FeedLost
				}
				return
			}
			go f.serve(conn)
		}
	}()
	return signals, nil
}

// serve reads one announcement and parks the connection until Ack.
func (f *feedServer) serve(conn net.Conn) {
	if err := checkPeer(conn); err != nil {
		_ = conn.Close()
		return
	}
	_ = conn.SetReadDeadline(time.Now().Add(feedReadTimeout))
	line, err := bufio.NewReaderSize(conn, feedLineMax).ReadString('\n')
	fields := strings.Fields(line)
	if err != nil || len(fields) != 3 || fields[0] != "changed" {
		_ = conn.Close()
		return
	}
	version, err := strconv.ParseInt(fields[2], 10, 64)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil || f.id == "" || fields[1] != f.id || len(f.pending) >= maxPendingAnnouncers {
		_, _ = conn.Write([]byte("err not following that session\n"))
		_ = conn.Close()
		return
	}
	f.pending = append(f.pending, pendingAck{conn: conn, version: version})
	f.signal(ports.FeedChanged)
}

// signal queues s unless the buffer already holds a signal (one pending
// FeedChanged covers every change so far). Callers hold f.mu; a stopped feed
// has a nil channel, which the select skips.
func (f *feedServer) signal(s ports.FeedSignal) {
	select {
	case f.signals <- s:
	default:
	}
}

// Ack answers every announcer whose change is covered by version; later
// announcers keep waiting and ask for another read.
func (s *Store) Ack(_ context.Context, id string, version int64) error {
	f := &s.feed
	f.mu.Lock()
	defer f.mu.Unlock()
	if id == "" || id != f.id {
		return fmt.Errorf("bolt: ack session %s: not following it: %w", id, ports.ErrInvalidArgument)
	}
	kept := f.pending[:0]
	for _, p := range f.pending {
		if p.version > version {
			kept = append(kept, p)
			continue
		}
		_ = p.conn.SetWriteDeadline(time.Now().Add(feedReadTimeout))
		_, _ = fmt.Fprintf(p.conn, "ack %d\n", version)
		_ = p.conn.Close()
	}
	f.pending = kept
	if len(kept) > 0 {
		f.signal(ports.FeedChanged)
	}
	return nil
}

// Announce tells the server following sess about the change and waits for it
// to acknowledge sess.Version, until ctx ends.
func (s *Store) Announce(ctx context.Context, sess ports.Session) error {
	f := &s.feed
	if f.kind() == flavourNone {
		return fmt.Errorf("bolt: announce session %s: %w: %w", sess.ID, errNoFeed, ports.ErrNoListener)
	}
	key, err := s.feedKey(sess.ServerInstanceID)
	if err != nil {
		return fmt.Errorf("bolt: announce session %s: %w", sess.ID, err)
	}
	conn, err := f.dial(ctx, key)
	if err != nil {
		return fmt.Errorf("bolt: announce session %s: %w", sess.ID, err)
	}
	defer func() { _ = conn.Close() }()
	if err := checkPeer(conn); err != nil {
		return fmt.Errorf("bolt: announce session %s: not trusting the listener's answer: %w", sess.ID, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	if _, err := fmt.Fprintf(conn, "changed %s %d\n", sess.ID, sess.Version); err != nil {
		return fmt.Errorf("bolt: announce session %s: %w", sess.ID, err)
	}
	line, err := bufio.NewReaderSize(conn, feedLineMax).ReadString('\n')
	if err != nil {
		var netErr net.Error
		if ctx.Err() != nil || (errors.As(err, &netErr) && netErr.Timeout()) {
			return fmt.Errorf("bolt: announce session %s: no acknowledgement in time: %w", sess.ID, context.DeadlineExceeded)
		}
		return fmt.Errorf("bolt: announce session %s: %w", sess.ID, err)
	}
	fields := strings.Fields(line)
	if len(fields) != 2 || fields[0] != "ack" {
		return fmt.Errorf("bolt: announce session %s: the server answered %q", sess.ID, strings.TrimSpace(line))
	}
	if v, err := strconv.ParseInt(fields[1], 10, 64); err != nil || v < sess.Version {
		return fmt.Errorf("bolt: announce session %s: acknowledged version %s, want %d", sess.ID, fields[1], sess.Version)
	}
	return nil
}
