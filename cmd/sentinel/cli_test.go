package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sentinel-gw/sentinel/ports"
)

// cliEnv is an in-process environment whose HOME and XDG dirs are a temp dir.
type cliEnv struct {
	dir  string
	vars map[string]string
}

func newCLIEnv(t *testing.T) cliEnv {
	t.Helper()
	dir := t.TempDir()
	return cliEnv{dir: dir, vars: map[string]string{
		"HOME":            filepath.Join(dir, "home"),
		"XDG_DATA_HOME":   filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME": filepath.Join(dir, "config"),
		"XDG_STATE_HOME":  filepath.Join(dir, "state"),
	}}
}

// defaultStore is where the default bolt store would be created.
func (e cliEnv) defaultStore() string {
	return filepath.Join(e.vars["XDG_DATA_HOME"], "sentinel", "sentinel.db")
}

// run calls the CLI in-process.
func (e cliEnv) run(args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	env := &Env{
		Stdin:  strings.NewReader(""),
		Stdout: &out, Stderr: &errOut,
		Getenv: func(k string) string { return e.vars[k] },
		Clock:  ports.SystemClock{},
	}
	code = run(args, env)
	return code, out.String(), errOut.String()
}

func (e cliEnv) assertNoStore(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(e.defaultStore()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the default store file exists (or cannot be checked: %v)", err)
	}
	if _, err := os.Stat(filepath.Dir(e.defaultStore())); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the default store's folder was created (%v)", err)
	}
}

func writeTemp(t *testing.T, dir, name, content string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestCLIBadInput(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     func(dir string) []string
		wantCode int
		// wantErr must all appear on stderr; wantNot must not.
		wantErr []string
		wantNot []string
	}{
		{
			name:     "unknown identity source",
			args:     func(string) []string { return []string{"--identity-source", "bogus", "server-sessions"} },
			wantCode: exitUsage,
			wantErr:  []string{"bogus", `"sts"`, `"os"`},
		},
		{
			name:     "store URL with an unknown scheme",
			args:     func(string) []string { return []string{"server-sessions", "--store", "ftp://example/sessions"} },
			wantCode: exitUsage,
			wantErr:  []string{"accepted forms", "bolt:///", "redis://", "dynamodb://"},
		},
		{
			name:     "relative bolt path",
			args:     func(string) []string { return []string{"server-sessions", "--store", "bolt://sentinel.db"} },
			wantCode: exitUsage,
			wantErr:  []string{"not absolute", "accepted forms"},
		},
		{
			name: "revocation poll above its cap",
			args: func(string) []string {
				return []string{"exec", "--server", "--profile", "dev", "--revocation-poll", "2s", "--", "true"}
			},
			wantCode: exitUsage,
			wantErr:  []string{"--revocation-poll", "1s", "2s"},
		},
		{
			name:     "malformed session id",
			args:     func(string) []string { return []string{"server-revoke", "not-a-session-id", "--reason", "x"} },
			wantCode: exitUsage,
			wantErr:  []string{"not-a-session-id"},
		},
		{
			name:     "policy validate on a missing file",
			args:     func(dir string) []string { return []string{"policy", "validate", dir + "/nope.yaml"} },
			wantCode: exitError,
			wantErr:  []string{"nope.yaml does not exist", "check the path"},
			wantNot:  []string{"--policy", "SENTINEL_POLICY"},
		},
		{
			name: "malformed policy",
			args: func(dir string) []string {
				return []string{"policy", "validate", writeTemp(t, dir, "bad.yaml", "version: \"1\"\nrules:\n  - name: a\n    effect: alow\n")}
			},
			wantCode: exitError,
			wantErr:  []string{"line 4:13", `"alow"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newCLIEnv(t)
			code, _, stderr := e.run(tt.args(e.dir)...)
			if code != tt.wantCode {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.wantCode, stderr)
			}
			for _, want := range tt.wantErr {
				if !strings.Contains(stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr)
				}
			}
			for _, not := range tt.wantNot {
				if strings.Contains(stderr, not) {
					t.Errorf("stderr mentions %q, which does not apply here:\n%s", not, stderr)
				}
			}
			// Nothing here should get as far as the store.
			e.assertNoStore(t)
		})
	}
}

func TestCLIPolicyEvalJSON(t *testing.T) {
	t.Parallel()
	e := newCLIEnv(t)
	policy := writeTemp(t, e.dir, "policy.yaml", `version: "1"
rules:
  - name: deny-root
    effect: deny
    conditions:
      profiles: [root]
  - name: prod-server
    effect: require_server
    conditions:
      profiles: [prod]
    reason: prod through the server
    max_server_duration: 20m
`)
	code, stdout, stderr := e.run("policy", "eval", "--policy", policy, "--profile", "prod", "--user", "alice", "--mode", "cli", "--output", "json")
	if code != exitOK {
		t.Fatalf("exit code %d: %s", code, stderr)
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(stdout), &got); err != nil {
		t.Fatalf("output is not a JSON object: %v\n%s", err, stdout)
	}
	for _, key := range []string{"effect", "rule_effect", "rule", "rule_index", "reason", "max_server_duration", "requires_server_mode", "requires_session_tracking"} {
		if _, ok := got[key]; !ok {
			t.Errorf("key %q missing from %s", key, stdout)
		}
	}
	// The values are the decision's, not placeholders.
	if got["effect"] != "deny" || got["rule_effect"] != "require_server" || got["rule"] != "prod-server" ||
		got["rule_index"] != float64(1) || got["max_server_duration"] != "20m0s" || got["requires_server_mode"] != true ||
		got["requires_session_tracking"] != false {
		t.Errorf("decision %s: want a cli-mode deny by prod-server (index 1, 20m0s) requiring server mode", stdout)
	}
	e.assertNoStore(t)
}

// --help and version open nothing: no store file appears.
func TestCLIHelpAndVersionOpenNothing(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args     []string
		wantOut  string
		wantCode int
	}{
		{[]string{"--help"}, "Usage: sentinel", exitOK},
		{[]string{"exec", "--help"}, "sentinel exec --server --profile prod", exitOK},
		{[]string{"server-sessions", "--help"}, "--status", exitOK},
		{[]string{"server-revoke", "--help"}, "--reason", exitOK},
		{[]string{"version"}, "sentinel " + currentVersion().Version + "\n", exitOK},
		{[]string{"--version"}, "sentinel " + currentVersion().Version + "\n", exitOK},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			t.Parallel()
			e := newCLIEnv(t)
			code, stdout, stderr := e.run(tt.args...)
			if code != tt.wantCode || !strings.Contains(stdout, tt.wantOut) {
				t.Errorf("exit %d, want %d with %q on stdout; stdout:\n%s\nstderr:\n%s", code, tt.wantCode, tt.wantOut, stdout, stderr)
			}
			e.assertNoStore(t)
		})
	}
}
