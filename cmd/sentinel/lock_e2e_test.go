package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/internal/testkit"
	"github.com/sentinel-gw/sentinel/ports"
)

// lockOf runs sentinel lock with args and returns the lock it recorded.
func (s *sandbox) lockOf(args ...string) ports.Lock {
	s.t.Helper()
	r := s.mustRun(append([]string{"lock", "--identity-source", "os", "--output", "json"}, args...)...)
	var l ports.Lock
	if err := json.Unmarshal([]byte(r.stdout), &l); err != nil || l.ID == "" {
		s.t.Fatalf("sentinel lock --output json printed no lock (%v):\n%s", err, r.stdout)
	}
	return l
}

// serverOnce runs exec --server with a child that fetches credentials once.
func (s *sandbox) serverOnce(t *testing.T, profile string) result {
	t.Helper()
	out := filepath.Join(t.TempDir(), "child.json")
	return s.run(map[string]string{childModeEnv: childRetrieve, childOutEnv: out},
		append(append([]string{"exec", "--server", "--profile", profile}, s.offlineFlags()...), "--", childCommand(t))...)
}

// A lock from another process while the child fetches credentials in a
// loop: every request that starts after sentinel lock returns is refused,
// naming who locked and why. A new server is refused at start; unlock lets
// one start again; a --ttl lock ends on its own.
func TestLockEndToEnd(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	sb.staticProfile("dev")
	sb.writePolicy(allowAllPolicy)
	me := osUserName(t)
	requests := filepath.Join(sb.dir, "requests.jsonl")
	arm := filepath.Join(sb.dir, "lock-returned")

	p := sb.start(map[string]string{childModeEnv: childLoop, childOutEnv: requests, childAfterDenialEnv: "50", childMaxEnv: "20s", childArmEnv: arm},
		append(append([]string{"exec", "--server", "--profile", "dev"}, sb.offlineFlags()...), "--", childCommand(t))...)
	sb.waitActiveSession(p, "dev")
	testkit.Eventually(t, 15*time.Second, "20 served requests", func() bool {
		n := 0
		for _, r := range testkit.ReadJSONLines[requestRecord](t, requests) {
			if r.OK {
				n++
			}
		}
		return n >= 20
	})

	lockStarted := time.Now()
	l := sb.lockOf("--user", me, "--reason", "laptop stolen")
	locked := time.Now()
	sb.write(arm, "")
	if r := p.wait(40 * time.Second); r.code != 0 {
		t.Fatalf("sentinel exec (the loop child exits 0): %s", r)
	}
	var ok, refused, startedAfter int
	for _, rec := range testkit.ReadJSONLines[requestRecord](t, requests) {
		after := rec.Start > locked.UnixNano()
		if after {
			startedAfter++
		}
		if rec.OK {
			ok++
			if after {
				t.Errorf("a request started %s after sentinel lock returned and got credentials", time.Duration(rec.Start-locked.UnixNano()))
			}
			continue
		}
		refused++
		if rec.End < lockStarted.UnixNano() {
			t.Errorf("a request was refused before the lock began: %s", rec.Message)
		}
		if !strings.Contains(rec.Message, "user "+me+" is locked by "+me) || !strings.Contains(rec.Message, "laptop stolen") {
			t.Errorf("refusal %q: want it to name the locked user, who locked and why", rec.Message)
		}
	}
	if ok < 20 || startedAfter < 50 {
		t.Errorf("%d served before the lock, %d started after it returned; want at least 20 and 50", ok, startedAfter)
	}
	t.Logf("%d served, %d refused, %d started after the lock returned", ok, refused, startedAfter)

	// A new server is refused before it starts, with the same message.
	r := sb.serverOnce(t, "dev")
	if r.code != 1 || !strings.Contains(r.stderr, "is locked by "+me) || !strings.Contains(r.stderr, l.ID) {
		t.Fatalf("exec --server while locked: want exit 1 naming the lock %s: %s", l.ID, r)
	}
	// So is cli mode.
	if r := sb.run(nil, append(append([]string{"exec", "--profile", "dev"}, sb.offlineFlags()...), "--", "true")...); r.code != 1 || !strings.Contains(r.stderr, "is locked by") {
		t.Errorf("exec (cli mode) while locked: want exit 1 naming the lock: %s", r)
	}

	listed := sb.mustRun("locks")
	if !strings.Contains(listed.stdout, l.ID[:12]) || !strings.Contains(listed.stdout, "active") {
		t.Errorf("sentinel locks does not list the lock %s as active:\n%s", l.ID, listed.stdout)
	}
	if r := sb.mustRun("unlock", l.ID[:10], "--identity-source", "os"); !strings.Contains(r.stdout, "unlocked user "+me) {
		t.Errorf("sentinel unlock: %s", r)
	}
	if r := sb.run(nil, "unlock", l.ID, "--identity-source", "os"); r.code != 1 || !strings.Contains(r.stderr, "already ended") {
		t.Errorf("a second unlock: want exit 1, already ended: %s", r)
	}
	if r := sb.serverOnce(t, "dev"); r.code != 0 {
		t.Fatalf("exec --server after unlock: %s", r)
	}

	// A profile lock with --ttl refuses, then ends on its own.
	ttl := sb.lockOf("--profile", "dev", "--ttl", "2s", "--reason", "freeze")
	if r := sb.serverOnce(t, "dev"); r.code != 1 || !strings.Contains(r.stderr, "profile dev is locked by "+me+" until ") {
		t.Fatalf("exec --server under a --ttl lock: want exit 1 saying until when: %s", r)
	}
	time.Sleep(time.Until(ttl.ExpiresAt))
	if r := sb.serverOnce(t, "dev"); r.code != 0 {
		t.Fatalf("exec --server after the --ttl ran out: %s", r)
	}
	all := sb.mustRun("locks", "--all")
	if !strings.Contains(all.stdout, "ran out") || !strings.Contains(all.stdout, "unlocked") {
		t.Errorf("sentinel locks --all should show one lock unlocked and one run out:\n%s", all.stdout)
	}
}

// Bad lock arguments are usage errors (exit 2) and record nothing.
func TestLockUsageErrors(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	for _, args := range [][]string{
		{"lock", "--reason", "x"},
		{"lock", "--user", "alice", "--profile", "prod", "--reason", "x"},
		{"lock", "--user", "alice", "--reason", " "},
		{"lock", "--user", " ", "--reason", "x"},
		{"lock", "--user", "alice", "--ttl", "-5m", "--reason", "x"},
		{"unlock", "not-an-id"},
	} {
		if r := sb.run(nil, append(args, "--identity-source", "os")...); r.code != 2 {
			t.Errorf("sentinel %v: want exit 2: %s", args, r)
		}
	}
	if r := sb.run(nil, "locks"); r.code != 1 || !strings.Contains(r.stderr, "nothing recorded there yet") {
		t.Errorf("sentinel locks with no store: want exit 1, nothing recorded: %s", r)
	}
}
