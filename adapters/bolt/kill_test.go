package bolt

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/ports"
)

// writerLease is the lease of the writer's own server session.
const writerLease = time.Minute

// runWriter is the helper process for TestKillDuringWrites: it records its
// own server session, then creates and revokes sessions as fast as it can,
// printing each one only after the call returned, until it is killed.
func runWriter(path string) error {
	store, err := Open(path, ports.SystemClock{}, Options{LockTimeout: 10 * time.Second})
	if err != nil {
		return err
	}
	ctx := context.Background()
	now := time.Now().UTC()
	own := activeSession(randomID(), "server", now)
	own.ExpiresAt = now.Add(writerLease)
	if _, err := store.CreateSession(ctx, own); err != nil {
		return err
	}
	fmt.Println("server", own.ID)
	for {
		s := activeSession(randomID(), "alice", time.Now().UTC())
		s.ExpiresAt = time.Time{}
		created, err := store.CreateSession(ctx, s)
		if err != nil {
			return err
		}
		fmt.Println("created", created.ID)
		created.Status, created.RevokedBy, created.RevokedReason = ports.SessionRevoked, "writer", "test"
		if _, err := store.UpdateSession(ctx, created); err != nil {
			return err
		}
		fmt.Println("revoked", created.ID)
	}
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// kill -9 during heavy writes, 20 times: the file opens afterwards, every
// create and revoke that had returned is there, and the dead server's
// session is expired by the next sweep.
func TestKillDuringWrites(t *testing.T) {
	rounds := 20
	if testing.Short() {
		rounds = 5
	}
	path := filepath.Join(t.TempDir(), "sessions.db")
	var created, revoked int
	for round := range rounds {
		cmd := helperCommand(t, "writer", path, "")
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan string, 1024)
		go func() {
			defer close(lines)
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
		}()
		// Let it get going, then kill it mid-write at a random moment.
		first := <-lines
		n, _ := rand.Int(rand.Reader, big.NewInt(150))
		time.Sleep(time.Duration(20+n.Int64()) * time.Millisecond)
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
		seen := []string{first}
		for l := range lines {
			seen = append(seen, l)
		}

		store, err := Open(path, ports.SystemClock{}, Options{})
		if err != nil {
			t.Fatalf("round %d: the file does not open after kill -9: %v", round, err)
		}
		var serverID string
		for _, l := range seen {
			verb, id, _ := strings.Cut(l, " ")
			got, err := store.GetSession(t.Context(), id)
			if err != nil {
				t.Fatalf("round %d: %s %s had returned, but reading it gives %v", round, verb, id, err)
			}
			switch verb {
			case "server":
				serverID = id
			case "created":
				created++
			case "revoked":
				revoked++
				if got.Status != ports.SessionRevoked {
					t.Fatalf("round %d: the revoke of %s had returned, but it reads %s", round, id, got.Status)
				}
			}
		}
		// The next sweep past the lease expires the dead server's session.
		if _, err := store.ExpireLapsedSessions(t.Context(), time.Now().Add(writerLease+time.Second)); err != nil {
			t.Fatalf("round %d: sweep: %v", round, err)
		}
		if got, err := store.GetSession(t.Context(), serverID); err != nil || got.Status != ports.SessionExpired {
			t.Fatalf("round %d: the dead server's session is %v, %v; want expired", round, got.Status, err)
		}
	}
	t.Logf("%d kills; %d creates and %d revokes that had returned all survived", rounds, created, revoked)
	if created == 0 || revoked == 0 {
		t.Fatal("the writer never completed a write: the test checked nothing")
	}
}
