package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Commands that read or change what is recorded leave no store behind when
// there is none: they say so, and create neither the file nor its folder.
func TestReadingCommandsCreateNoStore(t *testing.T) {
	t.Parallel()
	const id = "0123456789abcdef0123456789abcdef"
	commands := [][]string{
		{"server-sessions"},
		{"server-sessions", "--status", "all", "-o", "json"},
		{"server-session", id},
		// A full id is revoked even with no store (a revoked record is
		// written for the server to read back); a prefix needs the store.
		{"server-revoke", id[:12], "--reason", "test"},
		{"requests"},
		{"request-show", id},
		{"approve", id},
		{"deny", id, "--comment", "no"},
		{"request-cancel", id},
		{"breakglass-list"},
		{"breakglass-show", id},
		{"breakglass-close", id, "--reason", "done"},
	}
	for _, args := range commands {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			e := newCLIEnv(t)
			// approve and deny read the policy before the store.
			policyDir := filepath.Join(e.vars["XDG_CONFIG_HOME"], "sentinel")
			if err := os.MkdirAll(policyDir, 0o700); err != nil {
				t.Fatal(err)
			}
			writeTemp(t, policyDir, "policy.yaml", allowAllPolicy)
			code, stdout, stderr := e.run(append([]string{"--identity-source", "os"}, args...)...)
			if code != exitError {
				t.Errorf("exit code %d, want %d; stdout:\n%s\nstderr:\n%s", code, exitError, stdout, stderr)
			}
			if want := "no store at " + e.defaultStore() + " (nothing recorded there yet)"; !strings.Contains(stderr, want) {
				t.Errorf("stderr lacks %q:\n%s", want, stderr)
			}
			e.assertNoStore(t)
		})
	}
}

// A bad store URL is a bad argument (exit 2), found before exec --server
// does anything.
func TestExecServerBadStoreURL(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	code, _, stderr := e.run("exec", "--server", "--profile", "missing", "--store", "bolt://relative.db", "--", "true")
	if code != exitUsage || !strings.Contains(stderr, "--store") || !strings.Contains(stderr, "not absolute") {
		t.Errorf("exit %d, want %d naming --store and the relative path; stderr:\n%s", code, exitUsage, stderr)
	}
}

// A store that cannot be reached when exec --server starts: the error names
// the store, and offers --no-tracking with its cost.
func TestExecServerUnreachableStoreOffersNoTracking(t *testing.T) {
	t.Parallel()
	sb := newSandbox(t)
	sb.staticProfile("p")
	sb.writePolicy(allowAllPolicy)
	// Port 1 on loopback: nothing listens there, so the dial is refused at once.
	r := sb.run(nil, append(append([]string{"exec", "--server", "--profile", "p", "--store", "redis://127.0.0.1:1"}, sb.offlineFlags()...), "--", "true")...)
	if r.code != exitError {
		t.Fatalf("exit %d, want %d: %s", r.code, exitError, r)
	}
	for _, want := range []string{"cannot reach 127.0.0.1:1", "--no-tracking", "not", "revocable", "server-revoke cannot stop it"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
}
