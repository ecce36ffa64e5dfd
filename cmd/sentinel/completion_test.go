package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sentinel-gw/sentinel/adapters/bolt"
	"github.com/sentinel-gw/sentinel/ports"
)

// complete asks the real binary for completions the way bash's `complete -C`
// does: COMP_LINE is the line, COMP_POINT the cursor (at its end here).
func (s *sandbox) complete(line string, extra map[string]string) []string {
	s.t.Helper()
	env := map[string]string{"COMP_LINE": line, "COMP_POINT": strconv.Itoa(len(line))}
	for k, v := range extra {
		env[k] = v
	}
	r := s.run(env, "sentinel") // bash passes the command name, the word and the word before
	if r.code != 0 || r.stderr != "" {
		s.t.Fatalf("completing %q: %s", line, r)
	}
	return strings.Fields(r.stdout)
}

func TestCompletionProtocol(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	s.writeAWS("[default]\nregion = us-east-1\n[profile prod]\nregion = eu-west-1\n[profile prod-eu]\n[sso-session corp]\n[profile staging]\n",
		"[ci-bot]\naws_access_key_id = "+exampleKeyID+"\n")

	tests := []struct {
		line string
		want []string
	}{
		{"sentinel exec --pro", []string{"--profile"}},
		{"sentinel exec --profile ", []string{"ci-bot", "default", "prod", "prod-eu", "staging"}},
		{"sentinel exec --server --profile pr", []string{"prod", "prod-eu"}},
		{"sentinel credentials --profile st", []string{"staging"}},
		{"sentinel server-sessions --aws-profile ci", []string{"ci-bot"}},
		{"sentinel server-sessions --status ", []string{"active", "all", "expired", "revoked"}},
		{"sentinel server-rev", []string{"server-revoke"}},
		{"sentinel completion ", []string{"bash", "fish", "zsh"}},
		{"sentinel version -o ", []string{"json", "text"}},
	}
	for _, tt := range tests {
		got := s.complete(tt.line, nil)
		slices.Sort(got)
		if !slices.Equal(got, tt.want) {
			t.Errorf("completing %q: got %q, want %q", tt.line, got, tt.want)
		}
	}
	// The cursor counts, not the end of the line.
	line := "sentinel exec --pro --server"
	r := s.run(map[string]string{"COMP_LINE": line, "COMP_POINT": strconv.Itoa(len("sentinel exec --pro"))}, "sentinel")
	if got := strings.Fields(r.stdout); r.code != 0 || !slices.Equal(got, []string{"--profile"}) {
		t.Errorf("completing %q at the cursor after --pro: %s", line, r)
	}
}

// Session ids complete from the embedded store: the active ones only, and
// without creating a store where there is none.
func TestCompletionSessionIDs(t *testing.T) {
	t.Parallel()
	s := newSandbox(t)
	if got := s.complete("sentinel server-revoke ", nil); len(got) != 0 {
		t.Errorf("with no store, completing a session id gave %q", got)
	}
	dbPath := filepath.Join(s.env["XDG_DATA_HOME"], "sentinel", "sentinel.db")
	if _, err := os.Stat(dbPath); err == nil {
		t.Error("completion created the store file")
	}

	now := time.Now().UTC()
	store, err := bolt.Open(dbPath, ports.SystemClock{}, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	active, revoked := "0f8e3c2a9b7d41e6a5c4b3a2f1e0d9c8", "1a2b3c4d5e6f708192a3b4c5d6e7f809"
	for id, status := range map[string]ports.SessionStatus{active: ports.SessionActive, revoked: ports.SessionRevoked} {
		_, err := store.CreateSession(context.Background(), ports.Session{
			ID: id, User: "alice", Profile: "prod", ServerInstanceID: "srv-1", Status: status,
			StartedAt: now, LastAccessAt: now, ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now,
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"sentinel server-revoke ", "sentinel server-revoke --reason stolen 0f", "sentinel server-session "} {
		if got := s.complete(line, nil); !slices.Equal(got, []string{active}) {
			t.Errorf("completing %q: got %q, want the active session %s", line, got, active)
		}
	}
	// --store on the line is the store the command would use.
	other := filepath.Join(s.dir, "other.db")
	if got := s.complete("sentinel --store bolt://"+other+" server-revoke ", nil); len(got) != 0 {
		t.Errorf("completing from an empty --store gave %q", got)
	}
	// A network store is not asked: completion must stay instant.
	if got := s.complete("sentinel server-revoke ", map[string]string{"SENTINEL_STORE": "redis://127.0.0.1:1/0"}); len(got) != 0 {
		t.Errorf("completing with a Redis store gave %q", got)
	}
}

// The scripts `sentinel completion SHELL` prints load in their shell and
// register the completion (bash and zsh through `complete -C`).
func TestCompletionScripts(t *testing.T) {
	t.Parallel()
	for _, shell := range []string{"bash", "zsh", "fish"} {
		e := newCLIEnv(t)
		code, script, stderr := e.run("completion", shell)
		if code != exitOK || stderr != "" || !strings.Contains(script, "sentinel") {
			t.Fatalf("completion %s: exit %d, stderr %q:\n%s", shell, code, stderr, script)
		}
		if _, err := exec.LookPath(shell); err != nil {
			t.Logf("%s is not installed: only its script's output was checked", shell)
			continue
		}
		check := map[string]string{
			"bash": "complete -p sentinel",
			"zsh":  "complete -p sentinel",
			"fish": "complete -c sentinel",
		}[shell]
		cmd := exec.Command(shell, "-c", script+"\n"+check)
		cmd.Env = []string{"HOME=" + t.TempDir(), "PATH=" + os.Getenv("PATH")}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "sentinel") {
			t.Errorf("%s: loading the script and running %q: %v\n%s", shell, check, err, out)
		}
	}
	e := newCLIEnv(t)
	if code, _, stderr := e.run("completion", "powershell"); code != exitUsage || !strings.Contains(stderr, "bash") {
		t.Errorf("completion powershell: exit %d, stderr %q; want a usage error naming the shells", code, stderr)
	}
}
