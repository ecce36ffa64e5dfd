package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// fencedBlocks returns the bodies of the ```lang blocks of a Markdown file.
func fencedBlocks(t *testing.T, path, lang string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var blocks, cur []string
	in, keep := false, false
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case !in && strings.HasPrefix(trimmed, "```"):
			in, keep, cur = true, strings.TrimPrefix(trimmed, "```") == lang, nil
		case in && trimmed == "```":
			in = false
			if keep {
				blocks = append(blocks, strings.Join(cur, "\n"))
			}
		case in:
			cur = append(cur, strings.TrimPrefix(strings.TrimPrefix(line, "   "), " "))
		}
	}
	return blocks
}

// The example session in docs/revocation.md works when copied into a shell:
// start a server, list the sessions, revoke one, see the child's next AWS
// call fail with the revocation message.
func TestDocsRevocationExample(t *testing.T) {
	t.Parallel()
	doc := filepath.Join(repoRoot(t), "docs", "revocation.md")
	script := strings.Join(fencedBlocks(t, doc, "sh"), "\n")
	if !strings.Contains(script, "sentinel server-revoke") || !strings.Contains(script, "sentinel exec --server") {
		t.Fatalf("the doc's shell blocks lost the example:\n%s", script)
	}
	dir := t.TempDir()
	for _, d := range []string{"home", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()
	env := append(goEnv(t), "HOME="+filepath.Join(dir, "home"), "TMPDIR="+filepath.Join(dir, "tmp"), "AWS_EC2_METADATA_DISABLED=true")
	if raceEnabled {
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	// The doc starts "after go tool task quickstart": run it into this sandbox.
	setup := exec.CommandContext(ctx, "bash", filepath.Join(repoRoot(t), "scripts", "quickstart.sh"))
	setup.Dir = repoRoot(t)
	setup.Env = append(env, "SENTINEL_DEMO_DIR="+filepath.Join(dir, ".cache", "quickstart"), "SENTINEL_BIN_DIR="+filepath.Join(dir, "bin"))
	if out, err := setup.CombinedOutput(); err != nil {
		t.Fatalf("quickstart: %v\n%s", err, out)
	}

	cmd := exec.CommandContext(ctx, "bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = dir
	cmd.Env = env
	cmd.WaitDelay = 2 * time.Second
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the example failed: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"STATUS", "active", "revoked session", "laptop stolen"} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	// The output the doc shows has the shape the child really printed.
	refused := regexp.MustCompile(`(?m)^printcreds: .*SessionRevoked: session revoked by \S+ at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ: laptop stolen$`)
	if !refused.MatchString(got) {
		t.Errorf("the child's refusal is not in the output:\n%s", got)
	}
	var shown []string
	for _, b := range fencedBlocks(t, doc, "") {
		if strings.Contains(b, "printcreds:") {
			shown = append(shown, b)
		}
	}
	if len(shown) != 1 || !refused.MatchString(strings.TrimSpace(shown[0])) {
		t.Errorf("docs/revocation.md should show the refusal as printed; found %q", shown)
	}
}
