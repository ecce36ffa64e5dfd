package faults

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue #11.2: the server opened the bbolt file through a symlink and
// server-revoke names the real path. Both must meet on one feed (it is named
// after the file, not the path given), so the revoke is confirmed and no
// request that starts after the command returns is served.
func TestBoltRevokeByAnotherPathToTheFile(t *testing.T) {
	sb := newSandbox(t)
	real := filepath.Join(sb.dir, "data", "sentinel.db")
	link := filepath.Join(sb.dir, "link.db")
	sb.store = "bolt://" + real
	sb.mustRun("store", "init")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}

	sb.store = "bolt://" + link
	ls := sb.startLoadServer(serverOptions{name: "symlink", workers: 4,
		flags: []string{"--profile", "dev", "--no-session", "--identity-source", "os"}})
	ls.waitServed(t, time.Time{}, 200, 20, commandTimeout)

	sb.store = "bolt://" + real
	revoke := sb.start(nil, "server-revoke", ls.session, "--reason", "fault test: revoked by the real path")
	r := revoke.wait(commandTimeout)
	returned := revoke.exitedAt
	if r.code != 0 {
		t.Fatalf("server-revoke: %s", r)
	}
	if !strings.Contains(r.stderr, "confirmed") {
		t.Errorf("server-revoke said %q, want the running server's confirmation", r.stderr)
	}
	ls.waitServed(t, returned, 403, 20, 10*time.Second)
	ls.askStop(t)

	after := cut(ls.requests(t), "after server-revoke returned", returned, time.Now())
	t.Logf("%s", after.summary())
	if n := after.counts()[200]; n > 0 {
		t.Errorf("%d request(s) that started after server-revoke returned were served", n)
	}
}
