package bolt

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/sentinel-gw/sentinel/ports"
)

// Environment of the helper process: what it does, on which file and session.
const (
	envHelper = "SENTINEL_BOLT_TEST_HELPER"
	envPath   = "SENTINEL_BOLT_TEST_PATH"
	envID     = "SENTINEL_BOLT_TEST_ID"
)

// TestHelperProcess is not a test: it is the second sentinel process that
// the tests below start by re-running this test binary.
func TestHelperProcess(t *testing.T) {
	mode := os.Getenv(envHelper)
	if mode == "" {
		t.Skip("helper process only")
	}
	if err := runHelper(mode, os.Getenv(envPath), os.Getenv(envID)); err != nil {
		fmt.Fprintln(os.Stderr, "helper:", err)
		os.Exit(2)
	}
	os.Exit(0)
}

func runHelper(mode, path, id string) error {
	switch mode {
	case "revoke": // what `sentinel server-revoke` does
		store, err := Open(path, ports.SystemClock{}, Options{})
		if err != nil {
			return err
		}
		defer store.Close()
		cur, err := store.GetSession(context.Background(), id)
		if err != nil {
			return err
		}
		cur.Status, cur.RevokedBy, cur.RevokedReason = ports.SessionRevoked, "helper", "revoked from another process"
		_, err = store.UpdateSession(context.Background(), cur)
		return err
	case "breakglass": // what `sentinel breakglass` does, for invoker "alice" on profile "prod"
		store, err := Open(path, ports.SystemClock{}, Options{LockTimeout: 30 * time.Second})
		if err != nil {
			return err
		}
		defer store.Close()
		_, err = store.CreateBreakGlass(context.Background(), activeEvent(id, "alice", "prod", farFuture))
		return err
	case "writer": // a busy server: create and revoke sessions until killed, with fsync on
		return runWriter(path)
	case "hold": // hold the lock until stdin closes
		db, err := bbolt.Open(path, 0o600, &bbolt.Options{Timeout: 5 * time.Second})
		if err != nil {
			return err
		}
		defer db.Close()
		fmt.Println("locked")
		_, err = io.Copy(io.Discard, os.Stdin)
		return err
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
}

// helperCommand runs this test binary as the helper process.
func helperCommand(t *testing.T, mode, path, id string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), envHelper+"="+mode, envPath+"="+path, envID+"="+id)
	return cmd
}

func TestRevokeFromAnotherProcessSeenOnNextRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	server := openForTest(t, path, ports.SystemClock{})
	s := activeSession("0123456789abcdef0123456789abcdef", "alice", time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC))
	s.ExpiresAt = time.Time{} // no lease: the system clock must not expire it
	mustCreate(t, server, s)

	// The server keeps serving, from several goroutines, while the other
	// process revokes: none of its reads may fail on the lock, and its
	// overlapping reads must not starve the revoke (they did, before reads
	// were made one at a time per process).
	const readers = 4
	var (
		stop     atomic.Bool
		wg       sync.WaitGroup
		reads    atomic.Int64
		readErrs = make(chan error, readers)
	)
	for range readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stop.Load() {
				if _, err := server.GetSession(t.Context(), s.ID); err != nil {
					readErrs <- err
					return
				}
				reads.Add(1)
			}
		}()
	}
	out, err := helperCommand(t, "revoke", path, s.ID).CombinedOutput()
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("helper process: %v\n%s", err, out)
	}
	select {
	case err := <-readErrs:
		t.Fatalf("read during the other process's revoke: %v", err)
	default:
	}
	if reads.Load() == 0 {
		t.Error("no read ran during the revoke")
	}

	got, err := server.GetSession(t.Context(), s.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != ports.SessionRevoked || got.RevokedBy != "helper" || got.Version != 2 {
		t.Errorf("after the other process revoked: %s by %q v%d, want revoked by helper v2", got.Status, got.RevokedBy, got.Version)
	}
}

func TestLockHeldByAnotherProcessTimesOut(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	const timeout = 300 * time.Millisecond
	store, err := Open(path, ports.SystemClock{}, Options{LockTimeout: timeout, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	cmd := helperCommand(t, "hold", path, "")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Wait() }()
	defer stdin.Close()
	if line, err := bufio.NewReader(stdout).ReadString('\n'); err != nil || line != "locked\n" {
		t.Fatalf("helper did not take the lock: %q, %v", line, err)
	}

	began := time.Now()
	_, err = store.GetSession(t.Context(), "any")
	waited := time.Since(began)
	if !errors.Is(err, ports.ErrUnavailable) {
		t.Fatalf("GetSession while another process holds the file: %v, want ErrUnavailable", err)
	}
	if waited > timeout+time.Second {
		t.Errorf("gave up after %s, want about %s", waited, timeout)
	}

	stdin.Close() // the helper lets go
	if err := cmd.Wait(); err != nil {
		t.Fatalf("helper: %v", err)
	}
	if _, err := store.GetSession(t.Context(), "any"); !errors.Is(err, ports.ErrNotFound) {
		t.Errorf("GetSession after the helper exited: %v, want ErrNotFound", err)
	}
}
