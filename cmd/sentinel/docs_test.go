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

	"github.com/alecthomas/kong"

	"github.com/sentinel-gw/sentinel/internal/e2e"
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
	if e2e.Race {
		env = append(env, "GORACE=atexit_sleep_ms=0")
	}
	// The doc starts "after bash scripts/quickstart.sh": run it into this sandbox.
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

// docsEnv is a fixed environment, so the defaults in the help text are the
// same on every machine.
func docsEnv(stdout *bytes.Buffer) *Env {
	vars := map[string]string{"HOME": "/home/you"}
	return &Env{Stdout: stdout, Stderr: stdout, Getenv: func(k string) string { return vars[k] }, Clock: nil}
}

// docsParser is the CLI's parser in the fixed environment of docsEnv, its
// output discarded: for walking the command model or parsing without running.
func docsParser(t *testing.T) *kong.Kong {
	t.Helper()
	var cli CLI
	parser, err := newParser(&cli, docsEnv(&bytes.Buffer{}))
	if err != nil {
		t.Fatal(err)
	}
	return parser
}

// commandsDoc renders docs/commands.md from the CLI's own help, so the
// reference cannot drift from the code.
func commandsDoc(t *testing.T) string {
	t.Helper()
	parser := docsParser(t)
	help := func(args ...string) string {
		var out bytes.Buffer
		if code := run(append(args, "--help"), docsEnv(&out)); code != 0 {
			t.Fatalf("%v --help exited %d: %s", args, code, out.String())
		}
		return strings.TrimRight(out.String(), "\n")
	}
	var b strings.Builder
	b.WriteString(`# Commands

Generated from the CLI's own ` + "`--help`" + ` by ` + "`TestDocsCommands`" + ` in ` + "`cmd/sentinel`" + `
(regenerate with ` + "`SENTINEL_UPDATE_DOCS=1 go test ./cmd/sentinel -run TestDocsCommands`" + `).
Defaults shown for a user whose home is ` + "`/home/you`" + `.

Exit codes are the same for every command: 0 ok, 1 error, 2 usage (a bad flag or argument);
` + "`sentinel exec`" + ` exits with its child's code: 126/127 when the child cannot be started, 128+N when signal N
killed it (137 when it ignored SIGTERM and was killed after ` + "`--term-grace`" + `).
Errors go to stderr and say what to do next.

## Environment variables

| variable | flag it sets |
|---|---|
| ` + "`SENTINEL_STORE`" + ` | ` + "`--store`" + `: the session store URL (see [stores.md](stores.md)) |
| ` + "`SENTINEL_POLICY`" + ` | ` + "`--policy`" + `: the policy file (see [policy-reference.md](policy-reference.md)) |
| ` + "`SENTINEL_IDENTITY_SOURCE`" + ` | ` + "`--identity-source`" + `: ` + "`sts`" + ` or ` + "`os`" + ` |
| ` + "`SENTINEL_LOG_FILE`" + ` | ` + "`--log-file`" + `: the decision log |
| ` + "`AWS_CONFIG_FILE`, `AWS_SHARED_CREDENTIALS_FILE`" + ` | where profiles are read from |
| ` + "`AWS_ENDPOINT_URL_STS`" + ` | the STS endpoint (standard AWS override) |
| ` + "`SENTINEL_CPU_PROFILE`" + ` | diagnostics: a file that receives a CPU profile of a ` + "`sentinel exec` or `sentinel serve`" + ` run |

## sentinel

` + "```text\n" + help() + "\n```\n")
	for _, node := range parser.Model.Leaves(true) {
		path := strings.Fields(node.Path())
		b.WriteString("\n## sentinel " + strings.Join(path, " ") + "\n\n```text\n" + help(path...) + "\n```\n")
	}
	return b.String()
}

// checkGenerated fails t unless the checked-in file at rel (from the
// repository root) is want; with SENTINEL_UPDATE_DOCS set it writes want first.
func checkGenerated(t *testing.T, rel, want, test string) {
	t.Helper()
	path := filepath.Join(repoRoot(t), rel)
	if os.Getenv("SENTINEL_UPDATE_DOCS") != "" {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != want {
		t.Fatalf("%s is out of date with the CLI: run SENTINEL_UPDATE_DOCS=1 go test ./cmd/sentinel -run %s", filepath.ToSlash(rel), test)
	}
}

func TestDocsCommands(t *testing.T) {
	t.Setenv("COLUMNS", "80") // kong wraps help to COLUMNS
	want := commandsDoc(t)
	checkGenerated(t, filepath.Join("docs", "commands.md"), want, "TestDocsCommands")
	for _, example := range []string{"Example", "sentinel server-revoke", "sentinel exec --server"} {
		if !strings.Contains(want, example) {
			t.Errorf("docs/commands.md lacks %q", example)
		}
	}
}

// Every command's --help carries an example.
func TestEveryCommandHasAnExample(t *testing.T) {
	parser := docsParser(t)
	for _, node := range parser.Model.Leaves(true) {
		var out bytes.Buffer
		run(append(strings.Fields(node.Path()), "--help"), docsEnv(&out))
		if !strings.Contains(out.String(), "sentinel ") || !strings.Contains(strings.ToLower(out.String()), "example") {
			t.Errorf("sentinel %s --help has no example:\n%s", node.Path(), out.String())
		}
	}
}
